"""JSON span scanner: the C module and the pure-Python twin give the same
spans and the same error codes, and accept what orjson accepts (except the
documented differences: numbers beyond the double range, depth 512)."""
import json
import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast import _core
from pyonep_fast._core.jscan import CScanner, PyScanner
from pyonep_fast.exceptions import CoreError

BACKENDS = [CScanner, PyScanner]
T, S, D = _core.ETRUNCATED, _core.ESYNTAX, _core.EDEPTH


def outcome(function, *args):
    try:
        return "ok", function(*args)
    except CoreError as exc:
        return "error", exc.code


def both(method, *args):
    """The outcome of method on both backends, asserted equal."""
    c_result = outcome(getattr(CScanner, method), *args)
    py_result = outcome(getattr(PyScanner, method), *args)
    assert c_result == py_result, (args, c_result, py_result)
    return c_result


def orjson_outcome(text):
    try:
        return "ok", orjson.loads(text)
    except orjson.JSONDecodeError:
        return "error", None


def has_infinity(value):
    if isinstance(value, float):
        return math.isinf(value)
    if isinstance(value, list):
        return any(has_infinity(v) for v in value)
    if isinstance(value, dict):
        return any(has_infinity(v) for v in value.values())
    return False


def depth_of(text):
    """Nesting depth of valid JSON text, counted outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:
                escaped = True
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in b"]}":
            depth -= 1
    return deepest


def assert_agrees_with_orjson(text):
    """Our verdict on text (both backends) against orjson's."""
    ours = both("value_span", text)
    whole = ours[0] == "ok" and sum(ours[1]) == len(text.rstrip(b" \t\r\n"))
    theirs = orjson_outcome(text)
    if whole and theirs[0] == "error":
        # The documented difference: orjson refuses numbers that overflow a double.
        assert has_infinity(json.loads(text, parse_int=float)), text
    elif theirs[0] == "ok" and not whole:
        assert ours == ("error", D) and depth_of(text) > _core.MAX_DEPTH, text


# JSON values that exercise every token: escapes, astral characters (as
# surrogate pairs with ensure_ascii), big and negative numbers, nesting.
json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=5),
    max_leaves=25,
)


@st.composite
def json_texts(draw, values=json_values):
    value = draw(values)
    layout = draw(st.sampled_from([
        dict(), dict(separators=(",", ":")), dict(indent=1), dict(separators=(" ,\t", "\r\n:\n")),
    ]))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), **layout).encode()
    return b" \n" * draw(st.integers(0, 1)) + text + b"\t" * draw(st.integers(0, 1))


TOKENS = [b"[", b"]", b"{", b"}", b",", b":", b'"', b"\\", b"\\u", b"d800", b"dc00", b"00e9", b"\\n", b"\\x",
          b"1", b"0", b"-", b".", b"e", b"E+", b"true", b"fals", b"null", b" ", b"\t", b"\x00", b"\x1f", b"\x7f",
          b'"a"', b'"k":', b"\xc3", b"\xa9", b"\xed\xa0\x80", b"\xe2\x82\xac", b"\xf0\x9f\x98", b"\x80", b"\xff",
          b"\xef\xbb\xbf", b"1e400"]
garbage = st.lists(st.sampled_from(TOKENS), max_size=30).map(b"".join) | st.binary(max_size=40)


@given(json_texts())
def test_valid_text_spans_agree_and_match_orjson(text):
    kind, span = both("value_span", text)
    assert kind == "ok"
    off, length = span
    assert orjson.loads(text[off:off + length]) == orjson.loads(text)
    assert_agrees_with_orjson(text)
    value = orjson.loads(text)
    if isinstance(value, list):
        kind, spans = both("array_spans", text)
        assert [orjson.loads(text[o:o + n]) for o, n in spans] == value
    elif isinstance(value, dict):
        kind, members = both("object_spans", text)
        decoded = {orjson.loads(text[k:k + kn]): orjson.loads(text[v:v + vn]) for (k, kn), (v, vn) in members}
        assert decoded == value
        assert all(text[k] == 0x22 and text[k + kn - 1] == 0x22 for (k, kn), _ in members)
    else:
        assert both("array_spans", text) == ("error", _core.ETYPE)


@given(garbage)
def test_garbage_gets_the_same_verdict_and_orjson_agrees(text):
    for method in ("value_span", "array_spans", "object_spans"):
        both(method, text)
    assert_agrees_with_orjson(text)


@given(json_texts(), st.data())
def test_mutated_text_gets_the_same_verdict(text, data):
    i = data.draw(st.integers(0, len(text) - 1))
    mutated = text[:i] + bytes([data.draw(st.integers(0, 255))]) + text[i + 1:]
    for method in ("value_span", "array_spans", "object_spans"):
        both(method, mutated)
    assert_agrees_with_orjson(mutated)


@given(json_texts(st.lists(json_values, max_size=8)) | garbage, st.integers(0, 10))
def test_a_counted_array_keeps_spans_only_within_its_limit(text, limit):
    kind, counted = both("counted_array_spans", text, None, limit)
    if kind == "ok":
        count, spans = counted
        assert count == len(both("array_spans", text)[1])
        assert spans == (both("array_spans", text)[1] if count <= limit else None)
    else:
        assert both("array_spans", text) == (kind, counted)


def test_an_array_past_its_limit_is_counted_and_no_span_is_built():
    body = b'{"calls": [' + b",".join(b'{"id": %d}' % n for n in range(100000)) + b"]}"
    _, [(_, calls)] = both("object_spans", body)
    assert both("counted_array_spans", body, calls, 99999) == ("ok", (100000, None))
    assert both("counted_array_spans", body, calls, 100000)[1][0] == 100000
    assert both("counted_array_spans", body[:-3], calls, 5) == ("error", _core.ERANGE)


@given(json_texts(st.lists(json_values, max_size=4) | st.dictionaries(st.text(max_size=4), json_values, max_size=4)))
def test_every_truncation_of_a_container_is_reported_as_truncated(text):
    end = len(text.rstrip(b" \t\r\n"))
    start = len(text) - len(text.lstrip(b" \t\r\n"))
    method = "array_spans" if text[start] == ord("[") else "object_spans"
    for cut in range(end):
        assert both("value_span", text[:cut]) == ("error", T), text[:cut]
        assert both(method, text[:cut]) == ("error", T), text[:cut]
    assert both("value_span", text[:end]) == ("ok", (start, end - start))


@pytest.mark.parametrize("text,code", [
    (b"", T), (b"   ", T), (b"[", T), (b"[1", T), (b"[1,", T), (b'{"a"', T), (b'{"a":', T), (b'{"a":1', T),
    (b"-", T), (b"1.", T), (b"1e", T), (b"1e+", T), (b"tru", T), (b'"abc', T), (b'"\\', T), (b'"\\u00', T),
    (b'"\\ud800', T), (b'"\\ud800\\', T), (b'"\\ud800\\u', T), (b'"\\ud800\\udc0', T), (b'"\xc3', T),
    (b'"\xe2\x82', T), (b'"\xf0\x9f\x98', T),
    (b"[1,]", S), (b"[,1]", S), (b"{,}", S), (b'{"a":1,}', S), (b'{"a" 1}', S), (b"{1:2}", S), (b"01", None),
    (b"[01]", S), (b"-x", S), (b"1.x", S), (b"1ex", S), (b"+1", S), (b".5", S), (b"NaN", S),
    (b"Infinity", S), (b"trux", S), (b"nul1", S), (b"[1 2]", S), (b"'a'", S), (b'"\t"', S), (b'"\x00"', S),
    (b'"\\x"', S), (b'"\\u12g4"', S), (b'"\\ud800"', S), (b'"\\udc00"', S), (b'"\\ud800\\u0041"', S),
    (b'"\\ud800x"', S), (b'"\xc0\x80"', S), (b'"\xc1\xbf"', S), (b'"\xed\xa0\x80"', S), (b'"\xf4\x90\x80\x80"', S),
    (b'"\xf5\x80\x80\x80"', S), (b'"\x80"', S), (b'"\xe0\x9f\x80"', S), (b'"\xff"', S), (b"\xef\xbb\xbf[]", S),
    (b"\x0c[]", S), (b"[\x0b]", S),
])
def test_error_table(text, code):
    result = both("value_span", text)
    if code is None:
        assert result[0] == "ok"
    else:
        assert result == ("error", code)


@pytest.mark.parametrize("text", [
    b'"\\ud800\\udc00"', b'"\\uDBFF\\uDFFF"', b'"\\u0000\\/\\b\\f\\n\\r\\t\\"\\\\"', b'"\xf4\x8f\xbf\xbf"',
    b'"\xef\xbf\xbf\x7f"', b"-0", b"-0.0e-0", b"1E+2", b"0.5", b"[]", b"{}", b" [ ] ", b'{"":{"":[]}}',
])
def test_valid_edge_cases(text):
    assert both("value_span", text)[0] == "ok"
    assert orjson_outcome(text)[0] == "ok"


def test_nesting_limit_is_512_containers_without_recursion():
    ok = b"[" * _core.MAX_DEPTH + b"]" * _core.MAX_DEPTH
    assert both("value_span", ok) == ("ok", (0, len(ok)))
    assert both("value_span", b"[" * 513 + b"]" * 513) == ("error", D)
    assert both("value_span", b'{"a":' * 513 + b"1" + b"}" * 513) == ("error", D)
    assert both("value_span", b"[" * 100_000) == ("error", D)
    assert both("value_span", b'[{"a":' * 50_000) == ("error", D)
    # array_spans counts the array it was given as the first level.
    assert both("array_spans", b"[" * 512 + b"]" * 512)[0] == "ok"
    assert both("array_spans", b"[" * 513 + b"]" * 513) == ("error", D)


def test_huge_numbers_are_valid_json_here():
    for text in (b"1" * 100_000, b"-" + b"9" * 5000 + b".5e-99999999999999999999", b"1e400", b"[1e400]"):
        assert both("value_span", text) == ("ok", (0, len(text)))
        assert_agrees_with_orjson(text)


def test_spans_and_offsets_outside_the_buffer_are_range_errors():
    text = b"[1, 2]"
    for method in ("array_spans", "object_spans"):
        for span in [(0, 7), (7, 0), (-1, 2), (2, -1), (3, 1 << 70)]:
            assert both(method, text, span) == ("error", _core.ERANGE)
    assert both("value_span", text, 7) == ("error", _core.ERANGE)
    assert both("value_span", text, -1) == ("error", _core.ERANGE)
    assert both("value_span", text, 6) == ("error", T)


def test_spans_inside_a_bigger_buffer_never_read_past_their_end():
    body = b'{"calls": [[1, 2], [3, "x"]], "tail": 5}'
    start = body.index(b"[[")
    length = body.index(b"]]") + 2 - start
    assert both("array_spans", body, (start, length)) == ("ok", [(start + 1, 6), (start + 9, 8)])
    assert both("array_spans", body, (start, length - 1)) == ("error", T)
    assert both("array_spans", body, (start - 1, length + 2)) == ("error", S)
    assert both("array_spans", memoryview(body), (start, length))[0] == "ok"
    assert both("object_spans", bytearray(body))[1][1] == ((30, 6), (38, 1))


def test_wrong_types_and_trailing_text():
    assert both("array_spans", b' {"a": 1} ') == ("error", _core.ETYPE)
    assert both("object_spans", b"[1]") == ("error", _core.ETYPE)
    assert both("array_spans", b"5 6") == ("error", S)
    assert both("array_spans", b"[5] 6") == ("error", S)
    assert both("object_spans", b'{"a":1}}') == ("error", S)
    assert both("value_span", b"[5] 6") == ("ok", (0, 3))


def test_many_elements_grow_the_span_array():
    text = b"[" + b",".join(b"%d" % i for i in range(1000)) + b"]"
    kind, spans = both("array_spans", text)
    assert [int(text[o:o + n]) for o, n in spans] == list(range(1000))
    members = b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(100)) + b"}"
    assert len(both("object_spans", members)[1]) == 100
