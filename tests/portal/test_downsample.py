"""The portal's chart data against brute force over the same points, on a
real series of the storage (chunks, summaries, edges cut through chunks)."""
import asyncio

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast.server.portal.downsample import BLOCK, SUMMARY_FACTOR, Summaries, chart
from pyonep_fast.server.storage import Storage
from pyonep_fast.server.storage.timeseries import CHUNK_MAX, KIND_FLOAT, KIND_INT, KIND_STRING, Columns


def stored(kind, ts, vals, pieces=1):
    """A series holding the points, stored in `pieces` calls (more chunks)."""
    storage = Storage(":memory:")
    series = storage.series.allocate("test", kind)
    for part in np.array_split(np.arange(len(ts)), pieces):
        if len(part):
            with storage.atomic():
                series.store(Columns(kind, ts[part].tobytes(), vals[part].tobytes()))
    storage.commit()
    return storage, series


def charted(series, start, end, width, summaries=None):
    return asyncio.run(chart(summaries or Summaries(), series, start, end, width))


def per_column(ts, vals, start, end, width):
    """{column: (min, max)} by brute force."""
    columns = {}
    for t, v in zip(ts.tolist(), vals.tolist()):
        if start <= t <= end:
            column = int((t - start) * width // (end - start + 1))
            low, high = columns.get(column, (v, v))
            columns[column] = (min(low, v), max(high, v))
    return columns


@given(st.integers(1, BLOCK * SUMMARY_FACTOR - 1), st.integers(0, 2**32), st.integers(1, 64), st.integers(1, 5),
       st.data())
def test_min_max_per_column_is_the_points_own(n, seed, width, pieces, data):
    """Fewer points than make summaries worth it: each column's extremes exactly."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.choice(10**6, n, replace=False)).astype(np.int64)
    vals = rng.integers(-10**6, 10**6, n, dtype=np.int64)
    start = data.draw(st.integers(0, 10**6))
    end = data.draw(st.integers(start, 10**6))
    storage, series = stored(KIND_INT, ts, vals, pieces)
    answer = charted(series, start, end, width)
    storage.close()
    inside = (ts >= start) & (ts <= end)
    assert answer["count"] == int(inside.sum())
    stored_points = dict(zip(ts.tolist(), vals.tolist()))
    assert all(stored_points[t] == v for t, v in zip(answer["t"], answer["v"]))
    assert answer["t"] == sorted(answer["t"]) and len(answer["t"]) <= max(2 * width, answer["count"])
    if answer["count"] <= 2 * width:
        assert answer["t"] == ts[inside].tolist() and answer["v"] == vals[inside].tolist()
        return
    expected = per_column(ts, vals, start, end, width)
    shown = per_column(np.array(answer["t"]), np.array(answer["v"]), start, end, width)
    assert shown == expected


def test_summaries_keep_each_columns_extremes_and_follow_rewrites():
    n = 4 * CHUNK_MAX
    ts = np.arange(10_000, 10_000 + n, dtype=np.int64)
    vals = np.sin(np.arange(n) / 700.0)
    storage, series = stored(KIND_FLOAT, ts, vals)
    width = 40                                   # n / width >= BLOCK * SUMMARY_FACTOR: summaries
    assert n // width >= BLOCK * SUMMARY_FACTOR
    summaries = Summaries()
    start, end = int(ts[0]), int(ts[-1])
    first = charted(series, start, end, width, summaries)
    assert first["count"] == n and not first["exact"]
    assert max(first["v"]) == vals.max() and min(first["v"]) == vals.min()
    # each column's extremes are shown, moved by less than a block at most
    span = end - start + 1
    slack = BLOCK * span // n + 1
    shown_t, shown_v = np.array(first["t"]), np.array(first["v"])
    for column, (low, high) in per_column(ts, vals, start, end, width).items():
        lo_t, hi_t = start + column * span // width, start + (column + 1) * span // width - 1
        near = (shown_t >= lo_t - slack) & (shown_t <= hi_t + slack)
        assert shown_v[near].max() >= high and shown_v[near].min() <= low

    spike = 1000 + 2 * CHUNK_MAX        # rewritten inside a summarised chunk: a new Chunk, a new summary
    with storage.atomic():
        series.store(Columns(KIND_FLOAT, ts[spike:spike + 1].tobytes(), np.array([7.5]).tobytes()))
    again = charted(series, start, end, width, summaries)
    assert max(again["v"]) == 7.5 and int(ts[spike]) in again["t"]
    storage.close()


def test_a_string_series_has_no_chart():
    storage = Storage(":memory:")
    series = storage.series.allocate("test", KIND_STRING)
    with pytest.raises(ValueError):
        charted(series, 0, 10, 10)
    storage.close()
