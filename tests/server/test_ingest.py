"""record/recordbatch through both body decoders of the embedded server:
small bodies decoded whole by orjson, large ones walked with the span scanner
and their entries parsed in place by the C entries parser (server/onep/wire.py).
The same calls must give the same answers and the same stored points."""
import orjson
import pytest

from pyonep_fast.server.onep.wire import LARGE_BODY, EntriesSpan, decode_envelope
from rpc_helpers import make_dataport, ok

RPC = "/onep:v1/rpc/process"
PAD = "p" * (LARGE_BODY + 1000)

ENTRIES = {
    "integer": [[5, 1], [3, "42"], [5, 2], [-10, -7], [7, 1.5], [8, "x"], [9, True], "junk", [1.5, 3],
                [4, 9223372036854775807], [6, 9223372036854775808], [], [2], [2, 1, 1], [11, None], [12, [1]]],
    "float": [[1, 0.1], [2, "-1.5e3"], [2, 7], [-5, "0"], [3, 1e308], [4, "1e999"], [5, "nan"], [6, {}],
              [7, 18446744073709551615], [8, -0.0], [9, 5e-324]],
    "string": [[1, "a\"b\\c\u00e9\U0001F600\n\t\u0000"], [2, 12], [3, 1.5e20], [1, "again"], [5, None],
               [-3, ""], [6, "\u2028"], [7, "y" * 20000]],
}


def post(http, server, body):
    response = http.request("POST", server.url + RPC, body=body)
    assert response.status == 200
    return response.data


def body_of(cik, calls, padded):
    envelope = {"auth": {"cik": cik}, "calls": calls}
    if padded:
        envelope["padding"] = PAD
    body = orjson.dumps(envelope)
    assert (len(body) >= LARGE_BODY) == padded
    return body


def both_ways(rpc, http, server, cik, fmt, make_calls):
    """Runs make_calls(port, clock) once per decoder on fresh ports; returns
    (answers, points relative to each request's own clock) per decoder."""
    outcomes = []
    for padded in (False, True):
        port = make_dataport(rpc, cik, fmt)
        clock = make_dataport(rpc, cik, "integer")
        calls = [{"id": 0, "procedure": "write", "arguments": [clock, 0, {}]}] + make_calls(port)
        answer = post(http, server, body_of(cik, calls, padded))
        now = ok(rpc, cik, "read", clock, {})[0][0]
        points = ok(rpc, cik, "read", port, {"limit": 1000, "sort": "asc", "endtime": 1 << 62})
        outcomes.append((answer, [[t - now if t > now - 1000 else t, v] for t, v in points]))
    return outcomes


@pytest.mark.parametrize("fmt", sorted(ENTRIES))
def test_recordbatch_and_record_same_both_ways(rpc, http, server, fresh_client, fmt):
    entries = ENTRIES[fmt]
    small, large = both_ways(rpc, http, server, fresh_client["cik"], fmt, lambda port: [
        {"id": 1, "procedure": "recordbatch", "arguments": [port, entries]},
        {"id": 2, "procedure": "record", "arguments": [port, [[100, entries[0][1]]], {}]},
        {"id": 3, "procedure": "record", "arguments": [port, entries, {}]},
        {"id": 4, "procedure": "recordbatch", "arguments": [port, "not a list"]},
        {"procedure": "recordbatch", "arguments": [port, [[200, entries[0][1]]]]},
    ])
    assert small == large
    answer = orjson.loads(small[0])
    assert [entry["id"] for entry in answer] == [0, 1, 2, 3, 4]
    assert isinstance(answer[1]["status"], list) and answer[2]["status"] == "ok"
    assert answer[3]["status"] == "invalid" and answer[4]["status"] == [[None, "invalid"]]
    assert {100, 200} <= {t for t, _ in small[1]}


def test_expected_verdicts(rpc, http, server, fresh_client):
    """What the rules give, spelled out once (both decoders agree, above)."""
    small, _ = both_ways(rpc, http, server, fresh_client["cik"], "integer", lambda port: [
        {"id": 1, "procedure": "recordbatch", "arguments": [port, ENTRIES["integer"]]}])
    assert orjson.loads(small[0])[1]["status"] == [
        [7, "invalid"], [8, "invalid"], [9, "invalid"], [None, "invalid"], [1.5, "invalid"],   # t as given
        [6, "invalid"], [None, "invalid"], [2, "invalid"], [2, "invalid"], [11, "invalid"], [12, "invalid"]]
    assert small[1] == [[3, 42], [4, 9223372036854775807], [5, 2], [-10, -7]]


def test_numbers_only_the_scanner_reads(rpc, http, server, fresh_client):
    """orjson refuses numbers past the double range; JSON allows them, and
    an entry holding one is just invalid, whichever decoder gets the body."""
    cik = fresh_client["cik"]
    for padded in (False, True):
        port = make_dataport(rpc, cik, "float")
        raw = body_of(cik, [{"id": 1, "procedure": "recordbatch", "arguments": [port, "ENTRIES"]}], padded)
        raw = raw.replace(b'"ENTRIES"', b"[[1, 1e400], [2, 2.5], [3, -1E+999]]")
        assert orjson.loads(post(http, server, raw)) == [{"id": 1, "status": [[1, "invalid"], [3, "invalid"]]}]
        assert ok(rpc, cik, "read", port, {"limit": 5}) == [[2, 2.5]]
        elsewhere = raw.replace(b'{"id":1', b'{"id":1e400')     # outside entries: invalid JSON
        assert orjson.loads(post(http, server, elsewhere))["error"]["code"] == -1


def test_nesting_only_orjson_reads(rpc, http, server, fresh_client):
    """orjson reads nesting past the scanner's 512 levels; such an entry is
    just invalid, whichever decoder gets the body."""
    cik = fresh_client["cik"]
    deep = "[" * 600 + "]" * 600
    for padded in (False, True):
        port = make_dataport(rpc, cik, "integer")
        raw = body_of(cik, [{"id": 1, "procedure": "recordbatch", "arguments": [port, "ENTRIES"]}], padded)
        raw = raw.replace(b'"ENTRIES"', f"[[1, {deep}], [2, 2], {deep}]".encode())
        assert orjson.loads(post(http, server, raw)) == [{"id": 1, "status": [[1, "invalid"], [None, "invalid"]]}]
        assert ok(rpc, cik, "read", port, {"limit": 5}) == [[2, 2]]


PADDED = b'"padding": "' + PAD.encode() + b'", "record": 1'


@pytest.mark.parametrize("small, large, code", [
    (b"{not json", b"{" + PADDED + b", not json", -1),
    (b'{"auth": {}} {}', b'{"auth": {}, ' + PADDED + b"} {}", -1),
    (b'{"auth": {}, "calls": [1,]}', b'{"auth": {}, ' + PADDED + b', "calls": [1,]}', -1),
    (b"[1, 2]", b'[1, 2, {' + PADDED + b"}]", 400),
    (b'"text"', b'"' + PAD.encode() + b' \\"record"', 400),
    (b'{"auth": {"cik": "x"}, "calls": 5}', b'{"auth": {"cik": "x"}, ' + PADDED + b', "calls": 5}', 400),
    (b'{"auth": {"cik": "x"}, "calls": [1]}', b'{"auth": {"cik": "x"}, ' + PADDED + b', "calls": [1]}', 400),
])
def test_bad_bodies_same_both_ways(http, server, small, large, code):
    assert len(small) < LARGE_BODY <= len(large) and b'"record' in large
    answer = orjson.loads(post(http, server, small))
    assert answer == orjson.loads(post(http, server, large)) and answer["error"]["code"] == code


def test_large_bodies_keep_entries_in_place():
    calls = [{"id": 1, "procedure": "recordbatch", "arguments": ["r" * 40, [[1, 2], [3, 4]]]},
             {"id": 2, "procedure": "write", "arguments": ["r" * 40, [[1, 2]], {}]},
             {"id": 3, "arguments": [{"a": 1}, [[1, 1]]], "procedure": "record"}]
    body = orjson.dumps({"calls": calls, "auth": {"cik": "c"}, "padding": PAD})
    envelope = decode_envelope(body)
    assert envelope["auth"] == {"cik": "c"} and envelope["padding"] == PAD
    first, second, third = envelope["calls"]
    assert isinstance(first["arguments"][1], EntriesSpan) and second == calls[1]
    span = first["arguments"][1].span
    assert body[span[0]:span[0] + span[1]] == b"[[1,2],[3,4]]"
    assert third["arguments"][0] == {"a": 1} and isinstance(third["arguments"][1], EntriesSpan)
    assert decode_envelope(orjson.dumps({"calls": calls, "auth": {}})) == {"calls": calls, "auth": {}}


def test_entries_parsed_off_the_loop_keep_the_call_order(http, server, fresh_client, rpc):
    """Entries of a large span are parsed in a worker thread while the request
    waits; the calls after them still run after them, in order."""
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "float")
    entries = [[t, t / 8] for t in range(1, 20001)]
    assert len(orjson.dumps(entries)) >= LARGE_BODY
    calls = [{"id": 1, "procedure": "recordbatch", "arguments": [port, entries]},
             {"id": 2, "procedure": "info", "arguments": [port, {"storage": True}]},
             {"id": 3, "procedure": "record", "arguments": [port, [[1, "bad"]] + entries]},
             {"id": 4, "procedure": "drop", "arguments": [port]},
             {"id": 5, "procedure": "recordbatch", "arguments": [port, entries]}]
    answers = orjson.loads(post(http, server, body_of(cik, calls, padded=True)))
    assert answers == [{"id": 1, "status": "ok"},
                       {"id": 2, "status": "ok", "result": {"storage": {
                           "count": 20000, "first": 1, "last": 20000, "size": 240000}}},
                       {"id": 3, "status": "invalid"},
                       {"id": 4, "status": "ok"},
                       {"id": 5, "status": "restricted"}]


def test_entries_parsed_off_the_loop_partial_and_refused(http, server, fresh_client, rpc):
    """recordbatch parsed off the loop keeps its valid entries and reports the
    invalid ones; record with an invalid entry stores nothing."""
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    entries = [[t, t] for t in range(1, 20001)] + [[20001, "x"]]
    calls = [{"id": 1, "procedure": "recordbatch", "arguments": [port, entries]},
             {"id": 2, "procedure": "record", "arguments": [port, [[t, -t] for t in range(30001, 50001)] + [[1, "y"]]]},
             {"id": 3, "procedure": "info", "arguments": [port, {"storage": True}]}]
    answers = orjson.loads(post(http, server, body_of(cik, calls, padded=True)))
    assert answers == [{"id": 1, "status": [[20001, "invalid"]]},
                       {"id": 2, "status": "invalid"},
                       {"id": 3, "status": "ok", "result": {"storage": {
                           "count": 20000, "first": 1, "last": 20000, "size": 240000}}}]
