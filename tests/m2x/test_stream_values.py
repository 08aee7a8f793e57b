"""The server's stream values (server/m2x/values.py) on a real Store:
timestamp parsing against the reference parser, and stats with per-chunk
aggregates against NumPy over the points, through writes that append,
overwrite and delete."""
import contextlib
import datetime

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast.server import Store
from pyonep_fast.server.m2x import values
from pyonep_fast.server.m2x.storage import ALPHANUMERIC, NUMERIC
from pyonep_fast.server.storage import Columns

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@given(st.lists(st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31)),
                min_size=1, max_size=30), st.sampled_from([3, 6]))
def test_canonical_times_parse_like_the_reference(moments, digits):
    texts = [f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
             + f"{m.microsecond:06d}"[:digits] + "Z" for m in moments]
    body = orjson.dumps([{"timestamp": text, "value": 1} for text in texts])
    parsed = values.value_list(body, (0, len(body)), None)
    expected = sorted({values.parse_time(text) for text in texts})
    assert np.frombuffer(parsed.columns.ts, np.int64).tolist() == expected
    assert sorted({values.iso(ms) for ms in expected}) == sorted({text[:23] + "Z" for text in texts})


def test_a_value_list_names_its_first_refused_value():
    body = orjson.dumps([{"timestamp": "2015-01-01T00:00:00.000Z", "value": 1},
                         {"timestamp": "2015-01-01T00:00:00+01:00", "value": "x"},
                         {"timestamp": "2015-02-30T00:00:00.000Z", "value": 2}])
    assert values.value_list(body, (0, len(body)), NUMERIC).problem == (1, "value")
    created = values.value_list(body, (0, len(body)), None)     # a new stream: alphanumeric
    assert (created.kind, created.problem) == (ALPHANUMERIC, (2, "timestamp"))


@contextlib.contextmanager
def stream_state():
    """(state, stream) on a fresh in-memory Store."""
    store = Store()
    state = store.m2x
    account, _ = state.create_account()
    device = state.create_device(account["id"], {"name": "d", "visibility": "private"})
    stream, _ = state.put_stream(device, "s", {})
    try:
        yield state, stream
    finally:
        store.close()


def reference_stats(state, stream, start, end):
    ms, column = values.select(state.series(stream), start, end)
    if not len(ms):
        return {"count": 0.0, "min": None, "max": None, "avg": None, "stddev": None}
    return {"count": float(len(column)), "min": float(column.min()), "max": float(column.max()),
            "avg": pytest.approx(float(column.mean())), "stddev": pytest.approx(float(column.std()), abs=1e-6)}


writes = st.lists(st.tuples(st.sampled_from(["append", "overwrite", "delete", "single"]),
                            st.integers(0, 200_000), st.integers(1, 5000)), min_size=1, max_size=8)


@given(operations=writes, window=st.tuples(st.integers(-10, 210_000), st.integers(0, 220_000)))
def test_stats_with_chunk_aggregates_match_the_points(operations, window):
    with stream_state() as (state, stream):
        check_stats(state, stream, operations, window)


def check_stats(state, stream, operations, window):
    series = state.series(stream)
    for operation, at, count in operations:
        if operation == "delete":
            series.delete_between(at - 1, at + count)
            continue
        if operation == "single":
            count = 1
        ms = np.arange(at, at + count, dtype=np.int64) * (1 if operation == "overwrite" else 7)
        state.store_columns(stream, Columns(NUMERIC, ms.tobytes(), np.sin(ms).tobytes()))
        state.stats(stream, values.MIN_MS, values.MAX_MS)  # fills the cache between writes
    start, end = min(window), max(window)
    assert state.stats(stream, start, end) == reference_stats(state, stream, start, end)
    assert state.stats(stream, values.MIN_MS, values.MAX_MS) == \
        reference_stats(state, stream, values.MIN_MS, values.MAX_MS)
