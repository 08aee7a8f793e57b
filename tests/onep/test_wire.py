"""OnepV1 against a scripted loopback server: the exact request on the wire,
response demultiplexing, and the exceptions for bad or failed responses."""
import logging
import math

import numpy
import orjson
import pytest

from pyonep_fast.exceptions import (EncodeError, JsonRPCRequestException, OneException,
                                    OnePlatformException, TransportError)
from pyonep_fast.onep import FORMATS, DeferredRequests, OnepV1
from scripted_http import ScriptedServer, http_response

CIK = "5de0cfcf7b5bed2ea7a8aa00112233445566778f"
RID = "34eaae237988167d90bfc2ffeb666daaaaaaaaaa"


def calls_of(request):
    return orjson.loads(request.body)["calls"]


def ok_for_each_call(request):
    return http_response(orjson.dumps([{"id": c["id"], "status": "ok"} for c in calls_of(request)]))


@pytest.fixture
def acking():
    with ScriptedServer(ok_for_each_call) as server:
        yield server


def client_for(server, **options):
    host, port = server.url.rsplit("//", 1)[1].split(":")
    return OnepV1(host=host, port=port, https=False, **options)


@pytest.fixture
def isolated_class_state(monkeypatch):
    """OnepV1.headers and the logged requests are class-level: keep tests apart."""
    monkeypatch.setattr(OnepV1, "headers", dict(OnepV1.headers))
    monkeypatch.setattr(OnepV1, "_loggedrequests", [])


METHOD_CALLS = [
    ("activate", ("client", "c0de"), "activate", ["client", "c0de"]),
    ("create", ("dataport", {"format": "float"}), "create", ["dataport", {"format": "float"}]),
    ("createDataport", ({"format": "string"},), "create", ["dataport", {"format": "string"}]),
    ("deactivate", ("share", "c0de"), "deactivate", ["share", "c0de"]),
    ("drop", (RID,), "drop", [RID]),
    ("flush", (RID,), "flush", [RID]),
    ("flush", (RID, {"newerthan": 1, "olderthan": 9}), "flush", [RID, {"newerthan": 1, "olderthan": 9}]),
    ("grant", (RID, {RID: ["read"]}), "grant", [RID, {RID: ["read"]}]),
    ("grant", (RID, {RID: ["read"]}, 1000), "grant", [RID, {RID: ["read"]}, {"ttl": 1000}]),
    ("info", (RID,), "info", [RID, {}]),
    ("info", (RID, {"basic": True}), "info", [RID, {"basic": True}]),
    ("listing", (["dataport"],), "listing", [["dataport"]]),
    ("listing", (["dataport"], None, {"alias": ""}), "listing", [["dataport"]]),
    ("listing", (["dataport"], {}), "listing", [["dataport"], {}]),
    ("listing", (["client"], {"owned": True}, {"alias": ""}), "listing",
     [{"alias": ""}, ["client"], {"owned": True}]),
    ("lookup", ("alias", "temp"), "lookup", ["alias", "temp"]),
    ("map", (RID, "temp"), "map", ["alias", RID, "temp"]),
    ("move", (RID, "dest"), "move", [RID, "dest", {"aliases": True}]),
    ("move", (RID, "dest", {"aliases": False}), "move", [RID, "dest", {"aliases": False}]),
    ("read", ({"alias": "t"}, {"limit": 2}), "read", [{"alias": "t"}, {"limit": 2}]),
    ("record", (RID, [[1, 2]]), "record", [RID, [[1, 2]], {}]),
    ("recordbatch", (RID, [[1, 2], [3, 4]]), "recordbatch", [RID, [[1, 2], [3, 4]]]),
    ("revoke", ("client", CIK), "revoke", ["client", CIK]),
    ("share", (RID,), "share", [RID, {}]),
    ("share", (RID, {"meta": "m"}), "share", [RID, {"meta": "m"}]),
    ("tag", (RID, "add", "t1"), "tag", [RID, "add", "t1"]),
    ("unmap", ("temp",), "unmap", ["alias", "temp"]),
    ("update", (RID,), "update", [RID, {}]),
    ("update", (RID, {"name": "n"}), "update", [RID, {"name": "n"}]),
    ("usage", (RID, "dataport", 0, 10), "usage", [RID, "dataport", 0, 10]),
    ("wait", (RID, {"timeout": 5}), "wait", [RID, {"timeout": 5}]),
    ("write", (RID, 21.5), "write", [RID, 21.5, {}]),
    ("write", (RID, "v", {"x": 1}), "write", [RID, "v", {"x": 1}]),
    ("writegroup", ([[RID, 1], ["r2", 2]],), "writegroup", [[[RID, 1], ["r2", 2]]]),
]


@pytest.mark.parametrize("method, args, procedure, arguments", METHOD_CALLS,
                         ids=[f"{m}-{i}" for i, (m, *_) in enumerate(METHOD_CALLS)])
def test_every_method_sends_pyonep_arguments(acking, method, args, procedure, arguments):
    with client_for(acking, startid=7) as onep:
        assert getattr(onep, method)(CIK, *args) == (True, "ok")
        assert getattr(onep, method)(CIK, *args, defer=True) is True
        ((_, isok, value),) = onep.send_deferred(CIK)
        assert (isok, value) == (True, "ok")
    single, deferred = acking.requests
    for request, call_id in ((single, 7), (deferred, 8)):
        assert orjson.loads(request.body) == {
            "auth": {"cik": CIK},
            "calls": [{"id": call_id, "procedure": procedure, "arguments": arguments}]}
        assert request.method == "POST" and request.target == "/onep:v1/rpc/process"
        assert request.headers["content-type"] == "application/json; charset=utf-8"


def test_ids_count_from_startid_over_the_life_of_the_client(acking):
    with client_for(acking, startid=100) as onep:
        onep.read(CIK, RID, {})
        onep.write(CIK, RID, 1, defer=True)
        onep.write(CIK, RID, 2, defer=True)
        triples = onep.send_deferred(CIK)
        onep.info(CIK, RID)
        assert onep.startid == 104
    assert [c["id"] for r in acking.requests for c in calls_of(r)] == [100, 101, 102, 103]
    assert [call["id"] for call, _, _ in triples] == [101, 102]
    assert triples[0][0] == {"id": 101, "procedure": "write", "arguments": [RID, 1, {}]}


def test_auth_forms_and_connect_as_at_send_time(acking):
    with client_for(acking) as onep:
        onep.read(CIK, RID, {}, defer=True)
        onep.connect_as("c" * 40)
        onep.send_deferred(CIK)  # queued before connect_as, sent after: gets client_id
        onep.connect_owner("d" * 40)
        onep.read(CIK, RID, {})
        onep.connect_as(None)
        onep.read(CIK, RID, {})
        onep.connect_as("c" * 40)
        onep.read({"token": "t" * 40}, RID, {})  # a dict auth is sent unchanged
    assert [orjson.loads(r.body)["auth"] for r in acking.requests] == [
        {"cik": CIK, "client_id": "c" * 40},
        {"cik": CIK, "resource_id": "d" * 40},
        {"cik": CIK},
        {"token": "t" * 40},
    ]
    # cik comes first on the wire, as pyonep's json.dumps writes it
    assert acking.requests[0].body.startswith(b'{"auth":{"cik":')


def test_auth_follows_every_connect_as_change_and_the_getauth_hook(acking):
    class Tokened(OnepV1):
        def _getAuth(self, auth):
            return {"token": auth}

    with client_for(acking) as onep:
        for target in (None, "c" * 40, None, "c" * 40, "e" * 40):
            onep.connect_as(target)
            onep.read(CIK, RID, {})
        onep.connect_owner("d" * 40)
        onep.read(CIK, RID, {})
        onep.connect_owner(None)
        onep.read(CIK, RID, {})
    host, port = acking.url.rsplit("//", 1)[1].split(":")
    with Tokened(host=host, port=port, https=False) as tokened:
        tokened.read(CIK, RID, {})
    assert [orjson.loads(r.body)["auth"] for r in acking.requests] == [
        {"cik": CIK}, {"cik": CIK, "client_id": "c" * 40}, {"cik": CIK},
        {"cik": CIK, "client_id": "c" * 40}, {"cik": CIK, "client_id": "e" * 40},
        {"cik": CIK, "resource_id": "d" * 40}, {"cik": CIK}, {"token": CIK},
    ]


def test_a_composecalls_hook_sees_single_and_deferred_calls(acking):
    seen = []

    class Composing(OnepV1):
        def _composeCalls(self, procedures, batch=None, read_only=None):
            seen.append([procedure for procedure, _ in procedures])
            return OnepV1._composeCalls(self, procedures, batch, read_only)

    host, port = acking.url.rsplit("//", 1)[1].split(":")
    with Composing(host=host, port=port, https=False) as onep:
        assert onep.write(CIK, RID, 1) == (True, "ok")
        assert onep.read(CIK, RID, {}) == (True, "ok")
        onep.write(CIK, RID, 2, defer=True)
        onep.info(CIK, RID, defer=True)
        assert [isok for _, isok, _ in onep.send_deferred(CIK)] == [True, True]
    assert seen == [["write"], ["read"], ["write", "info"]]
    assert [[c["procedure"] for c in calls_of(r)] for r in acking.requests] == [
        ["write"], ["read"], ["write", "info"]]


def test_responses_map_to_calls_by_id_in_request_order():
    def reversed_with_noise(request):
        calls = calls_of(request)
        entries = [{"id": c["id"], "status": "ok", "result": c["arguments"][1]} for c in calls][::-1]
        entries.insert(0, {"id": 999999, "status": "ok", "result": "unknown id"})
        entries.insert(1, {"status": "ok", "result": "no id"})
        entries.append({"id": calls[0]["id"], "status": "ok", "result": "duplicate"})  # first wins
        return http_response(orjson.dumps(entries))

    with ScriptedServer(reversed_with_noise) as server, client_for(server) as onep:
        for k in range(50):
            onep.lookup(CIK, "alias", f"a{k}", defer=True)
        triples = onep.send_deferred(CIK)
        assert [value for _, _, value in triples] == [f"a{k}" for k in range(50)]
        assert [call["arguments"] for call, _, _ in triples] == [["alias", f"a{k}"] for k in range(50)]
        assert onep.lookup(CIK, "alias", "single") == (True, "single")


def test_status_and_result_conventions():
    answers = {
        "ok-result": {"status": "ok", "result": {"x": [1, "\u00e9"]}},
        "ok-null": {"status": "ok", "result": None},
        "ok-bare": {"status": "ok"},
        "failed": {"status": "invalid"},
        "failed-result": {"status": "error", "result": "bad type"},
        "partial": {"status": [[1421906172, "invalid"]]},
    }

    def respond(request):
        return http_response(orjson.dumps(
            [{"id": c["id"], **answers[c["arguments"][1]]} for c in calls_of(request)]))

    with ScriptedServer(respond) as server, client_for(server) as onep:
        assert onep.lookup(CIK, "alias", "ok-result") == (True, {"x": [1, "\u00e9"]})
        assert onep.lookup(CIK, "alias", "ok-null") == (True, None)
        assert onep.lookup(CIK, "alias", "ok-bare") == (True, "ok")
        assert onep.lookup(CIK, "alias", "failed") == (False, "invalid")
        assert onep.lookup(CIK, "alias", "failed-result") == (False, "error")
        assert onep.lookup(CIK, "alias", "partial") == (False, [[1421906172, "invalid"]])


@pytest.mark.parametrize("body, exception, message", [
    (b"not json", OnePlatformException, "Exception while parsing JSON response: not json\n"),
    (b"", OnePlatformException, "Exception while parsing JSON response: \n"),
    (b'[{"id": 0, "status": "ok"', OnePlatformException, "Exception while parsing JSON response: "),
    (b'{"error": {"code": 401, "message": "Invalid", "context": "auth"}}', OnePlatformException,
     "{'code': 401, 'message': 'Invalid', 'context': 'auth'}"),
    (b'{"result": 1}', OneException, "Unknown error"),
    (b"5", OneException, "Unknown error"),
    (b'[{"id": 0, "error": {"code": 501, "message": "Error", "context": "arguments"}}]',
     OnePlatformException, "{'code': 501, 'message': 'Error', 'context': 'arguments'}"),
    (b'[{"id": 0}]', OnePlatformException, "No response for the call with id 0"),
    (b"[]", OnePlatformException, "No response for the call with id 0"),
])
def test_bad_responses_raise(body, exception, message):
    with ScriptedServer(lambda r: http_response(body)) as server, client_for(server) as onep:
        with pytest.raises(exception) as raised:
            onep.read(CIK, RID, {})
        assert str(raised.value).startswith(message)


def test_http_status_is_ignored_like_pyonep():
    with ScriptedServer(lambda r: http_response(b'[{"id": 0, "status": "ok"}]', status="500 Oops")) as server, \
            client_for(server) as onep:
        assert onep.write(CIK, RID, 1) == (True, "ok")


def test_deferred_calls_without_an_answer_are_left_out():
    def answer_even_ids(request):
        return http_response(orjson.dumps(
            [{"id": c["id"], "status": "ok"} for c in calls_of(request) if c["id"] % 2 == 0]))

    with ScriptedServer(answer_even_ids) as server, client_for(server) as onep:
        for k in range(6):
            onep.write(CIK, RID, k, defer=True)
        assert [call["arguments"][1] for call, _, _ in onep.send_deferred(CIK)] == [0, 2, 4]


def test_transport_failure_is_a_request_exception_and_clears_the_queue():
    with ScriptedServer(lambda r: None) as server, client_for(server) as onep:
        with pytest.raises(TransportError, match="^Failed to make http request: "):
            onep.write(CIK, RID, 1)
        onep.write(CIK, RID, 1, defer=True)
        with pytest.raises(JsonRPCRequestException):
            onep.send_deferred(CIK)
        assert not onep.has_deferred(CIK)
        with pytest.raises(JsonRPCRequestException, match="^No deferred requests to send.$"):
            onep.send_deferred(CIK)
        assert len(server.requests) == 2  # writes are never re-sent


def test_deferred_queues_per_auth_and_sticky_notimeout(acking):
    with client_for(acking) as onep:
        auth_a = {"cik": CIK, "client_id": "c" * 40}
        auth_b = {"client_id": "c" * 40, "cik": CIK}  # same key: pyonep sorts the keys
        onep.read(CIK, RID, {}, defer=True)
        onep.read(auth_a, RID, {}, defer=True)
        onep.wait(auth_b, RID, {"timeout": 1}, defer=True)
        assert onep.has_deferred(CIK) and onep.has_deferred(auth_b)
        assert onep.deferred.get_method_args_pairs(auth_a) == [
            ("read", [RID, {}]), ("wait", [RID, {"timeout": 1}])]
        assert onep.deferred.get_notimeout(auth_a) and not onep.deferred.get_notimeout(CIK)
        assert len(onep.send_deferred(auth_a)) == 2
        assert onep.has_deferred(CIK) and not onep.has_deferred(auth_a)
        assert onep.deferred.get_notimeout(auth_a)  # never reset, as in pyonep
        onep.deferred.reset(CIK)
        assert not onep.has_deferred(CIK)
    assert orjson.loads(acking.requests[0].body)["auth"] == auth_a


def test_arguments_encode_like_json_dumps(acking):
    big = 2 ** 70
    with client_for(acking) as onep:
        onep.write(CIK, RID, "\u4f60\u597d \"quoted\" \\ \n", {"nested": {"a": [1, 2.5, None, True]}})
        onep.record(CIK, RID, ((1, 2), (3, 4)))  # tuples are arrays
        onep.grant(CIK, RID, {1: ["read"]})  # non-string keys become strings
        onep.write(CIK, RID, big)
        onep.write(CIK, RID, -big)
        onep.record(CIK, RID, numpy.array([[1, 2], [3, 4]]))
        onep.write(CIK, RID, numpy.float64(0.1))
        for bad in (math.nan, math.inf, [1, -math.inf], b"bytes", object()):
            with pytest.raises(EncodeError):
                onep.write(CIK, RID, bad)
            with pytest.raises(EncodeError):
                onep.write(CIK, RID, bad, defer=True)
        assert not onep.has_deferred(CIK)
    arguments = [calls_of(r)[0]["arguments"] for r in acking.requests]
    assert arguments == [
        [RID, "\u4f60\u597d \"quoted\" \\ \n", {"nested": {"a": [1, 2.5, None, True]}}],
        [RID, [[1, 2], [3, 4]], {}],
        [RID, {"1": ["read"]}],
        [RID, big, {}],
        [RID, -big, {}],
        [RID, [[1, 2], [3, 4]], {}],
        [RID, 0.1, {}],
    ]
    assert b"1180591620717411303424" in acking.requests[3].body  # exact, not a float


def test_large_batches_split_and_keep_call_order(acking):
    events = []
    with client_for(acking) as onep:
        onep.max_calls_per_request = 100
        onep.onephttp.hooks.append(events.append)
        for k in range(1050):
            onep.write(CIK, RID, k, defer=True)
        triples = onep.send_deferred(CIK)
    assert [call["arguments"][1] for call, _, _ in triples] == list(range(1050))
    assert all(isok for _, isok, _ in triples)
    assert len(events) == len(acking.requests) == 11
    sent_ids = sorted(c["id"] for r in acking.requests for c in calls_of(r))
    assert sent_ids == list(range(1050))


def test_subclass_hook_sees_every_request(acking):
    seen = []

    class Recording(OnepV1):
        def _callJsonRPC(self, auth, callrequests, returnreq=False, notimeout=False):
            seen.append(([c["procedure"] for c in callrequests], returnreq, notimeout))
            return OnepV1._callJsonRPC(self, auth, callrequests, returnreq, notimeout)

    host, port = acking.url.rsplit("//", 1)[1].split(":")
    with Recording(host=host, port=port, https=False) as onep:
        assert onep.read(CIK, RID, {}) == (True, "ok")
        onep.wait(CIK, RID, {})
        onep.write(CIK, RID, 1, defer=True)
        onep.lookup(CIK, "alias", "x", defer=True)
        assert len(onep.send_deferred(CIK)) == 2
        assert onep._call("info", CIK, [RID, {}], False) == (True, "ok")
    assert seen == [(["read"], False, False), (["wait"], False, True),
                    (["write", "lookup"], True, False), (["info"], False, False)]
    assert len(acking.requests) == 4


def test_hand_built_calls_with_their_own_ids(acking):
    with client_for(acking) as onep:
        calls = [{"id": "a", "procedure": "read", "arguments": [RID, {}]},
                 {"id": 17, "procedure": "write", "arguments": [RID, 1, {}]}]
        triples = onep._callJsonRPC(CIK, calls, returnreq=True)
        assert [(call["id"], isok) for call, isok, _ in triples] == [("a", True), (17, True)]
        assert onep._callJsonRPC(CIK, [{"id": 5, "procedure": "read", "arguments": [RID, {}]}]) == (True, "ok")
    wire_ids = [[c["id"] for c in calls_of(r)] for r in acking.requests]
    assert wire_ids[0] == [0, 1] and wire_ids[1] == [5]


def test_logrequests_class_level_list(acking, isolated_class_state):
    with client_for(acking, logrequests=True) as logging_client, client_for(acking) as quiet:
        logging_client.write(CIK, RID, 1)
        quiet.write(CIK, RID, 2)
        logging_client.write(CIK, RID, 3, defer=True)
        logging_client.send_deferred(CIK)
        assert quiet.loggedrequests() is logging_client.loggedrequests()
        logged = logging_client.loggedrequests()
    assert [(entry["auth"], [dict(c) for c in entry["calls"]]) for entry in logged] == [
        ({"cik": CIK}, [{"id": 0, "procedure": "write", "arguments": [RID, 1, {}]}]),
        ({"cik": CIK}, [{"id": 1, "procedure": "write", "arguments": [RID, 3, {}]}]),
    ]


def test_agent_and_class_level_headers(acking, isolated_class_state):
    with client_for(acking, agent="my-app/1.0") as onep:
        onep.write(CIK, RID, 1)
        OnepV1.headers["X-Extra"] = "yes"  # programs may add headers to the class dict
        onep.write(CIK, RID, 1)
    first, second = acking.requests
    assert first.headers["user-agent"] == "my-app/1.0"
    assert second.headers["x-extra"] == "yes"


def test_curldebug_logs_a_curl_command_without_the_cik(acking, caplog):
    caplog.set_level(logging.DEBUG, logger="pyonep_fast.onep")
    with client_for(acking, curldebug=True) as onep:
        onep.write(CIK, RID, "it's", {})
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("curl ")]
    assert CIK not in line
    assert f"{acking.url}/onep:v1/rpc/process" in line
    assert "-X POST" in line and "-m 10" in line
    assert "'Content-Type: application/json; charset=utf-8'" in line
    assert line.startswith(f"curl '{acking.url}/onep:v1/rpc/process' -X POST -m 10 -H ")
    assert "<redacted>" in line and "it'\\''s" in line


def test_constructor_defaults_and_exports():
    onep = OnepV1(httptimeout=2.9)
    assert onep.httptimeout == 2
    assert onep.host == "m2.exosite.com:443" and onep.https is True
    assert onep.url == "/onep:v1/rpc/process"
    assert onep.startid == 0 and onep.logrequests is False
    assert isinstance(onep.deferred, DeferredRequests)
    assert (FORMATS.STRING, FORMATS.FLOAT, FORMATS.INTEGER) == ("string", "float", "integer")
    onep.close()
