"""Column operations of bulk ingest: one chunk of one dataport at a time.

A column is a pair (timestamps, values) of equal length: timestamps int64,
values int64 ("int"), float64 ("float") or a list of str ("string"). Two
twins implement the same operations with identical results: `NumpyColumns`
(vectorised; used when NumPy is installed) and `PythonColumns` (array/list;
the fallback, and the reference the tests hold NumPy's results equal to).

The checksum lets `--verify` compare what the server stores with the input
without keeping the input: the sum modulo 2**64 of a 64-bit mix of each
point's timestamp and value bits. A sum does not depend on order, and
replacing a point is one subtraction and one addition.
"""
import hashlib
import math
import struct
from array import array

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB


def mix64(x):
    """splitmix64's finaliser on a Python int (0 <= x < 2**64)."""
    x ^= x >> 30
    x = (x * MIX1) & MASK64
    x ^= x >> 27
    x = (x * MIX2) & MASK64
    return x ^ (x >> 31)


def value_bits(value, kind):
    """64 bits standing for one value of a dataport of `kind`."""
    if kind == "float":
        return struct.unpack("<Q", struct.pack("<d", float(value)))[0]
    if kind == "int":
        return int(value) & MASK64
    return int.from_bytes(hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest(), "little")


def point_hash(ts, value, kind):
    return mix64((((ts & MASK64) * GOLDEN) & MASK64) ^ value_bits(value, kind))


class PythonColumns:
    """The pure-Python twin: timestamps array('q'), values array('q'/'d') or list."""

    name = "python"

    @staticmethod
    def timestamps(seq):
        return seq if isinstance(seq, array) and seq.typecode == "q" else array("q", seq)

    @staticmethod
    def values(seq, kind):
        if kind == "string":
            return list(seq)
        code = "q" if kind == "int" else "d"
        return seq if isinstance(seq, array) and seq.typecode == code else array(code, seq)

    @staticmethod
    def first_nonfinite(values):
        """Index of the first NaN or infinity, or -1."""
        for i, v in enumerate(values):
            if not math.isfinite(v):
                return i
        return -1

    @staticmethod
    def is_strictly_increasing(ts):
        return all(a < b for a, b in zip(ts, ts[1:]))

    @classmethod
    def sort_dedupe(cls, ts, values):
        """Sort by time; at equal timestamps the later point in input order
        wins (as the server does). Returns (ts, values, replaced) where
        replaced lists the timestamps that had more than one point, once per
        dropped point."""
        order = sorted(range(len(ts)), key=ts.__getitem__)  # stable
        keep = [i for n, i in enumerate(order) if n + 1 == len(order) or ts[order[n + 1]] != ts[i]]
        replaced = [ts[i] for n, i in enumerate(order) if n + 1 < len(order) and ts[order[n + 1]] == ts[i]]
        new_values = [values[i] for i in keep]
        if isinstance(values, array):
            new_values = array(values.typecode, new_values)
        return array("q", (ts[i] for i in keep)), new_values, replaced

    @staticmethod
    def checksum(ts, values, kind):
        total = 0
        for t, v in zip(ts, values):
            total += point_hash(t, v, kind)
        return total & MASK64


class NumpyColumns:
    """The vectorised twin: NumPy int64/float64 arrays (strings stay a list)."""

    name = "numpy"

    def __init__(self, np):
        self.np = np

    def timestamps(self, seq):
        np = self.np
        if isinstance(seq, np.ndarray) and seq.dtype == np.int64:
            return seq
        return np.asarray(seq, dtype=np.int64)

    def values(self, seq, kind):
        np = self.np
        if kind == "string":
            return list(seq)
        dtype = np.int64 if kind == "int" else np.float64
        if isinstance(seq, np.ndarray) and seq.dtype == dtype:
            return seq
        return np.asarray(seq, dtype=dtype)

    def first_nonfinite(self, values):
        bad = ~self.np.isfinite(values)
        return int(bad.argmax()) if bad.any() else -1

    def is_strictly_increasing(self, ts):
        return bool((ts[1:] > ts[:-1]).all())

    def sort_dedupe(self, ts, values):
        np = self.np
        order = np.argsort(ts, kind="stable")
        ts_sorted = ts[order]
        last_of_run = np.ones(len(ts_sorted), dtype=bool)
        last_of_run[:-1] = ts_sorted[1:] != ts_sorted[:-1]
        keep = order[last_of_run]
        replaced = ts_sorted[~last_of_run].tolist()
        if isinstance(values, list):
            new_values = [values[i] for i in keep.tolist()]
        else:
            new_values = values[keep]
        return ts[keep], new_values, replaced

    def checksum(self, ts, values, kind):
        np = self.np
        if kind == "string":
            return PythonColumns.checksum(ts.tolist(), values, kind)
        with np.errstate(over="ignore"):
            bits = values.view(np.uint64) if kind == "float" else values.astype(np.int64).view(np.uint64)
            x = (ts.view(np.uint64) * np.uint64(GOLDEN)) ^ bits
            x ^= x >> np.uint64(30)
            x *= np.uint64(MIX1)
            x ^= x >> np.uint64(27)
            x *= np.uint64(MIX2)
            x ^= x >> np.uint64(31)
            return int(x.sum(dtype=np.uint64))


def _pick():
    try:
        import numpy
    except ImportError:
        return PythonColumns()
    return NumpyColumns(numpy)


COLUMNS = _pick()
