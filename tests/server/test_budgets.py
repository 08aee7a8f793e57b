"""Per-request budgets of the embedded server (issue 9, item 7): a request
over budget gets the API's own error and nothing of it runs; one within
budget runs whole, in order, though in slices of the event loop."""
import orjson

from conftest import JSON_HEADERS, RPC_PATH
from pyonep_fast.server.onep.rpc import MAX_CALLS_PER_REQUEST
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
             for n in range(MAX_CALLS_PER_REQUEST + 1)]
    assert post(server, http, cik, calls) == {
        "error": {"code": 413, "message": "Request Entity Too Large", "context": "calls"}}
    assert ok(rpc, cik, "info", port, {"storage": True})["storage"]["count"] == 0


def test_a_request_of_the_most_calls_runs_whole_and_in_order(server, http, rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    calls = [{"id": n, "procedure": "record", "arguments": [port, [[n, n]], {}]}
             for n in range(MAX_CALLS_PER_REQUEST - 1)]
    calls.append({"id": "last", "procedure": "read", "arguments": [port, {"limit": 3}]})
    answer = post(server, http, cik, calls)
    assert [entry["id"] for entry in answer] == list(range(MAX_CALLS_PER_REQUEST - 1)) + ["last"]
    assert all(entry["status"] == "ok" for entry in answer)
    assert answer[-1]["result"] == [[n, n] for n in range(MAX_CALLS_PER_REQUEST - 2, MAX_CALLS_PER_REQUEST - 5, -1)]
