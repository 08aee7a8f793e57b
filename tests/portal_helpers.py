"""Data of the portal's tests (tests/portal), shared with their conftest."""
import numpy as np

BIG_POINTS = 1_000_000
BIG_START = 1_600_000_000
HOSTILE = "<script>alert(1)</script>"
RETAIN = {"count": "infinity", "duration": "infinity"}


def big_values():
    """The big dataport's points: a wave with spikes (known extremes)."""
    ts = np.arange(BIG_START, BIG_START + BIG_POINTS, dtype=np.int64)
    vals = np.round(20 + 5 * np.sin(np.arange(BIG_POINTS) / 5000.0), 3)
    vals[123_457] = 99.5
    vals[876_543] = -42.25
    return ts, vals
