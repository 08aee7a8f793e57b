"""Series and SeriesBuffer: C == Python == what orjson reads back."""
import datetime
import json
import math
import struct
import subprocess
import sys
import threading
from array import array

import numpy as np
import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pyonep_fast import _core
from pyonep_fast._core import series as core_series
from pyonep_fast._core.series import CSeries, CSeriesBuffer, PySeries, PySeriesBuffer
from pyonep_fast.exceptions import CoreError, EncodeError

BACKENDS = [CSeries, PySeries]
BUFFERS = [CSeriesBuffer, PySeriesBuffer]
INT64 = st.integers(-2**63, 2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def exact(items):
    """Floats by bit pattern, so -0.0 != 0.0 and every bit counts."""
    if isinstance(items, float):
        return ("f", bits(items))
    if isinstance(items, (list, tuple)):
        return [exact(item) for item in items]
    if isinstance(items, dict):
        return {key: exact(value) for key, value in items.items()}
    return items


def error_code(call, *args, **kwargs):
    with pytest.raises(CoreError) as info:
        call(*args, **kwargs)
    return info.value.code


def both(kind, timestamps, values):
    pair = [backend(kind) for backend in BACKENDS]
    for s in pair:
        s.append(timestamps, values)
    return pair


def iso_ms(t, ticks_per_second):
    """The M2X text of a time, from the standard library's own conversion."""
    seconds, sub = divmod(t, ticks_per_second)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + ".%03dZ" % (sub * 1000 // ticks_per_second)


# ---------- encoding, differential ----------

@given(st.lists(st.tuples(INT64, FLOATS), max_size=60), st.booleans())
def test_float_entries_equal_and_read_back_bit_exact(points, descending):
    timestamps, values = [t for t, _ in points], [v for _, v in points]
    c, py = both("float", timestamps, values)
    body = c.encode_entries(descending=descending)
    assert body == py.encode_entries(descending=descending)
    expected = [[t, v] for t, v in points]
    assert exact(orjson.loads(body)) == exact(expected[::-1] if descending else expected)
    assert len(body) <= c.encoded_size() == py.encoded_size()


@given(st.lists(st.tuples(INT64, INT64), max_size=60), st.booleans())
def test_int_entries_equal_and_read_back(points, descending):
    c, py = both("int", [t for t, _ in points], [v for _, v in points])
    body = c.encode_entries(descending=descending)
    assert body == py.encode_entries(descending=descending)
    expected = [list(p) for p in points]
    assert orjson.loads(body) == (expected[::-1] if descending else expected)
    assert len(body) <= c.encoded_size() == py.encoded_size()


@given(st.lists(st.tuples(INT64, st.text(max_size=12)), max_size=30), st.booleans())
@example([(1, "\x00\x1f\"\\\n\u2028😀")], False)
def test_string_entries_equal_and_read_back(points, descending):
    c, py = both("string", [t for t, _ in points], [v for _, v in points])
    body = c.encode_entries(descending=descending)
    assert body == py.encode_entries(descending=descending)
    expected = [list(p) for p in points]
    assert orjson.loads(body) == (expected[::-1] if descending else expected)
    assert c.encoded_size() == py.encoded_size()
    assert c.values() == py.values() == [v for _, v in points]


@pytest.mark.parametrize("descending", [False, True])
def test_entries_of_steady_timestamps(descending):
    # consecutive timestamps share their leading digits (the C encoder
    # formats those once per change): cross every kind of boundary
    runs = [range(-5, 5), range(9990, 10010), range(19990, 20010), range(99990, 100020, 3),
            range(99999990, 100000010), range(1419999990, 1420000030, 7),
            range(2**63 - 25, 2**63), range(-2**63, -2**63 + 5), range(10**15 - 3, 10**15 + 3)]
    timestamps = [t for run in runs for t in run] + [10000, 9999, 10000, 123456789, 10000]
    values = [float(i) / 7 for i in range(len(timestamps))]
    c, py = both("float", timestamps, values)
    body = c.encode_entries(descending=descending)
    assert body == py.encode_entries(descending=descending)
    points = [[t, v] for t, v in zip(timestamps, values)]
    assert body == json.dumps(points[::-1] if descending else points, separators=(",", ":")).encode()


@pytest.mark.parametrize("descending", [False, True])
def test_float_entries_of_every_length_and_layout(descending):
    # 1 to 17 significant digits at decimal exponents -8..21 (fixed,
    # integer, 0.000ddd and scientific layouts), in batches whose first
    # value is long (the C encoder then skips its short-decimal check for
    # the batch) and in batches whose first value is short
    rng = np.random.default_rng(17)
    values = []
    for length in range(1, 18):
        for exponent in range(-8, 22):
            for _ in range(3):
                digits = int(rng.integers(10 ** (length - 1), 10**length))
                values.append(float(f"{digits}e{exponent - length + 1}"))
    values += [2.0**e for e in range(-1074, 1024, 7)] + [5e-324, 1.7976931348623157e308, 0.0, -0.0]
    values += [-v for v in values[::5]]
    long_first = [v for chunk in range(0, len(values), 63) for v in [0.1 + 0.2] + values[chunk:chunk + 63]]
    for series_values in (values, long_first):
        timestamps = list(range(len(series_values)))
        c, py = both("float", timestamps, series_values)
        body = c.encode_entries(descending=descending)
        assert body == py.encode_entries(descending=descending)
        points = [[t, v] for t, v in zip(timestamps, series_values)]
        assert body == json.dumps(points[::-1] if descending else points, separators=(",", ":")).encode()


@given(st.data())
def test_entry_ranges_match_slices(data):
    points = data.draw(st.lists(st.tuples(INT64, FLOATS), min_size=1, max_size=30))
    first = data.draw(st.integers(0, len(points)))
    n = data.draw(st.integers(0, len(points) - first))
    descending = data.draw(st.booleans())
    c, py = both("float", [t for t, _ in points], [v for _, v in points])
    body = c.encode_entries(first, n, descending)
    assert body == py.encode_entries(first, n, descending)
    chosen = [list(p) for p in points[first:first + n]]
    assert exact(orjson.loads(body)) == exact(chosen[::-1] if descending else chosen)


# years 0001..9999 in milliseconds
M2X_MS = st.integers(-62135596800000, 253402300799999)


@given(st.lists(st.tuples(M2X_MS, FLOATS), max_size=20), st.sampled_from([1, 1000, 1000000]))
def test_m2x_values_equal_and_match_datetime(points, ticks_per_second):
    # the same instants expressed in each unit (seconds lose the sub-second part)
    timestamps = [t * ticks_per_second // 1000 for t, _ in points]
    values = [v for _, v in points]
    c, py = both("float", timestamps, values)
    body = c.encode_m2x(ticks_per_second=ticks_per_second)
    assert body == py.encode_m2x(ticks_per_second=ticks_per_second)
    decoded = orjson.loads(body)
    assert [item["timestamp"] for item in decoded] == [iso_ms(t, ticks_per_second) for t in timestamps]
    assert exact([item["value"] for item in decoded]) == exact(values)
    assert all(list(item) == ["timestamp", "value"] for item in decoded)


@given(st.lists(st.tuples(M2X_MS, st.one_of(INT64, st.text(max_size=6))), max_size=15))
def test_m2x_int_and_string_values_equal(points):
    for kind, accepted in (("int", int), ("string", str)):
        chosen = [(t, v) for t, v in points if isinstance(v, accepted)]
        c, py = both(kind, [t for t, _ in chosen], [v for _, v in chosen])
        body = c.encode_m2x(ticks_per_second=1000)
        assert body == py.encode_m2x(ticks_per_second=1000)
        assert [item["value"] for item in orjson.loads(body)] == [v for _, v in chosen]


@pytest.mark.parametrize("backend", BACKENDS)
def test_m2x_text_rounds_toward_the_past(backend):
    s = backend("int")
    s.append([1423960423422, -1, -1001, 1500, -62135596800000, 253402300799999], [1, 2, 3, 4, 5, 6])
    assert s.encode_m2x(ticks_per_second=1000) == (
        b'[{"timestamp":"2015-02-15T00:33:43.422Z","value":1},'
        b'{"timestamp":"1969-12-31T23:59:59.999Z","value":2},'
        b'{"timestamp":"1969-12-31T23:59:58.999Z","value":3},'
        b'{"timestamp":"1970-01-01T00:00:01.500Z","value":4},'
        b'{"timestamp":"0001-01-01T00:00:00.000Z","value":5},'
        b'{"timestamp":"9999-12-31T23:59:59.999Z","value":6}]')
    micro = backend("string")
    micro.append([-1, 1999999], ["a", "b"])
    assert micro.encode_m2x(ticks_per_second=1000000) == (
        b'[{"timestamp":"1969-12-31T23:59:59.999Z","value":"a"},'
        b'{"timestamp":"1970-01-01T00:00:01.999Z","value":"b"}]')


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("t,ticks_per_second", [
    (-62135596801, 1), (253402300800, 1), (-62135596800001, 1000), (253402300800000, 1000),
    (-2**63, 1), (2**63 - 1, 1), (-2**63, 1000), (2**63 - 1, 1000000),
])
def test_m2x_refuses_years_outside_1_to_9999(backend, t, ticks_per_second):
    s = backend("int")
    s.append([0, t], [1, 2])
    assert error_code(s.encode_m2x, ticks_per_second=ticks_per_second) == _core.ERANGE
    assert s.encode_m2x(0, 1, ticks_per_second=ticks_per_second).startswith(b'[{"timestamp":"1970-01-01T')


@pytest.mark.parametrize("backend", BACKENDS)
def test_m2x_options_and_ranges(backend):
    s = backend("float")
    s.append([1, 2], [0.5, 1.5])
    for bad in (0, 10, 1000.0, True, "1000", None):
        assert error_code(s.encode_m2x, ticks_per_second=bad) == _core.EARG
    assert error_code(s.encode_m2x, 3, 0) == _core.ERANGE
    assert error_code(s.encode_m2x, 1, 2) == _core.ERANGE
    assert s.encode_m2x(2, 0) == b"[]"
    assert s.encode_m2x(1) == b'[{"timestamp":"1970-01-01T00:00:02.000Z","value":1.5}]'


# ---------- appending ----------

@pytest.mark.parametrize("backend", BACKENDS)
def test_append_accepts_scalars_sequences_and_buffers(backend):
    s = backend("float")
    s.append(1, 0.5)
    s.append(2, 7)  # ints are welcome in a float series
    s.append([3, 4], (1.25, 2))
    s.append(array("q", [5, 6]), array("d", [3.5, -0.0]))
    s.append(np.array([7, 8], dtype=np.int64), np.array([4.5, 5.5]))
    s.append(np.array([9], dtype=np.int32), np.array([6.5], dtype=np.float32))
    s.append(np.array([10], dtype=np.uint8), np.array([7], dtype=np.int16))
    s.append(np.arange(11, 17, dtype=np.int64)[::2], np.arange(6, dtype=np.float64)[::2])  # strided
    s.append(np.int64(20), np.float64(9.5))
    s.append(iter([21]), (x for x in [10.5]))
    s.append([], [])
    assert list(s.timestamps()) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 20, 21]
    assert exact(list(s.values())) == exact([0.5, 7.0, 1.25, 2.0, 3.5, -0.0, 4.5, 5.5, 6.5, 7.0, 0.0, 2.0, 4.0,
                                             9.5, 10.5])
    i = backend("int")
    i.append([1, 2, 3], [2**63 - 1, -2**63, np.int64(5)])
    i.append(np.array([4], dtype=np.uint64), np.array([6], dtype=np.int8))
    assert list(i.values()) == [2**63 - 1, -2**63, 5, 6]
    t = backend("string")
    t.append(1, "one")
    t.append([2, 3], ["", "три"])
    t.append(np.array([4]), np.array(["four"]))
    assert t.values() == ["one", "", "три", "four"]
    assert list(t.timestamps()) == [1, 2, 3, 4]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,timestamps,values,code", [
    ("int", [1], [1.5], _core.ETYPE),
    ("int", [1], [True], _core.ETYPE),
    ("int", 1, False, _core.ETYPE),
    ("int", [1], np.array([1.0]), _core.ETYPE),
    ("int", [1], np.array([True]), _core.ETYPE),
    ("int", [1], ["1"], _core.ETYPE),
    ("int", [1], "1", _core.EARG),
    ("int", [1], [2**63], _core.ERANGE),
    ("int", [1], np.array([2**64 - 1], dtype=np.uint64), _core.ERANGE),
    ("int", [1.0], [1], _core.ETYPE),
    ("int", [True], [1], _core.ETYPE),
    ("int", [1, 2], [1], _core.EARG),
    ("int", 1, [1], _core.EARG),
    ("int", [1], 1, _core.EARG),
    ("int", np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1), dtype=np.int64), _core.EARG),
    ("int", [1], np.array([1], dtype=">i8"), _core.ETYPE),
    ("int", [1], 5, _core.EARG),
    ("int", [1], None, _core.ETYPE),
    ("float", [1], [math.nan], _core.ENONFINITE),
    ("float", [1, 2], [1.0, math.inf], _core.ENONFINITE),
    ("float", 1, -math.inf, _core.ENONFINITE),
    ("float", [1], [True], _core.ETYPE),
    ("float", [1], np.array([1], dtype=np.int64), _core.ETYPE),  # not exact for every int64
    ("float", [1], [10**400], _core.ERANGE),
    ("float", [1], ["1.5"], _core.ETYPE),
    ("float", [1], b"x", _core.EARG),
    ("string", [1], [b"bytes"], _core.ETYPE),
    ("string", [1], [None], _core.ETYPE),
    ("string", [1], ["\ud800"], _core.EUTF8),
    ("string", 1, "lone \udc00", _core.EUTF8),
    ("string", [1], "abc", _core.EARG),
])
def test_append_errors_append_nothing(backend, kind, timestamps, values, code):
    s = backend(kind)
    s.append(0, {"int": 0, "float": 0.0, "string": "z"}[kind])
    before = s.encode_entries()
    assert error_code(s.append, timestamps, values) == code
    assert s.encode_entries() == before and len(s) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_kind(backend):
    assert error_code(backend, "double") == _core.EARG


def test_numpy_is_not_imported_by_the_core():
    code = ("import sys; from pyonep_fast._core.series import CSeries, PySeries, SeriesBuffer;"
            "[S('float').append([1, 2], [1.5, 2.5]) for S in (CSeries, PySeries)];"
            "assert 'numpy' not in sys.modules, 'numpy imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------- dropping, sizes, readers ----------

OPS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.lists(st.tuples(INT64, st.text(max_size=5)), max_size=8)),
    st.tuples(st.just("drop"), st.integers(0, 10)),
), max_size=25)


@given(OPS)
def test_drops_and_appends_interleaved_match_a_list(ops):
    c, py = CSeries("string"), PySeries("string")
    model = []
    for op, arg in ops:
        if op == "append":
            for s in (c, py):
                s.append([t for t, _ in arg], [v for _, v in arg])
            model += arg
        elif arg <= len(model):
            c.drop_front(arg)
            py.drop_front(arg)
            del model[:arg]
        else:
            assert error_code(c.drop_front, arg) == error_code(py.drop_front, arg) == _core.ERANGE
        assert len(c) == len(py) == len(model)
        assert c.encoded_size() == py.encoded_size()
    assert c.encode_entries() == py.encode_entries()
    assert orjson.loads(c.encode_entries()) == [list(p) for p in model]
    assert list(c.timestamps()) == [t for t, _ in model]
    assert c.values() == py.values() == [v for _, v in model]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,value", [("int", 7), ("float", 0.25), ("string", "é")])
def test_many_small_drops_keep_order(backend, kind, value):
    s = backend(kind)
    s.append(list(range(1000)), [value] * 1000)
    for step in range(0, 990, 10):
        s.drop_front(10)
        s.append(1000 + step, value)
        assert s.timestamps()[0] == step + 10
    assert list(s.timestamps()) == list(range(990, 1000)) + list(range(1000, 1990, 10))
    assert len(s.values()) == len(s) == 109


@pytest.mark.parametrize("backend", BACKENDS)
def test_sizes_bound_the_encoding(backend):
    s = backend("float")
    assert s.encoded_size() == 2 and s.encode_entries() == b"[]" and s.points_within(2) == 0
    s.append([-2**63] * 3, [-1.7976931348623157e308, -2.2250738585072014e-308, 5e-324])
    assert len(s.encode_entries()) <= s.encoded_size() == 2 + 3 * 48
    assert s.points_within(2 + 2 * 48) == 2
    assert s.points_within(1) == 0 and s.points_within(10**9) == 3
    t = backend("string")
    t.append([1, 2], ["\x00" * 10, "ab"])
    assert t.encoded_size() == 2 + 24 * 2 + 62 + 4
    assert t.points_within(2 + 24 + 62) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_point_range_errors(backend):
    s = backend("int")
    s.append([1, 2, 3], [4, 5, 6])
    assert error_code(s.encode_entries, -1) == _core.ERANGE
    assert error_code(s.encode_entries, 0, 4) == _core.ERANGE
    assert error_code(s.encode_entries, 4) == _core.ERANGE
    assert error_code(s.encode_entries, 1.0) == _core.ETYPE
    assert error_code(s.drop_front, -1) == _core.ERANGE
    assert error_code(s.drop_front, 4) == _core.ERANGE
    assert s.encode_entries(1, 1) == b"[[2,5]]" and s.encode_entries(3) == b"[]"
    s.drop_front(3)
    assert len(s) == 0 and s.values() == array("q") and s.encode_entries() == b"[]"


def test_c_series_guards():
    ffi, lib = _core.native()
    assert lib.pf_series_new(0) == ffi.NULL and lib.pf_series_new(4) == ffi.NULL
    s = ffi.gc(lib.pf_series_new(lib.PF_VALUE_STRING), lib.pf_series_free)
    out = ffi.gc(lib.pf_buf_new(0), lib.pf_buf_free)
    ts = ffi.new("int64_t[]", [1, 2])
    assert lib.pf_series_append_string(s, ts, b"abc", ffi.new("uint64_t[]", [2, 1]), 2) == _core.EARG
    for invalid in (b"a\xc3", b"a\xed\xa0\x80", b"\xf4\x90\x80\x80"):
        ends = ffi.new("uint64_t[]", [1, len(invalid)])
        assert lib.pf_series_append_string(s, ts, invalid, ends, 2) == _core.EUTF8
    # a code point split between two points is invalid in both
    assert lib.pf_series_append_string(s, ts, "é".encode(), ffi.new("uint64_t[]", [1, 2]), 2) == _core.EUTF8
    assert lib.pf_series_append_string(s, ts, ffi.NULL, ffi.new("uint64_t[]", [0, 1]), 2) == _core.EARG
    assert lib.pf_series_append_int(s, ts, ffi.new("int64_t[]", [1, 2]), 2) == _core.ETYPE
    assert lib.pf_series_append_string(s, ts, b"ab", ffi.new("uint64_t[]", [1, 2]), 2) == _core.OK
    assert lib.pf_series_len(s) == 2
    assert lib.pf_series_append_int(ffi.NULL, ts, ts, 1) == _core.EARG
    assert lib.pf_series_encode_entries(ffi.NULL, 0, 0, 0, out) == _core.EARG
    assert lib.pf_series_encode_entries(s, 0, 0, 0, ffi.NULL) == _core.EARG
    assert lib.pf_series_encode_entries(s, 1, 2, 0, out) == _core.ERANGE
    assert lib.pf_series_encode_entries(s, 2**64 - 1, 2, 0, out) == _core.ERANGE
    assert lib.pf_series_encode_m2x(s, 0, 2, 60, out) == _core.EARG
    assert lib.pf_series_drop_front(ffi.NULL, 0) == _core.EARG
    assert lib.pf_series_kind(ffi.NULL) == _core.EARG and lib.pf_series_kind(s) == lib.PF_VALUE_STRING
    assert lib.pf_series_ints(s) == ffi.NULL and lib.pf_series_floats(s) == ffi.NULL
    assert lib.pf_buf_len(out) == 0
    ints = ffi.gc(lib.pf_series_new(lib.PF_VALUE_INT), lib.pf_series_free)
    assert lib.pf_series_append_int(ints, ts, ts, 2**62) == _core.ETOOBIG  # refused before reading
    assert lib.pf_series_len(ints) == 0
    lib.pf_series_free(ffi.NULL)


# ---------- SeriesBuffer ----------

@pytest.mark.parametrize("buffer_class", BUFFERS)
def test_buffer_is_due_by_count_then_take_and_ack(buffer_class):
    buf = buffer_class(kind_of="int", max_points=3, max_age=3600)
    assert buf.append("temp", [1, 2], [10, 20]) == []
    assert buf.due() == []
    assert buf.append("temp", 3, 30) == ["temp"]
    assert buf.append("other", 1, 5) == []
    assert buf.due() == ["temp"]
    body, count = buf.take("temp")
    assert (body, count) == (b"[[1,10],[2,20],[3,30]]", 3)
    # a failed store acknowledges nothing: the same points come again
    assert buf.take("temp") == (body, count)
    buf.append("temp", 4, 40)
    assert buf.take("temp", max_points=2) == (b"[[1,10],[2,20]]", 2)
    buf.ack("temp", 2)
    assert buf.take("temp") == (b"[[3,30],[4,40]]", 2)
    assert buf.pending() == (2, 3, 2 + 44 * 2 + 2 + 44)
    buf.ack("temp", 2)
    assert buf.take("temp") == (b"[]", 0)
    assert buf.pending().resources == 1


@pytest.mark.parametrize("buffer_class", BUFFERS)
def test_buffer_is_due_by_bytes_and_bodies_stay_within_them(buffer_class):
    buf = buffer_class(kind_of="float", max_points=1000, max_bytes=2 + 48 * 4, max_age=3600)
    assert buf.append("rid", [1, 2, 3], [0.1, 0.2, 0.3]) == []
    assert buf.append("rid", [4, 5], [0.4, 0.5]) == ["rid"]
    assert buf.take("rid") == (b"[[1,0.1],[2,0.2],[3,0.3],[4,0.4]]", 4)
    strings = buffer_class(kind_of="string", max_bytes=100)
    strings.append("s", [1, 2], ["x" * 500, "y"])  # a point larger than max_bytes goes alone
    assert strings.take("s") == (b'[[1,"' + b"x" * 500 + b'"]]', 1)


@pytest.mark.parametrize("buffer_class", BUFFERS)
def test_buffer_age_counts_from_the_oldest_unacknowledged_append(buffer_class):
    buf = buffer_class(max_age=5.0)
    assert buf.append(("alias", 1), [1, 2], [1.0, 2.0]) == []
    first = core_series.time.monotonic()
    assert buf.due(now=first - 1) == []
    assert buf.due(now=first + 5.0) == [("alias", 1)]
    buf.append(("alias", 1), 3, 3.0)
    second = core_series.time.monotonic()
    buf.ack(("alias", 1), 1)  # the first append is not fully acknowledged yet
    assert buf.due(now=first + 5.0) == [("alias", 1)]
    buf.ack(("alias", 1), 1)  # now the second append is the oldest
    assert buf.due(now=second + 4.9) == []
    assert buf.due(now=second + 5.0) == [("alias", 1)]
    buf.ack(("alias", 1), 1)
    assert buf.due(now=second + 100) == [] and buf.pending() == (0, 0, 0)


@pytest.mark.parametrize("buffer_class", BUFFERS)
def test_buffer_kinds_and_errors(buffer_class):
    kinds = {"t": "float", "n": "int", "s": "string"}
    buf = buffer_class(kind_of=kinds.__getitem__)
    buf.append("t", 1, 1.5)
    buf.append("n", 1, 2)
    buf.append("s", 1, "three")
    assert error_code(buf.append, "n", 2, 2.5) == _core.ETYPE
    assert buf.take("n") == (b"[[1,2]]", 1)
    assert buf.take("s") == (b'[[1,"three"]]', 1)
    assert error_code(buf.ack, "n", 2) == _core.ERANGE
    assert error_code(buf.ack, "unknown", 1) == _core.ERANGE
    buf.ack("unknown", 0)
    assert error_code(buf.take, "t", 0) == _core.EARG
    assert buf.pending() == (3, 3, 3 * 2 + 48 + 44 + 24 + 7)
    assert error_code(buffer_class, kind_of="double") == _core.EARG
    assert error_code(buffer_class, max_points=0) == _core.EARG
    assert error_code(buffer_class, max_bytes=True) == _core.ETYPE
    assert error_code(buffer_class, max_age=-1) == _core.EARG
    bad_kind = buffer_class(kind_of=lambda resource: "complex")
    assert error_code(bad_kind.append, "x", 1, 1) == _core.EARG
    assert bad_kind.pending() == (0, 0, 0)


@pytest.mark.parametrize("buffer_class", BUFFERS)
def test_buffer_threads_lose_nothing(buffer_class):
    buf = buffer_class(kind_of="int", max_points=10**9, max_age=3600)
    flushed = {r: [] for r in range(4)}
    stop = threading.Event()

    def producer(worker):
        for i in range(200):
            buf.append(i % 4, [worker * 1000 + i], [i])

    def flusher():
        while not stop.is_set() or buf.pending().points:
            for resource in range(4):
                body, count = buf.take(resource, max_points=7)
                if count:
                    flushed[resource] += orjson.loads(body)
                    buf.ack(resource, count)

    threads = [threading.Thread(target=producer, args=(w,)) for w in range(4)]
    drain = threading.Thread(target=flusher)
    drain.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    drain.join(timeout=60)
    assert not drain.is_alive()
    got = sorted(ts for points in flushed.values() for ts, _ in points)
    assert got == sorted(w * 1000 + i for w in range(4) for i in range(200))


def test_public_names_follow_impl():
    if _core.backend == "c":
        assert core_series.Series is CSeries and core_series.SeriesBuffer is CSeriesBuffer
    else:
        assert core_series.Series is PySeries and core_series.SeriesBuffer is PySeriesBuffer


def test_encode_error_is_an_encode_error():
    with pytest.raises(EncodeError):
        CSeries("float").append(1, math.nan)
