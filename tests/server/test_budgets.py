"""Per-request budgets of the embedded server (issue 9, item 7; values in
server/limits.py): a request over budget gets the API's own error and
nothing of it runs; one within budget runs whole, in order, though in
slices of the event loop. Reads that would return more points, or more
bytes, than the budgets allow are refused before they are built."""
import tracemalloc

import orjson
import pytest
import urllib3

from conftest import JSON_HEADERS, RPC_PATH
from pyonep_fast._core import backend
from pyonep_fast.server import EmbeddedServer, Limits
from pyonep_fast.server.limits import DEFAULT
from pyonep_fast.server.onep.entries import entries_columns
from pyonep_fast.server.onep.errors import CallRefused, over_budget
from pyonep_fast.server.onep.wire import OVERSIZED, EntriesSpan, decode_envelope
from rpc_helpers import make_dataport, ok


def post(server, http, cik, calls):
    body = orjson.dumps({"auth": {"cik": cik}, "calls": calls})
    response = http.request("POST", server.url + RPC_PATH, body=body, headers=JSON_HEADERS)
    assert response.status == 200
    return orjson.loads(response.data)


def test_too_many_calls_is_refused_whole_and_runs_none(server, http, rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    calls = [{"id": n, "procedure": "record", "arguments": [port, [[n, n]], {}]}
             for n in range(DEFAULT.calls_per_request + 1)]
    assert post(server, http, cik, calls) == {
        "error": {"code": 413, "message": "Request Entity Too Large", "context": "calls"}}
    assert ok(rpc, cik, "info", port, {"storage": True})["storage"]["count"] == 0


def test_a_request_of_the_most_calls_runs_whole_and_in_order(server, http, rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    calls = [{"id": n, "procedure": "record", "arguments": [port, [[n, n]], {}]}
             for n in range(DEFAULT.calls_per_request - 1)]
    calls.append({"id": "last", "procedure": "read", "arguments": [port, {"limit": 3}]})
    answer = post(server, http, cik, calls)
    assert [entry["id"] for entry in answer] == list(range(DEFAULT.calls_per_request - 1)) + ["last"]
    assert all(entry["status"] == "ok" for entry in answer)
    assert answer[-1]["result"] == [[n, n] for n in range(DEFAULT.calls_per_request - 2, DEFAULT.calls_per_request - 5, -1)]


# --- reads and responses, on a server with small budgets ------------------------------
POINTS = 100
RESPONSE_BYTES = 20_000
OVER = {"code": 413, "message": "Request Entity Too Large"}


@pytest.fixture(scope="module")
def small():
    with EmbeddedServer(limits=Limits(points_per_read=POINTS, response_bytes=RESPONSE_BYTES)) as running:
        yield running


@pytest.fixture
def small_rpc(small):
    pool = urllib3.PoolManager(retries=False)

    def call(auth, calls):
        response = pool.request("POST", small.url + RPC_PATH, headers=JSON_HEADERS,
                                body=orjson.dumps({"auth": {"cik": auth}, "calls": calls}))
        assert response.status == 200
        return orjson.loads(response.data)
    made = orjson.loads(pool.request("GET", small.url + "/api/create?vendor").data)
    return call, made["cik"]


def refusal(call_id, context):
    return {"id": call_id, "status": "fail", "error": {**OVER, "context": context}}


def test_a_read_of_more_points_than_the_budget_is_refused_and_one_within_it_answers(small_rpc):
    rpc, cik = small_rpc
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "record", port, [[t, t] for t in range(1, 2 * POINTS + 1)], {})
    for selection in ("all", "givenwindow", "autowindow"):
        wide = {"starttime": 0, "endtime": 10 ** 6, "limit": 10 ** 7, "selection": selection}
        assert rpc(cik, [{"id": 1, "procedure": "read", "arguments": [port, wide]}]) == [refusal(1, "points")]
    # the budget is on what a read returns, not on its limit: a big limit over few points answers
    answer = rpc(cik, [{"id": 1, "procedure": "read", "arguments": [port, {"starttime": 150, "limit": 10 ** 7}]}])
    assert answer[0]["result"] == [[t, t] for t in range(2 * POINTS, 149, -1)]
    exact = rpc(cik, [{"id": 1, "procedure": "read", "arguments": [port, {"starttime": 0, "limit": POINTS}]}])
    assert len(exact[0]["result"]) == POINTS


def test_reads_past_the_response_budget_are_refused_and_later_calls_still_run(small_rpc):
    rpc, cik = small_rpc
    port = make_dataport(rpc, cik, "string")
    value = "v" * 1000
    ok(rpc, cik, "record", port, [[t, value] for t in range(1, 9)], {})    # 8 KB a read
    reads = [{"id": n, "procedure": "read", "arguments": [port, {"starttime": 0, "limit": 8}]} for n in range(4)]
    answer = rpc(cik, reads + [{"id": "w", "procedure": "write", "arguments": [port, "after", {}]},
                               {"id": "r", "procedure": "read", "arguments": [port, {}]}])
    assert [len(entry["result"]) for entry in answer[:2]] == [8, 8]
    assert answer[2:4] == [refusal(2, "response"), refusal(3, "response")]
    assert answer[4] == {"id": "w", "status": "ok"}
    assert answer[5]["result"][0][1] == "after"


def test_a_recordbatch_whose_status_list_passes_the_budget_stores_nothing(small_rpc):
    rpc, cik = small_rpc
    port = make_dataport(rpc, cik, "integer")
    entries = [[t, "x" if t % 2 else t] for t in range(1, 2 * POINTS + 4)]    # POINTS + 2 invalid
    assert rpc(cik, [{"id": 1, "procedure": "recordbatch", "arguments": [port, entries, {}]}]) == [
        refusal(1, "points")]
    assert ok(rpc, cik, "info", port, {"storage": True})["storage"]["count"] == 0
    answer = rpc(cik, [{"id": 1, "procedure": "recordbatch", "arguments": [port, entries[:20], {}]}])
    assert answer[0]["status"] == [[t, "invalid"] for t in range(1, 21, 2)]


def test_an_oversized_write_value_is_refused_and_nothing_is_stored(server, http, rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "string")
    ok(rpc, cik, "write", port, "kept", {})
    huge = "x" * (2 << 20)      # past the 64 KB a value may hold, and large enough to stay undecoded
    calls = [{"id": 1, "procedure": "write", "arguments": [port, huge, {}]},
             {"id": 2, "procedure": "writegroup", "arguments": [[[port, huge]]]},
             {"id": 3, "procedure": "record", "arguments": [port, [[1, huge]], {}]},
             {"id": 4, "procedure": "create", "arguments": ["dataport", {"format": "string", "name": huge}]},
             {"id": 5, "procedure": "read", "arguments": [port, {}]}]
    answer = post(server, http, cik, calls)
    assert [entry["status"] for entry in answer][:4] == ["invalid"] * 4
    assert answer[4]["result"][0][1] == "kept"
    assert ok(rpc, cik, "info", port, {"storage": True})["storage"]["count"] == 1
    # it is never decoded: no Python string of it is built (nor the GIL held that long)
    decoded = decode_envelope(orjson.dumps({"auth": {"cik": cik}, "calls": calls}))
    assert decoded["calls"][0]["arguments"][1] is OVERSIZED
    assert decoded["calls"][1]["arguments"][0] == [[port, OVERSIZED]]


def test_calls_past_the_budget_are_not_decoded():
    body = orjson.dumps({"auth": {"cik": "0" * 40}, "calls": [{"id": n} for n in range(200_000)]})
    assert decode_envelope(body, max_calls=DEFAULT.calls_per_request)["calls"] == [{}] * 200_000
    assert decode_envelope(body)["calls"][-1] == {"id": 199_999}


def test_calls_past_the_budget_are_counted_without_building_their_spans():
    """A span tuple per call was ~120 bytes: 200,000 of them held the GIL
    (and a worker's memory) for nothing; only the list of empty calls is built."""
    body = orjson.dumps({"auth": {"cik": "0" * 40}, "calls": [{"id": n} for n in range(200_000)]})
    tracemalloc.start()
    try:
        decoded = decode_envelope(body, max_calls=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(decoded["calls"]) == 200_000
    assert peak < 200_000 * 8 + (1 << 20)       # the list of 200,000 references, and little else


def test_a_provisioning_body_of_more_items_than_the_budget_is_refused_413_and_stores_nothing():
    with EmbeddedServer(limits=Limits(items_per_request=50)) as limited:   # 51 serial numbers: one too many
        pool = urllib3.PoolManager(retries=False)
        made = orjson.loads(pool.request("GET", limited.url + "/api/create?vendor").data)
        token = {"X-Exosite-Token": made["vendortoken"]}
        form = {**token, "Content-Type": "application/x-www-form-urlencoded"}
        template = ok(lambda auth, calls: orjson.loads(pool.request(
            "POST", limited.url + RPC_PATH, headers=JSON_HEADERS,
            body=orjson.dumps({"auth": {"cik": auth}, "calls": calls})).data), made["cik"], "create", "client", {})
        assert pool.request("POST", limited.url + "/provision/manage/model/", body=f"model=m&rid={template}",
                            headers=form).status == 205
        serials = "/provision/manage/model/m/"
        too_many = "&".join(f"sn%5B%5D=sn{n}" for n in range(51))
        for body, headers in ((too_many, form), ("\n".join(f"sn{n}" for n in range(51)),
                                                 {**token, "Content-Type": "text/csv"})):
            answer = pool.request("POST", limited.url + serials, body=body, headers=headers)
            assert (answer.status, answer.data) == (413, b"HTTP/1.1 413 Request Entity Too Large\r\n")
        assert pool.request("GET", limited.url + serials + "?limit=1000", headers=token).data == b""
        assert pool.request("POST", limited.url + serials, body=too_many.rsplit("&", 1)[0],
                            headers=form).status == 205
        listed = pool.request("GET", limited.url + serials + "?limit=1000", headers=token).data.decode().split("\n")
        assert len(listed) == 50


def test_m2x_sampling_and_export_over_the_points_budget_are_refused_413_in_m2xs_shape(small):
    pool = urllib3.PoolManager(retries=False)
    key = orjson.loads(pool.request("POST", small.url + "/_fixtures/m2x/accounts").data)["key"]

    def call(method, path, body=None):
        response = pool.request(method, small.url + "/v2" + path, body=None if body is None else orjson.dumps(body),
                                headers={"X-M2X-KEY": key, "Content-Type": "application/json"})
        return response.status, orjson.loads(response.data) if response.data else None
    _, device = call("POST", "/devices", {"name": "d", "visibility": "private"})
    stream = f"/devices/{device['id']}/streams/s"
    assert call("PUT", stream, {"type": "numeric"})[0] == 201
    values = [{"timestamp": f"2015-01-01T00:{t // 60:02d}:{t % 60:02d}Z", "value": t} for t in range(POINTS + 20)]
    assert call("POST", stream + "/values", {"values": values})[0] == 202
    over = {"code": "request_entity_too_large",
            "message": f"The range holds more than {POINTS} points; narrow it with start and end"}
    assert call("GET", stream + "/sampling?interval=60&type=max") == (413, over)
    assert call("GET", f"/devices/{device['id']}/values/export.csv") == (413, over)
    status, sampled = call("GET", stream + "/sampling?interval=60&type=max&start=2015-01-01T00:01:00Z")
    assert status == 200 and sampled["values"][0]["value"] == POINTS + 19
    assert call("GET", f"/devices/{device['id']}/values/export.csv?start=2015-01-01T00:01:00Z")[0] == 202


def test_an_hdi_read_past_the_response_budget_is_refused_413_and_its_writes_are_not_stored(small, small_rpc):
    rpc, cik = small_rpc
    for alias in ("a", "b", "c"):
        make_dataport(rpc, cik, "string", alias=alias)
    pool = urllib3.PoolManager(retries=False)
    url = small.url + "/onep:v1/stack/alias"
    form = {"X-Exosite-CIK": cik, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    value = "v" * (RESPONSE_BYTES // 3)         # two of them fit the budget, three do not
    assert pool.request("POST", url, body=f"a={value}&b={value}", headers=form).status == 204
    assert pool.request("GET", url + "?a&b", headers={"X-Exosite-CIK": cik}).data == f"b={value}&a={value}".encode()
    hybrid = pool.request("POST", url + "?a&b&c", body=f"c={value}", headers=form)
    assert (hybrid.status, hybrid.headers["Content-Type"], hybrid.data) == (
        413, "text/plain; charset=utf-8", b"response too large")
    assert ok(rpc, cik, "info", {"alias": "c"}, {"storage": True})["storage"]["count"] == 0
    assert pool.request("POST", url, body=f"c={value}", headers=form).status == 204
    read = pool.request("GET", url + "?a&b&c", headers={"X-Exosite-CIK": cik})
    assert (read.status, read.data) == (413, b"response too large")
    assert pool.request("GET", url + "?c", headers={"X-Exosite-CIK": cik}).data == f"c={value}".encode()
    large = "w" * 40_000                        # two: past the size from which the answer is counted off the loop
    for alias in ("d", "e"):
        make_dataport(rpc, cik, "string", alias=alias)
        assert pool.request("POST", url, body=f"{alias}={large}", headers=form).status == 204
    read = pool.request("GET", url + "?d&e", headers={"X-Exosite-CIK": cik})
    assert (read.status, read.headers["Content-Type"], read.data) == (413, "text/plain; charset=utf-8", b"response too large")


def test_invalid_entries_past_the_budget_are_refused_before_their_list_is_built():
    body = orjson.dumps([[t, "x"] for t in range(1, 300_001)])    # every one invalid for an integer port
    counted = []

    def admit(count):
        counted.append(count)
        raise over_budget("points")
    tracemalloc.start()
    try:
        with pytest.raises(CallRefused):
            entries_columns("int", EntriesSpan(body, (0, len(body))), 0, admit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counted == [300_000]
    if backend == "c":      # (the Python twin's parser builds its rows as Python objects: traced either way)
        assert peak < 1 << 20, peak     # a list of 300,000 timestamps was ~12 MB
