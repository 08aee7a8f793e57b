"""Values that gave a whole-request 500 or a wrong answer (issue 9, items 6
and 9): each gets the API's own answer, and one tenant's failing subscriber
never fails another tenant's write."""
import json
import time

import orjson
import pytest

from conftest import JSON_HEADERS, RPC_PATH
from rpc_helpers import make_dataport, ok, one

BIG_ID = 123456789012345678901234567890
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def exact(server, http, cik, calls_json):
    """The response to a hand-written calls array, decoded by the stdlib json,
    which keeps integers of any size exact (orjson turns them into floats)."""
    body = b'{"auth": {"cik": "%s"}, "calls": %s}' % (cik.encode(), calls_json.encode())
    response = http.request("POST", server.url + RPC_PATH, body=body, headers=JSON_HEADERS)
    assert response.status == 200
    return json.loads(response.data)


# --- item 6 ---------------------------------------------------------------------------------
def test_a_failing_subscriber_never_fails_the_writer(rpc, fresh_client, server, http):
    """Another tenant subscribes to a public port with a preprocess that
    overflows its integer format: the publisher's writes still succeed and
    are stored; the subscriber stores nothing for them."""
    publisher = fresh_client["cik"]
    source = make_dataport(rpc, publisher, "integer", alias="source", public=True)
    other = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]
    overflowing = make_dataport(rpc, other, "integer", subscribe=source, preprocess=[["mul", 1e30]])
    fine = make_dataport(rpc, other, "integer", subscribe=source, preprocess=[["add", 1]])

    assert one(rpc, publisher, "write", source, 5, {}) == {"status": "ok"}
    assert one(rpc, publisher, "record", source, [[100, 6]], {}) == {"status": "ok"}
    assert one(rpc, publisher, "recordbatch", source, [[101, 7], [102, 8]]) == {"status": "ok"}
    assert one(rpc, publisher, "writegroup", [[source, 9]]) == {"status": "ok"}
    hdi = http.request("POST", server.url + "/onep:v1/stack/alias", body="source=10",
                       headers={"X-Exosite-CIK": publisher, **FORM})
    assert hdi.status == 204
    hdi = http.request("POST", server.url + "/onep:v1/stack/record", body="alias=source&103=11",
                       headers={"X-Exosite-CIK": publisher, **FORM})
    assert hdi.status == 204

    stored = ok(rpc, publisher, "read", source, {"starttime": 0, "limit": 100, "sort": "asc"})
    assert [value for t, value in stored if t < 1000] == [6, 7, 8, 11]
    assert {value for t, value in stored if t >= 1000} <= {5, 9, 10} and stored[-1][1] == 10   # written now
    assert ok(rpc, other, "info", overflowing, {"storage": True})["storage"]["count"] == 0
    followed = ok(rpc, other, "read", fine, {"starttime": 0, "endtime": 999, "limit": 100, "sort": "asc"})
    assert followed == [[100, 7], [101, 8], [102, 9], [103, 12]]


@pytest.mark.parametrize("duration", [1e308, 2 ** 63, float(2 ** 62), (2 ** 63 - 1) // 3600 + 1])
def test_retention_duration_beyond_the_clock_is_invalid(rpc, fresh_client, duration):
    cik = fresh_client["cik"]
    desc = {"format": "integer", "retention": {"count": "infinity", "duration": duration}}
    assert one(rpc, cik, "create", "dataport", desc) == {"status": "invalid"}
    port = make_dataport(rpc, cik, "integer")
    assert one(rpc, cik, "update", port, {"retention": {"duration": duration}}) == {"status": "invalid"}
    assert one(rpc, cik, "write", port, 1, {}) == {"status": "ok"}
    assert ok(rpc, cik, "info", port, {"description": True})["description"]["retention"]["duration"] == "infinity"


@pytest.mark.parametrize("types", [5, None, "dataport", {"dataport": True}])
def test_listing_types_not_a_list_of_names_is_invalid(rpc, fresh_client, types):
    cik = fresh_client["cik"]
    assert one(rpc, cik, "listing", {"alias": ""}, types, {}) == {"status": "invalid"}
    assert one(rpc, cik, "listing", {"alias": ""}, types, 5) == {"status": "invalid"}


@pytest.mark.parametrize("fmt", [[], {}, ["float"], 5, None])
def test_a_format_that_is_not_a_name_is_invalid(rpc, fresh_client, fmt):
    cik = fresh_client["cik"]
    assert one(rpc, cik, "create", "dataport", {"format": fmt}) == {"status": "invalid"}
    assert one(rpc, cik, "create", "datarule", {"format": fmt, "rule": {"simple": {
        "comparison": "gt", "constant": 1, "repeat": True}}}) == {"status": "invalid"}


@pytest.mark.parametrize("ttl", [2 ** 63, 2 ** 63 - 1, 2 ** 63 - 1 - 10 ** 9, 1e300])
def test_a_ttl_beyond_the_clock_is_invalid_and_leaves_no_token(rpc, fresh_client, ttl):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    assert one(rpc, cik, "grant", rid, {rid: ["read"]}, {"ttl": ttl}) == {"status": "invalid"}
    assert ok(rpc, cik, "listing", rid, ["token"], {}) == {"token": []}
    token = ok(rpc, cik, "grant", rid, {rid: ["read"]}, {"ttl": 3600})
    assert ok(rpc, cik, "listing", rid, ["token"], {}) == {"token": [token]}


# --- item 9 ---------------------------------------------------------------------------------
def test_a_write_after_a_wait_is_stamped_when_it_runs(rpc, fresh_client):
    cik = fresh_client["cik"]
    quiet = make_dataport(rpc, cik, "integer")
    port = make_dataport(rpc, cik, "integer")
    before = int(time.time())
    answer = rpc(cik, [{"id": 1, "procedure": "wait", "arguments": [quiet, {"timeout": 2000}]},
                       {"id": 2, "procedure": "write", "arguments": [port, 7, {}]},
                       {"id": 3, "procedure": "writegroup", "arguments": [[[quiet, 8]]]}])
    assert answer == [{"id": 1, "status": "expire"}, {"id": 2, "status": "ok"}, {"id": 3, "status": "ok"}]
    (written_at, _), = ok(rpc, cik, "read", port, {})
    (grouped_at, _), = ok(rpc, cik, "read", quiet, {})
    assert written_at >= before + 2 and grouped_at >= before + 2    # the wait took 2 s before them


@pytest.mark.parametrize("call_id", [str(BIG_ID), str(-BIG_ID), "18446744073709551616", "-9223372036854775809",
                                     "18446744073709551615", "9007199254740993", "1.5e300", "0.1", "1E+2"])
@pytest.mark.parametrize("padding", [0, 70000])     # a large body is decoded another way
def test_call_ids_are_echoed_exactly(server, http, fresh_client, call_id, padding):
    """Equal and of the same type once decoded (json keeps integers of any size)."""
    calls = ('[{"id": %s, "procedure": "lookup", "arguments": ["alias", ""]}, {"procedure": "record", '
             '"arguments": [{"alias": ""}, [[1, "%s"]]]}]' % (call_id, "x" * padding))
    answer = exact(server, http, fresh_client["cik"], calls)
    assert answer == [{"id": json.loads(call_id), "status": "ok", "result": fresh_client["rid"]}]
    assert type(answer[0]["id"]) is type(json.loads(call_id))


def test_recordbatch_reports_the_given_time_of_an_out_of_range_entry(server, http, rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    before_epoch = -(int(time.time()) + 100)
    answer = exact(server, http, cik, '[{"id": 1, "procedure": "recordbatch", "arguments": ["%s", '
                   '[[%d, 1], [1e30, 2], [-1e30, 3], [%d, 4], [%d, 5], [5, 6], [-5, 7]]]}]'
                   % (port, BIG_ID, 2 ** 63, before_epoch))
    assert answer == [{"id": 1, "status": [[BIG_ID, "invalid"], [1e30, "invalid"], [-1e30, "invalid"],
                                           [2 ** 63, "invalid"], [before_epoch, "invalid"]]}]
    stored = ok(rpc, cik, "read", port, {"starttime": 0, "limit": 10, "sort": "asc"})
    assert stored[0] == [5, 6] and len(stored) == 2 and stored[1][1] == 7
    answer = one(rpc, cik, "recordbatch", port, [[1e30, 1], ["x", 2], [-1e30, 3], [7, "x"], [8, 8]])
    assert answer == {"status": [[1e30, "invalid"], [None, "invalid"], [-1e30, "invalid"], [7, "invalid"]]}


def test_relative_times_before_epoch_are_invalid(rpc, fresh_client, server, http):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer", alias="early")
    too_early = -(int(time.time()) + 100)
    assert one(rpc, cik, "record", port, [[too_early, 1]], {}) == {"status": "invalid"}
    assert one(rpc, cik, "record", port, [[10, 1], [too_early, 2]], {}) == {"status": "invalid"}
    assert one(rpc, cik, "recordbatch", port, [[too_early, 1]]) == {"status": [[too_early, "invalid"]]}
    hdi = http.request("POST", server.url + "/onep:v1/stack/record", body=f"alias=early&{too_early}=3",
                       headers={"X-Exosite-CIK": cik, **FORM})
    assert hdi.status == 400
    assert ok(rpc, cik, "info", port, {"storage": True})["storage"]["count"] == 0


@pytest.mark.parametrize("stamp", ["1_000", " 1000", "1000 ", "+1000", "١٠٠٠", "0x10", "1e3", ""])
def test_hdi_record_takes_only_decimal_timestamps(rpc, fresh_client, server, http, stamp):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer", alias="decimal")
    response = http.request("POST", server.url + "/onep:v1/stack/record",
                            body=f"alias=decimal&20=1&{stamp}=2".encode(), headers={"X-Exosite-CIK": cik, **FORM})
    assert response.status == 400
    assert ok(rpc, cik, "info", port, {"storage": True})["storage"]["count"] == 0
