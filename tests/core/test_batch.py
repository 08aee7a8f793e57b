"""Batch: C and Python assemble the same bytes; bodies are valid JSON that
read back as the queued calls with consecutive ids, split by count and size."""
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast import _core
from pyonep_fast._core import batch as batch_module
from pyonep_fast._core.batch import DEFAULT_MAX_BYTES, DEFAULT_MAX_CALLS, CBatch, PyBatch
from pyonep_fast.exceptions import CoreError, EncodeError

INT64_MAX = (1 << 63) - 1
AUTH = orjson.dumps({"cik": "5de0cfcf7b5bed2ea7a8aa00112233445566778f", "client_id": "é"})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 63), INT64_MAX) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
)
calls = st.lists(st.tuples(st.text(max_size=12), st.lists(json_values, max_size=4)), max_size=25)
first_ids = st.integers(-(1 << 63), INT64_MAX - 100)


def filled(cls, queued):
    batch = cls()
    for k, (procedure, arguments) in enumerate(queued):
        assert batch.add(procedure, orjson.dumps(arguments)) == k
    return batch


def outcome(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except CoreError as exc:
        return ("error", exc.code)


def expected_calls(queued, first_id, first=0):
    return [{"id": first_id + first + k, "procedure": procedure, "arguments": arguments}
            for k, (procedure, arguments) in enumerate(queued[first:])]


@given(calls, first_ids, st.integers(1, 30), st.integers(0, 2000))
def test_bodies_agree_and_read_back_as_the_calls(queued, first_id, max_calls, max_bytes):
    c_batch, py_batch = filled(CBatch, queued), filled(PyBatch, queued)
    assert len(c_batch) == len(py_batch) == len(queued)
    c_bodies = c_batch.bodies(AUTH, first_id, max_calls=max_calls, max_bytes=max_bytes)
    assert c_bodies == py_batch.bodies(AUTH, first_id, max_calls=max_calls, max_bytes=max_bytes)
    seen = []
    next_index = 0
    for body, first_index, count in c_bodies:
        assert first_index == next_index and 1 <= count <= max_calls
        request = orjson.loads(body)
        assert list(request) == ["auth", "calls"] and request["auth"] == orjson.loads(AUTH)
        assert request["calls"] == expected_calls(queued[first_index:first_index + count], first_id + first_index)
        assert body == orjson.dumps(request)      # compact, and escaped exactly as orjson does
        assert len(body) <= max_bytes or count == 1
        if first_index + count < len(queued) and count < max_calls:
            # Greedy: the next call would not have fitted.
            with_next = c_batch.encode(AUTH, first_id, first=first_index, max_calls=count + 1,
                                       max_bytes=1 << 40)[0]
            assert len(with_next) > max_bytes
        seen += request["calls"]
        next_index += count
    assert seen == expected_calls(queued, first_id)


@given(calls, first_ids, st.integers(0, 30))
def test_encode_from_any_first_call(queued, first_id, first):
    c_body = filled(CBatch, queued).encode(AUTH, first_id, first=first)
    assert c_body == filled(PyBatch, queued).encode(AUTH, first_id, first=first)
    if first >= len(queued):
        assert c_body == (b"", 0)
    else:
        assert orjson.loads(c_body[0])["calls"] == expected_calls(queued, first_id, first)


def test_pyonep_shaped_body():
    for cls in (CBatch, PyBatch):
        batch = cls()
        batch.add("write", b'[{"alias":"temp"},21.5,{}]')
        batch.add("read", b'[{"alias":"temp"},{"limit":1}]')
        body, count = batch.encode(b'{"cik":"abc"}', 7)
        assert count == 2
        assert body == (b'{"auth":{"cik":"abc"},"calls":[{"id":7,"procedure":"write","arguments":'
                        b'[{"alias":"temp"},21.5,{}]},{"id":8,"procedure":"read","arguments":'
                        b'[{"alias":"temp"},{"limit":1}]}]}')


def test_split_by_count_keeps_ids_consecutive():
    queued = [("record", [{"alias": "a%d" % k}, [[k, k * 1.5]], {}]) for k in range(12000)]
    for cls in (CBatch, PyBatch):
        batch = filled(cls, queued)
        bodies = batch.bodies(AUTH, 100)
        assert [(first, count) for _, first, count in bodies] == [(0, 5000), (5000, 5000), (10000, 2000)]
        ids = [call["id"] for body, _, _ in bodies for call in orjson.loads(body)["calls"]]
        assert ids == list(range(100, 12100))


def test_split_by_bytes_and_oversized_calls_go_alone():
    big = "x" * 5000
    queued = [("write", [big]), ("write", [1]), ("write", [2]), ("write", [big]), ("write", [3])]
    for cls in (CBatch, PyBatch):
        batch = filled(cls, queued)
        bodies = batch.bodies(AUTH, 0, max_bytes=1000)
        assert [(first, count) for _, first, count in bodies] == [(0, 1), (1, 2), (3, 1), (4, 1)]
        assert all(len(body) <= 1000 for body, _, count in bodies if count > 1)


def test_defaults():
    assert DEFAULT_MAX_CALLS == 5000 and DEFAULT_MAX_BYTES == 8 * 1024 * 1024
    queued = [("read", [{"alias": "x" * 2000}, {}])] * 4500
    for cls in (CBatch, PyBatch):
        bodies = filled(cls, queued).bodies(AUTH, 0)
        assert len(bodies) == 2 and all(len(body) <= DEFAULT_MAX_BYTES for body, _, _ in bodies)


def test_procedure_names_are_escaped_once():
    names = ['a"b\\c', "tab\there", "\x00\x1f\x7f", "é€😀", ""]
    for cls in (CBatch, PyBatch):
        batch = cls()
        for name in names:
            batch.add(name, b"[]")
        body, _ = batch.encode(b"{}", 1)
        assert [call["procedure"] for call in orjson.loads(body)["calls"]] == names
    assert filled(CBatch, [(n, []) for n in names]).encode(b"{}", 1) == \
        filled(PyBatch, [(n, []) for n in names]).encode(b"{}", 1)


def test_clear_and_reuse():
    for cls in (CBatch, PyBatch):
        batch = filled(cls, [("a", [1]), ("b", [2])])
        batch.clear()
        assert len(batch) == 0 and batch.bodies(AUTH, 0) == [] and batch.encode(AUTH, 0) == (b"", 0)
        assert batch.add("c", b"[3]") == 0
        assert orjson.loads(batch.encode(AUTH, 5)[0])["calls"] == [{"id": 5, "procedure": "c", "arguments": [3]}]


def test_bad_input_gets_core_errors_from_both():
    for cls in (CBatch, PyBatch):
        batch = cls()
        with pytest.raises(EncodeError) as info:
            batch.add("\ud800", b"[]")
        assert info.value.code == _core.EUTF8
        assert outcome(batch.add, b"read", b"[]") == ("error", _core.ETYPE)
        assert outcome(batch.add, "read", b"") == ("error", _core.EARG)
        assert len(batch) == 0
        batch.add("read", b"[]")
        batch.add("read", b"[]")
        assert outcome(batch.encode, b"", 0) == ("error", _core.EARG)
        assert outcome(batch.encode, AUTH, 0, max_calls=0) == ("error", _core.EARG)
        assert outcome(batch.encode, AUTH, 0, first=-1) == ("error", _core.EARG)
        assert outcome(batch.encode, AUTH, 1 << 63) == ("error", _core.ERANGE)
        assert outcome(batch.encode, AUTH, INT64_MAX) == ("error", _core.ERANGE)     # the second id overflows
        assert outcome(batch.encode, AUTH, INT64_MAX, max_calls=1)[1] == 1
        assert outcome(batch.encode, AUTH, INT64_MAX - 1)[1] == 2
        assert outcome(batch.encode, AUTH, True) == ("error", _core.ETYPE)


def test_batch_uses_the_selected_backend():
    assert batch_module.Batch is (CBatch if _core.backend == "c" else PyBatch)
