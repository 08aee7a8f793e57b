"""Response demultiplexing: C == Python == a plain model over orjson.loads,
and hostile bodies are DecodeErrors from both, never a crash."""
import json
import math
import re

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast import _core
from pyonep_fast._core import demux as demux_module
from pyonep_fast._core.demux import BARE, ERROR, FAILED, MISSING, NO_RESULT, OK, CDemux, PyDemux
from pyonep_fast.exceptions import CoreError, DecodeError

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def snapshot(cls, body, first_id, ncalls):
    """Everything a Demux reports, or the error code."""
    try:
        d = cls(body, first_id, ncalls)
    except CoreError as exc:
        return ("error", exc.code)
    slots = [(d.state(i), d.status(i), d.result(i), d.error(i), d.position(i), d.duplicates(i))
             for i in range(ncalls)]
    # The whole-response views read the same as the per-call accessors.
    assert d.states() == [slot[0] for slot in slots]
    assert repr(d.statuses()) == repr([slot[1] for slot in slots])
    assert repr(d.results()) == repr([slot[2] for slot in slots])
    assert d.has_results() == [slot[2] is not NO_RESULT for slot in slots]
    return (d.kind, d.request_error, d.entries, d.unknown_ids, d.duplicate_ids, d.missing, d.without_id, slots)


def both(body, first_id, ncalls):
    c_view = snapshot(CDemux, body, first_id, ncalls)
    py_view = snapshot(PyDemux, body, first_id, ncalls)
    assert repr(c_view) == repr(py_view), (body, c_view, py_view)   # repr: inf and -0.0 compare exactly
    return c_view


def model(body, first_id, ncalls):
    """What a Demux should report, computed from orjson.loads(body)."""
    value = orjson.loads(body)
    slots = [None] * ncalls
    duplicates = [0] * ncalls
    entries = unknown = dup = without = 0
    kind, request_error = "other", NO_RESULT
    if isinstance(value, dict) and "error" in value:
        kind, request_error = "error", value["error"]
    if isinstance(value, list):
        kind = "array"
        for position, entry in enumerate(value):
            entries += 1
            if not isinstance(entry, dict) or "id" not in entry:
                without += 1
                continue
            call_id = entry["id"]
            if isinstance(call_id, str) and re.fullmatch(r"-?(0|[1-9][0-9]*)", call_id):
                call_id = int(call_id)
            if type(call_id) is not int or not INT64_MIN <= call_id <= INT64_MAX \
                    or not 0 <= call_id - first_id < ncalls:
                unknown += 1
                continue
            k = call_id - first_id
            if slots[k] is not None:
                duplicates[k] += 1
                dup += 1
                continue
            if "status" in entry:
                state = OK if entry["status"] == "ok" else FAILED
            else:
                state = ERROR if "error" in entry else BARE
            slots[k] = (state, entry.get("status", NO_RESULT), entry.get("result", NO_RESULT),
                        entry.get("error", NO_RESULT), position)
    views = [(MISSING, NO_RESULT, NO_RESULT, NO_RESULT, 0) if s is None else s for s in slots]
    return (kind, request_error, entries, unknown, dup, slots.count(None), without,
            [view + (duplicates[k],) for k, view in enumerate(views)])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 65), 1 << 65) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)
statuses = st.sampled_from(["ok", "invalid", "restricted", "fail", ""]) | st.lists(
    st.tuples(st.integers(0, 2 ** 31), st.just("invalid")), min_size=1, max_size=3) | json_values


@st.composite
def responses(draw):
    """(body, first_id, ncalls): entries for a random subset of calls, in any
    order, with duplicates, unknown ids, ids as strings, entries without id."""
    ncalls = draw(st.integers(0, 12))
    first_id = draw(st.sampled_from([0, 1, 7, -5, INT64_MAX - 20, INT64_MIN]) | st.integers(INT64_MIN, INT64_MAX - 20))
    entries = []
    for _ in range(draw(st.integers(0, 16))):
        entry = {}
        id_choice = draw(st.sampled_from(["call", "call", "call", "string", "unknown", "odd", "none"]))
        k = draw(st.integers(0, max(ncalls - 1, 0)))
        if id_choice == "call":
            entry["id"] = first_id + k
        elif id_choice == "string":
            entry["id"] = str(first_id + k)
        elif id_choice == "unknown":
            entry["id"] = draw(st.sampled_from([first_id - 1, first_id + ncalls, 1 << 63, -(1 << 63) - 1, 1 << 64]))
        elif id_choice == "odd":
            entry["id"] = draw(st.sampled_from([1.0, True, None, "07", " 7", "+7", "x", [1], {"id": 1}, "1" * 30]))
        if draw(st.booleans()):
            entry["status"] = draw(statuses)
        if draw(st.booleans()):
            entry["result"] = draw(json_values)
        if draw(st.integers(0, 3)) == 0:
            entry["error"] = {"code": 501, "message": "Error", "context": draw(st.text(max_size=5))}
        if draw(st.integers(0, 4)) == 0:
            entry = draw(json_values)
        items = list(entry.items()) if isinstance(entry, dict) else None
        if items:
            items = draw(st.permutations(items))
            entry = dict(items)
        entries.append(entry)
    layout = draw(st.sampled_from([dict(), dict(separators=(",", ":")), dict(indent=2)]))
    body = json.dumps(entries, ensure_ascii=draw(st.booleans()), **layout).encode()
    if draw(st.booleans()):
        # Escaped member names and an escaped "ok" mean the same to every reader.
        body = body.replace(b'"id"', b'"\\u0069d"').replace(b'"ok"', b'"\\u006fk"')
    return body, first_id, ncalls


@given(responses())
def test_c_python_and_orjson_model_agree(response):
    body, first_id, ncalls = response
    assert repr(both(body, first_id, ncalls)) == repr(model(body, first_id, ncalls))


@given(responses(), st.data())
def test_truncated_mutated_and_padded_bodies(response, data):
    body, first_id, ncalls = response
    # Every cut of small bodies; a stride through big ones (the pure-Python
    # side is quadratic here), always including the last bytes.
    stride = 1 + len(body) // 200
    for cut in sorted(set(range(0, len(body), stride)) | set(range(max(0, len(body) - 20), len(body)))):
        assert both(body[:cut], first_id, ncalls) == ("error", _core.ETRUNCATED)
    i = data.draw(st.integers(0, len(body) - 1))
    both(body[:i] + bytes([data.draw(st.integers(0, 255))]) + body[i + 1:], first_id, ncalls)
    both(body[:i] + body[i + 1:], first_id, ncalls)
    assert both(b" \r\n" + body + b"\t", first_id, ncalls) == both(body, first_id, ncalls)
    assert both(body + b"x", first_id, ncalls) == ("error", _core.ESYNTAX)


TOKENS = [b"[", b"]", b"{", b"}", b",", b":", b'"id"', b'"status"', b'"result"', b'"error"', b'"ok"', b"1", b"-",
          b"0", b'"7"', b"null", b" ", b'"\\u', b"\xc3", b"\xff", b"1e999"]


@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join) | st.binary(max_size=60),
       st.integers(-3, 3), st.integers(0, 4))
def test_garbage_bodies_get_the_same_verdict(body, first_id, ncalls):
    result = both(body, first_id, ncalls)
    try:
        expected = model(body, first_id, ncalls)
    except orjson.JSONDecodeError:
        return      # orjson refuses numbers beyond the double range; covered below
    assert repr(result) == repr(expected)


def test_pyonep_response_shapes():
    body = (b'[{"id": 8, "status": "ok", "result": [[1421906172, 21.5]]}, {"id": 7, "status": "ok"},'
            b' {"id": 9, "status": [[1421906172, "invalid"]]},'
            b' {"id": 10, "status": "fail", "error": {"code": 501, "message": "Error", "context": "arguments"}},'
            b' {"id": 11, "error": {"code": 500}}, {"id": 12}]')
    for cls in (CDemux, PyDemux):
        d = cls(body, 7, 7)
        assert d.kind == "array" and d.entries == 6 and d.missing == 1
        assert [d.state(i) for i in range(7)] == [OK, OK, FAILED, FAILED, ERROR, BARE, MISSING]
        assert d.result(1) == [[1421906172, 21.5]] and d.result(0) is NO_RESULT
        assert d.status(2) == [[1421906172, "invalid"]]
        assert d.error(3) == {"code": 501, "message": "Error", "context": "arguments"} and d.status(3) == "fail"
        assert d.error(4) == {"code": 500} and d.status(4) is NO_RESULT
        assert [d.position(i) for i in range(6)] == [1, 0, 2, 3, 4, 5]
        assert d.request_error is NO_RESULT


def test_whole_request_error_and_other_values():
    for cls in (CDemux, PyDemux):
        d = cls(b'{"error": {"code": 401, "message": "Invalid", "context": "auth"}}', 1, 2)
        assert d.kind == "error" and d.request_error == {"code": 401, "message": "Invalid", "context": "auth"}
        assert d.missing == 2 and d.state(0) == MISSING
        for body in (b'{"result": 1}', b'"x"', b"5", b"null"):
            d = cls(body, 1, 2)
            assert d.kind == "other" and d.request_error is NO_RESULT and d.missing == 2
        d = cls(b"[]", 1, 0)
        assert d.kind == "array" and d.entries == 0 and len(d) == 0


def test_duplicate_unknown_missing_and_idless_entries_are_counted():
    body = b'[{"id":1,"status":"ok","result":1},{"id":1,"status":"ok","result":2},{"id":"1","status":"x"},' \
           b'{"id":5,"status":"ok"},{"id":-1},{"status":"ok"},[1],{"id":1.0},{"id":true},{"id":"01"}]'
    for cls in (CDemux, PyDemux):
        d = cls(body, 0, 3)
        assert (d.entries, d.duplicate_ids, d.unknown_ids, d.without_id, d.missing) == (10, 2, 5, 2, 2)
        assert d.duplicates(1) == 2 and d.result(1) == 1 and d.state(0) == MISSING


def test_ids_at_the_int64_limits():
    body = b'[{"id":9223372036854775807,"status":"ok"},{"id":"-9223372036854775808","status":"ok"},' \
           b'{"id":9223372036854775808,"status":"ok"}]'
    assert both(body, INT64_MAX, 1)[7][0][0] == OK
    assert both(body, INT64_MIN, 1)[7][0][0] == OK
    assert both(body, INT64_MAX - 1, 2)[3] == 2     # 2^63 and -2^63 match neither slot


def test_last_duplicate_member_wins_like_orjson():
    body = b'[{"id":1,"status":"bad","status":"ok","result":1,"result":[2],"\\u0069d":2}]'
    d = both(body, 1, 2)
    assert d[7][1][:3] == (OK, "ok", [2]) and d[7][0][0] == MISSING


def test_values_orjson_refuses_are_read_with_infinity():
    body = b'[{"id":0,"status":"ok","result":[1e400,-1e400,' + b"9" * 400 + b',18446744073709551615,' \
           b'18446744073709551616,-9223372036854775809]}]'
    result = both(body, 0, 1)[7][0][2]
    assert result[:3] == [math.inf, -math.inf, math.inf]
    assert result[3:] == [18446744073709551615, 18446744073709551616.0, -9223372036854775809.0]
    assert [type(v) for v in result[3:]] == [int, float, float]


def test_depth_counts_the_array_and_the_entry_object():
    def body(levels):
        return b'[{"id":0,"status":"ok","result":' + b"[" * levels + b"]" * levels + b"}]"

    assert both(body(_core.MAX_DEPTH - 2), 0, 1)[7][0][0] == OK
    assert both(body(_core.MAX_DEPTH - 1), 0, 1) == ("error", _core.EDEPTH)
    assert both(b"[" * 100_000, 0, 1) == ("error", _core.EDEPTH)
    assert both(b'{"error":' * 100_000, 0, 1) == ("error", _core.EDEPTH)


def test_every_cut_of_a_response_with_every_shape_is_truncated():
    body = ('[{"id": 8, "status": "ok", "result": [[1421906172, 21.5], [-1, "\\u00e9\\ud83d\\ude00 €"]]},'
            ' {"\\u0069d": "9", "status": [[1, "invalid"]], "result": {"a": [true, false, null]}},'
            ' 3, {"id": 1e2, "error": {"code": 501, "message": "Error", "context": "arguments"}}, []]').encode()
    assert both(body, 8, 2)[7][1][0] == FAILED
    for cut in range(len(body)):
        assert both(body[:cut], 8, 2) == ("error", _core.ETRUNCATED), body[:cut]


@pytest.mark.parametrize("body", [b"", b"  ", b"[", b"[{", b'[{"id"', b'[{"id":1', b'[{"id":1}', b'{"error":'])
def test_truncated_bodies_are_decode_errors(body):
    for cls in (CDemux, PyDemux):
        with pytest.raises(DecodeError) as info:
            cls(body, 0, 1)
        assert info.value.code == _core.ETRUNCATED


def test_bad_arguments():
    for cls in (CDemux, PyDemux):
        with pytest.raises(CoreError) as info:
            cls(b"[]", 0, -1)
        assert info.value.code == _core.EARG
        for first_id in (1 << 63, -(1 << 63) - 1):
            with pytest.raises(CoreError) as info:
                cls(b"[]", first_id, 1)
            assert info.value.code == _core.ERANGE
        d = cls(bytearray(b'[{"id":3,"status":"ok"}]'), 3, 1)
        with pytest.raises(IndexError):
            d.state(1)
        with pytest.raises(IndexError):
            d.result(-1)
        assert d.state(0) == OK


def test_demux_uses_the_selected_backend():
    expected = CDemux if _core.backend == "c" else PyDemux
    assert isinstance(demux_module.demux(b"[]", 0, 0), expected)
