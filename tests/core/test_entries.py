"""Entries: C == Python column for column (floats bit for bit), both equal to
a plain model over json.loads, hostile text is a DecodeError from both."""
import json
import math
import random
import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast import _core
from pyonep_fast._core import entries as entries_module
from pyonep_fast._core.entries import (ENTRY_INVALID, INVALID, MAX_STRING_BYTES, VALUE_FLOAT, VALUE_INT,
                                       VALUE_STRING, CEntries, PyEntries, convert_value)
from pyonep_fast.exceptions import CoreError, DecodeError

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
PORTS = ("int", "float", "string")


def bits(values):
    """Floats as exact bit patterns (so -0.0 != 0.0 and every ulp counts)."""
    return [struct.pack("<d", v) for v in values]


def snapshot(cls, text, span=None, port=None, now=0, max_string_bytes=MAX_STRING_BYTES):
    """[count, len, ts, kinds, ints, floats, strings] after parse, then with
    a port [normalized count, invalid, len, ts, kinds, ints, floats, strings]."""
    entries = cls()
    try:
        count = entries.parse(text, span)
        views = [count]
        steps = [None] if port is None else [None, port]
        for step in steps:
            if step is not None:
                views.append(entries.normalize(step, now, max_string_bytes))
                views.append(entries.invalid())
                assert entries.invalid_count() == len(views[-1])
            views += [len(entries), list(entries.timestamps()), list(entries.kinds()), list(entries.ints()),
                      bits(entries.floats()), entries.strings()]
        return views
    except CoreError as exc:
        return ("error", exc.code)


def both(text, span=None, port=None, now=0, max_string_bytes=MAX_STRING_BYTES):
    c_view = snapshot(CEntries, text, span, port, now, max_string_bytes)
    py_view = snapshot(PyEntries, text, span, port, now, max_string_bytes)
    assert c_view == py_view, (text[:200], port, c_view, py_view)
    return c_view


def model_rows(text):
    """(kind, t, has_time, value) per element, read with json.loads."""
    rows = []
    for item in json.loads(text):
        t = item[0] if type(item) is list and item else None
        if type(t) is not int or not INT64_MIN <= t <= INT64_MAX:
            rows.append((ENTRY_INVALID, 0, 0, None))
            continue
        row = (ENTRY_INVALID, t, 1, None)
        if len(item) == 2:
            value = item[1]
            if type(value) is int and INT64_MIN <= value <= INT64_MAX:
                row = (VALUE_INT, t, 1, value)
            elif type(value) in (int, float):
                try:
                    value = float(value)
                except OverflowError:
                    value = math.inf
                if not math.isinf(value):
                    row = (VALUE_FLOAT, t, 1, value)
            elif type(value) is str:
                row = (VALUE_STRING, t, 1, value)
        rows.append(row)
    return rows


def columns(rows):
    return [len(rows), [r[1] for r in rows], [r[0] for r in rows],
            [r[3] if r[0] == VALUE_INT else 0 for r in rows],
            bits([r[3] if r[0] == VALUE_FLOAT else 0.0 for r in rows]),
            [r[3] if r[0] == VALUE_STRING else None for r in rows]]


def model(text, port, now, max_string_bytes=MAX_STRING_BYTES):
    rows = model_rows(text)
    kept, invalid = {}, []
    for kind, t, has_time, value in rows:
        when = now + t if t < 0 else t
        converted = INVALID
        if kind != ENTRY_INVALID and 0 <= when <= INT64_MAX:     # a relative t may not land before the epoch
            converted = convert_value(port, value, max_string_bytes)
        if converted is INVALID:
            invalid.append(t if has_time else None)
        else:
            kept.pop(when, None)
            kept[when] = converted          # the last of equal t's wins
    normalized = [(entries_module.PORT_KINDS[port], t, 1, kept[t]) for t in sorted(kept)]
    return [len(rows)] + columns(rows) + [len(normalized), invalid] + columns(normalized)


# Entries as JSON text: mostly [t, v], with every kind of invalid element,
# relative and out-of-range times, and values of every type.
timestamps = st.integers(-1000, 2000) | st.sampled_from([0, -1, INT64_MIN, INT64_MAX, 1421906172])
number_texts = st.sampled_from([
    "1e400", "-1e400", "123456789012345678901234567890", "18446744073709551616", "9223372036854775808",
    "-9223372036854775809", "-0", "-0.0", "0.1", "1E+2", "4.9406564584124654e-324", "2.4703282292062327e-324",
    "1.7976931348623157e308", "1.7976931348623159e308", "9007199254740993", "1e-400", "0.000001e7",
])
values = (st.integers(INT64_MIN, INT64_MAX) | st.integers(-(1 << 70), 1 << 70) | st.floats(allow_nan=False, allow_infinity=False)
          | st.text(max_size=10) | st.sampled_from(["007", "-0", " 1", "1.5", "1e400", "", "+1", "9223372036854775808",
                                                     "-9223372036854775808", "0x10", "\u0661", "1.", "2E-3"])
          | st.none() | st.booleans() | st.lists(st.integers(), max_size=2))


@st.composite
def entry_texts(draw):
    parts = []
    for _ in range(draw(st.integers(0, 20))):
        shape = draw(st.sampled_from(["pair"] * 6 + ["raw", "float_t", "one", "three", "other", "empty"]))
        t = json.dumps(draw(timestamps))
        if shape == "pair":
            parts.append("[%s, %s]" % (t, json.dumps(draw(values), ensure_ascii=draw(st.booleans()))))
        elif shape == "raw":
            parts.append("[%s,%s]" % (t, draw(number_texts)))
        elif shape == "float_t":
            parts.append("[%s, 1]" % draw(st.sampled_from(["1.5e9", "1e400", "99999999999999999999", '"5"', "null"])))
        elif shape == "one":
            parts.append("[%s]" % t)
        elif shape == "three":
            parts.append("[%s, 1, 2]" % t)
        elif shape == "other":
            parts.append(json.dumps(draw(values)))
        else:
            parts.append("[ ]")
    separator = draw(st.sampled_from([",", ", ", " ,\n"]))
    return ("[" + separator.join(parts) + "]").encode()


@given(entry_texts(), st.sampled_from(PORTS), st.integers(-10, 10**10) | st.sampled_from([INT64_MIN + 5, INT64_MAX]),
       st.sampled_from([MAX_STRING_BYTES, 3, 0]))
def test_c_python_and_model_agree(text, port, now, max_string_bytes):
    assert both(text) == model(text, port, now)[:7]
    assert both(text, port=port, now=now, max_string_bytes=max_string_bytes) == \
        model(text, port, now, max_string_bytes)


@given(entry_texts(), st.binary(max_size=8), st.binary(max_size=8))
def test_span_inside_a_bigger_body(text, before, after):
    body = b'{"calls":[{"arguments":[{"alias":"a"},' + text + b"]}]}"
    start = body.index(text)
    assert both(body, (start, len(text)), port="string") == both(text, port="string")
    assert both(before + text + after, (len(before), len(text))) == both(text)


@given(entry_texts(), st.data())
def test_truncated_and_mutated_text(text, data):
    stride = 1 + len(text) // 150
    for cut in sorted(set(range(0, len(text), stride)) | set(range(max(0, len(text) - 10), len(text)))):
        assert both(text[:cut]) == ("error", _core.ETRUNCATED)
        assert both(text, (0, cut)) == ("error", _core.ETRUNCATED)
    i = data.draw(st.integers(0, len(text) - 1))
    both(text[:i] + bytes([data.draw(st.integers(0, 255))]) + text[i + 1:], port=data.draw(st.sampled_from(PORTS)))
    both(text[:i] + text[i + 1:])


TOKENS = [b"[", b"]", b",", b"1", b"-", b"0", b".", b"e", b'"a"', b'"\\u00e9"', b'"\\ud800"', b"\xc3", b" ",
          b"true", b"{}", b'{"a":[1]}', b"1e400", b"[1,2]", b"[-5,\"x\"]"]


@given(st.lists(st.sampled_from(TOKENS), max_size=30).map(b"".join) | st.binary(max_size=40), st.sampled_from(PORTS))
def test_garbage_gets_the_same_verdict(text, port):
    both(text, port=port)


def test_float_conversion_is_correctly_rounded():
    hard = ["9007199254740993", "9007199254740993.0000000000000001", "2.2250738585072011e-308",
            "2.2250738585072014e-308", "1.7976931348623157e308", "1.7976931348623158e308",
            "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
            "0.1000000000000000055511151231257827021181583404541015625", "1" + "0" * 400 + "e-400",
            "0." + "0" * 400 + "1e400", "123456789012345678901234567890e-40", "7.2057594037927933e16",
            "1e23", "8.589973e9", "179769313486231580793728971405301e276", "5e-324", "1e-323", "1e22", "1e-22",
            "123456789012345.0e22", "12345678901234567e-5", "-0.0e5", "0e99999999999999999999",
            "1e-99999999999999999999", "0.5e-323"]
    rng = random.Random(5)
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40))).lstrip("0") or "0"
        point = rng.randint(0, len(digits))
        mantissa = digits[:point] + ("." + digits[point:] if point < len(digits) else "")
        hard.append("%s%se%d" % (rng.choice(["", "-"]), mantissa if not mantissa.startswith(".") else "0" + mantissa,
                                 rng.randint(-360, 330)))
    text = ("[" + ",".join("[%d,%s]" % (k, literal) for k, literal in enumerate(hard)) + "]").encode()
    view = both(text)
    # Integer literals within int64 are INT entries; every other number is
    # the double float() reads, or invalid when that is infinite.
    integers = {k: int(literal) for k, literal in enumerate(hard)
                if re.fullmatch(r"-?(0|[1-9][0-9]*)", literal) and INT64_MIN <= int(literal) <= INT64_MAX}
    expected = [float(literal) for literal in hard]
    kinds = [VALUE_INT if k in integers else ENTRY_INVALID if math.isinf(v) else VALUE_FLOAT
             for k, v in enumerate(expected)]
    assert view[3] == kinds
    assert view[5] == bits([v if kind == VALUE_FLOAT else 0.0 for v, kind in zip(expected, kinds)])
    assert view[4] == [integers.get(k, 0) for k in range(len(hard))]
    finite = [v for v in expected if not math.isinf(v)]
    # The same numbers as strings for a float port, and as text for a string port.
    quoted = ("[" + ",".join('[%d,"%s"]' % (k, literal) for k, literal in enumerate(hard)) + "]").encode()
    assert both(quoted, port="float")[-2] == bits(finite)
    assert both(text, port="string")[-1] == [str(integers[k]) if k in integers else repr(v)
                                             for k, v in enumerate(expected) if not math.isinf(v)]


@pytest.mark.parametrize("port,value,expected", [
    ("int", 5, 5), ("int", -0, 0), ("int", INT64_MAX, INT64_MAX), ("int", INT64_MAX + 1, INVALID),
    ("int", 5.0, INVALID), ("int", True, INVALID), ("int", None, INVALID), ("int", [1], INVALID),
    ("int", "007", 7), ("int", "-0", 0), ("int", "-9223372036854775808", INT64_MIN),
    ("int", "9223372036854775808", INVALID), ("int", "0" * 5000 + "12", 12), ("int", "+1", INVALID),
    ("int", "", INVALID), ("int", "-", INVALID), ("int", " 1", INVALID), ("int", "1\n", INVALID),
    ("int", "\u0661", INVALID), ("int", "1.0", INVALID),
    ("float", 5, 5.0), ("float", 1 << 70, float(1 << 70)), ("float", 10 ** 400, INVALID), ("float", 2.5, 2.5),
    ("float", math.inf, INVALID), ("float", math.nan, INVALID), ("float", "0", 0.0), ("float", "-0", -0.0),
    ("float", "1e400", INVALID), ("float", "1e-400", 0.0), ("float", "2E-3", 0.002), ("float", "1.", INVALID),
    ("float", ".5", INVALID), ("float", "01", INVALID), ("float", " 1", INVALID), ("float", "0x10", INVALID),
    ("float", "nan", INVALID), ("float", "Infinity", INVALID), ("float", "1_0", INVALID), ("float", False, INVALID),
    ("string", "abc", "abc"), ("string", "", ""), ("string", 5, "5"), ("string", -(1 << 63), "-9223372036854775808"),
    ("string", 1 << 64, "1.8446744073709552e+19"), ("string", 1e16, "1e+16"), ("string", 0.1, "0.1"),
    ("string", -0.0, "-0.0"), ("string", math.inf, INVALID), ("string", None, INVALID), ("string", {}, INVALID),
    ("string", "\ud800", INVALID), ("string", "x" * MAX_STRING_BYTES, "x" * MAX_STRING_BYTES),
    ("string", "é" * (MAX_STRING_BYTES // 2 + 1), INVALID), ("string", True, INVALID),
])
def test_convert_value_rules(port, value, expected):
    result = convert_value(port, value)
    assert result is expected if expected is INVALID else (result == expected and type(result) is type(expected))
    if isinstance(expected, float):
        assert bits([result]) == bits([expected])
    # The C path reads the same value from JSON text and agrees.
    try:
        literal = json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, UnicodeEncodeError):
        return      # NaN/inf and lone surrogates have no JSON text here
    view = both(b"[[1," + literal + b"]]", port=port)
    if expected is INVALID:
        assert view[-6] == 0
    else:
        assert view[-6] == 1 and view[-1 if port == "string" else -3 if port == "int" else -2] == \
            ([expected] if port != "float" else bits([expected]))


@given(st.lists(st.integers(-10**6, -1), unique=True, max_size=20).map(sorted),
       st.lists(st.integers(10**6 + 2, 10**12), unique=True, max_size=20).map(sorted), st.sampled_from(PORTS),
       st.data())
def test_batches_already_in_order_and_typed(relative, absolute, port, data):
    """The in-place path: every value already fits the port, times strictly
    increasing once resolved (the relative ones resolve to 1 .. 10**6)."""
    times = relative + absolute
    kind_values = {"int": st.integers(INT64_MIN, INT64_MAX),
                   "float": st.integers(INT64_MIN, INT64_MAX) | st.floats(allow_nan=False, allow_infinity=False),
                   "string": st.text(max_size=6)}[port]
    pairs = [[t, data.draw(kind_values)] for t in times]
    text = json.dumps(pairs).encode()
    now = 10**6 + 1
    assert both(text, port=port, now=now) == model(text, port, now)
    # One entry out of order, or one value of another kind, takes the general path.
    if len(pairs) > 1:
        swapped = pairs[1:2] + pairs[:1] + pairs[2:]
        assert both(json.dumps(swapped).encode(), port=port, now=now) == model(json.dumps(swapped).encode(), port, now)
    odd = json.dumps(pairs + [[10**13, "x" if port != "string" else 5]]).encode()
    assert both(odd, port=port, now=now) == model(odd, port, now)


def test_rules_of_time():
    text = b"[[-5, 1], [0, 2], [10, 3], [-20, 4], [10, 5], [1.5e9, 6], [99999999999999999999, 7], [5, 8]]"
    view = both(text, port="int", now=100)
    count, invalid, length, ts, kinds, ints = view[7:13]
    assert count == 5 and invalid == [None, None]
    assert ts == [0, 5, 10, 80, 95] and ints == [2, 8, 5, 4, 1]       # t=10 twice: the later wins
    assert kinds == [VALUE_INT] * 5
    # Relative times that overflow int64 are invalid, with t as given.
    view = both(b"[[-10, 1], [3, 2]]", port="int", now=INT64_MIN + 5)
    assert view[8] == [-10] and view[10] == [3]


def test_sorting_is_stable_and_keeps_the_last_of_equal_times():
    rng = random.Random(7)
    pairs = [[rng.randint(0, 2000), k] for k in range(20000)]
    text = json.dumps(pairs).encode()
    view = both(text, port="int")
    latest = {}
    for t, k in pairs:
        latest[t] = k
    assert view[10] == sorted(latest) and view[12] == [latest[t] for t in sorted(latest)]
    descending = json.dumps([[100000 - k, k] for k in range(5000)]).encode()
    assert both(descending, port="float")[10] == list(range(95001, 100001))


def test_strings_unescaped_and_limited_in_utf8_bytes():
    text = '[[1, "a\\"b\\\\c\\n\\u00e9\\ud83d\\ude00"], [2, "ééé"], [3, "é\\u00e9"], [4, "\u20ac"]]'.encode()
    view = both(text, port="string", max_string_bytes=4)
    assert view[6] == ['a"b\\c\né\U0001F600', "ééé", "éé", "€"]
    assert view[8] == [1, 2] and view[-1] == ["éé", "€"]


def test_errors_match_jscan():
    cases = {b"": _core.ETRUNCATED, b"[": _core.ETRUNCATED, b"[[1,2]": _core.ETRUNCATED, b"[[1,2],]": _core.ESYNTAX,
             b'{"a": 1}': _core.ETYPE, b"5": _core.ETYPE, b"[[1,2]] x": _core.ESYNTAX, b'[[1,"\\ud800"]]': _core.ESYNTAX,
             b"[[1,01]]": _core.ESYNTAX, b"[[1,2,]]": _core.ESYNTAX, b"[[1 2]]": _core.ESYNTAX,
             b"[[1,[" + b"[" * 510 + b"]" * 510 + b"]]]": _core.EDEPTH, b"[" * 100_000: _core.EDEPTH,
             b"[[1, " + b'{"a":[' * 300 + b"]}" * 300 + b"]]": _core.EDEPTH}
    for text, code in cases.items():
        assert both(text) == ("error", code), text[:40]
        with pytest.raises(DecodeError if code != _core.ETYPE else CoreError):
            CEntries().parse(text)
    assert both(b"[[1,[" + b"[" * 509 + b"]" * 509 + b"]]]")[3] == [ENTRY_INVALID]     # 512 deep
    for span in [(0, 100), (-1, 2), (3, -1), (50, 0)]:
        assert both(b"[[1,2]]", span) == ("error", _core.ERANGE)


def test_normalize_arguments_and_state():
    for cls in (CEntries, PyEntries):
        entries = cls()
        entries.parse(b"[[1, 2]]")
        for bad in [("bool", 0), (0, 0), (4, 0), (True, 0)]:
            with pytest.raises(CoreError) as info:
                entries.normalize(*bad)
            assert info.value.code == _core.EARG
        with pytest.raises(CoreError):
            entries.normalize("int", 1 << 63)
        assert entries.normalize(VALUE_INT, 0) == 1
        with pytest.raises(CoreError) as info:
            entries.normalize("int", 0)       # once per parse
        assert info.value.code == _core.EARG
        assert entries.parse(b"[]") == 0 and entries.invalid() == [] and entries.normalize("string", 0) == 0
        assert len(entries) == 0 and list(entries.timestamps()) == [] and entries.strings() == []


def test_many_points_read_back():
    n = 300_000
    text = b"[" + b",".join(b"[%d,%d.5]" % (1421906172 + k, k) for k in range(n)) + b"]"
    entries = CEntries()
    assert entries.parse(text) == n
    floats = entries.floats()
    assert floats[0] == 0.5 and floats[n - 1] == n - 0.5 and entries.timestamps()[n - 1] == 1421906172 + n - 1
    assert entries.normalize("float", 0) == n and entries.invalid() == []


def test_entries_uses_the_selected_backend():
    assert entries_module.Entries is (CEntries if _core.backend == "c" else PyEntries)


def test_c_functions_accept_a_null_handle():
    """The header's promise: no input crashes, a NULL handle included."""
    ffi, lib = _core.native()
    span = ffi.new("pf_span *", {"off": 0, "len": 2})[0]
    assert lib.pf_entries_parse(ffi.NULL, b"[]", 2, span) == _core.EARG
    assert lib.pf_entries_normalize(ffi.NULL, lib.PF_VALUE_INT, 0, 10) == _core.EARG
    assert lib.pf_entries_len(ffi.NULL) == 0 and lib.pf_entries_invalid_len(ffi.NULL) == 0
    for getter in (lib.pf_entries_timestamps, lib.pf_entries_kinds, lib.pf_entries_ints, lib.pf_entries_floats,
                   lib.pf_entries_string_data, lib.pf_entries_string_ends, lib.pf_entries_invalid_timestamps,
                   lib.pf_entries_invalid_has_time):
        assert getter(ffi.NULL) == ffi.NULL, getter
    lib.pf_entries_free(ffi.NULL)
