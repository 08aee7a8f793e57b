"""Rules that run (spec 2.2, 2.3, 8.17): timer datarules on the server's
event loop (surviving a restart) and dispatch delivery, against the
embedded server. Timers use 1-2 s timeouts; every wait is the server's own
long poll (`wait`) with a deadline."""
import http.server
import threading

import orjson
import pytest
import urllib3

from pyonep_fast.server import EmbeddedServer
from rpc_helpers import make_dataport, ok, one
from scripted_http import closed_port

RPC = "/onep:v1/rpc/process"


def next_output(rpc, cik, rid, since, timeout_ms=4000):
    """The first point of rid after `since` (server-side long poll)."""
    return ok(rpc, cik, "wait", rid, {"since": since, "timeout": timeout_ms})


def write_now(rpc, cik, rid, value, rule=None):
    """Writes value; returns the timestamp the server gave it, and with
    `rule` also rule's latest points read in the same request (no timer
    runs between the calls of one request)."""
    calls = [{"id": 1, "procedure": "write", "arguments": [rid, value, {}]},
             {"id": 2, "procedure": "read", "arguments": [rid, {}]}]
    if rule is not None:
        calls.append({"id": 3, "procedure": "read", "arguments": [rule, {}]})
    answers = rpc(cik, calls)
    assert all(answer["status"] == "ok" for answer in answers), answers
    t = answers[1]["result"][0][0]
    return t if rule is None else (t, answers[2]["result"])


def make_rule(rpc, cik, source, rule):
    return ok(rpc, cik, "create", "datarule", {"format": "integer", "subscribe": source, "rule": rule})


def test_timeout_rule_fires_without_input_and_resets_on_input(rpc, fresh_client):
    cik = fresh_client["cik"]
    source = make_dataport(rpc, cik)
    rule = make_rule(rpc, cik, source, {"timeout": {"timeout": 1, "repeat": True}})
    follower = make_dataport(rpc, cik, "integer", subscribe=rule)    # outputs feed subscribers
    first = next_output(rpc, cik, rule, 0)
    assert first[1] == 1                                              # no input within 1 s
    assert next_output(rpc, cik, follower, 0) == first
    again = next_output(rpc, cik, rule, first[0])                     # repeat: the timer restarts on expiry
    assert again[1] == 1 and again[0] > first[0]
    t, latest = write_now(rpc, cik, source, 5.0, rule)
    assert latest == [[t, 0]]                                         # input: false at once
    after = next_output(rpc, cik, rule, t)
    assert after[1] == 1 and after[0] >= t + 1


def test_timeout_rule_without_repeat_fires_once(rpc, fresh_client):
    cik = fresh_client["cik"]
    source = make_dataport(rpc, cik)
    rule = make_rule(rpc, cik, source, {"timeout": {"timeout": 1, "repeat": False}})
    fired = next_output(rpc, cik, rule, 0)
    assert fired[1] == 1
    assert one(rpc, cik, "wait", rule, {"since": fired[0], "timeout": 1500})["status"] == "expire"


def test_interval_rule_reemits_true_while_the_comparison_holds(rpc, fresh_client):
    cik = fresh_client["cik"]
    source = make_dataport(rpc, cik)
    rule = make_rule(rpc, cik, source, {"interval": {"comparison": "gt", "constant": 10, "timeout": 1,
                                                     "repeat": True}})
    t, latest = write_now(rpc, cik, source, 20, rule)
    assert latest == [[t, 1]]
    re_emitted = next_output(rpc, cik, rule, t)
    assert re_emitted[1] == 1 and re_emitted[0] > t
    t, latest = write_now(rpc, cik, source, 3, rule)
    assert latest == [[t, 0]]
    assert one(rpc, cik, "wait", rule, {"since": t, "timeout": 1500})["status"] == "expire"   # timer stopped


def test_duration_rule_true_only_after_holding(rpc, fresh_client):
    cik = fresh_client["cik"]
    source = make_dataport(rpc, cik)
    rule = make_rule(rpc, cik, source, {"duration": {"comparison": "gt", "constant": 10, "timeout": 1,
                                                     "repeat": False}})
    t, latest = write_now(rpc, cik, source, 20, rule)
    assert latest == []                                               # not yet held for 1 s
    held = next_output(rpc, cik, rule, 0)
    assert held[1] == 1 and held[0] >= t + 1
    t, latest = write_now(rpc, cik, source, 1, rule)
    assert latest == [[t, 0]]                                         # false at once


def test_count_rule_true_for_enough_true_inputs_in_the_window(rpc, fresh_client):
    cik = fresh_client["cik"]
    source = make_dataport(rpc, cik)
    rule = make_rule(rpc, cik, source, {"count": {"comparison": "gt", "constant": 10, "count": 2, "timeout": 2,
                                                  "repeat": False}})
    ok(rpc, cik, "record", source, [[-1, 1.0]], {})                   # a false input: 0
    assert ok(rpc, cik, "read", rule, {})[0][1] == 0
    answers = rpc(cik, [{"id": 1, "procedure": "write", "arguments": [source, 20, {}]},
                        {"id": 2, "procedure": "read", "arguments": [rule, {}]},
                        {"id": 3, "procedure": "write", "arguments": [source, 30, {}]},
                        {"id": 4, "procedure": "read", "arguments": [rule, {}]}])
    assert answers[1]["result"][0][1] == 0 and answers[3]["result"][0][1] == 1
    t = answers[3]["result"][0][0]
    expired = next_output(rpc, cik, rule, t, 5000)                   # the window passes: false again
    assert expired[1] == 0 and expired[0] >= t + 1


def test_timers_survive_a_restart(tmp_path):
    path = str(tmp_path / "rules.db")
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30))

    def call(server, cik, procedure, *arguments):
        body = orjson.dumps({"auth": {"cik": cik}, "calls": [{"id": 1, "procedure": procedure,
                                                               "arguments": list(arguments)}]})
        entry, = orjson.loads(pool.request("POST", server.url + RPC, body=body).data)
        assert entry["status"] == "ok", entry
        return entry.get("result")

    with EmbeddedServer(db=path) as first:
        cik = orjson.loads(pool.request("GET", first.url + "/api/create?vendor").data)["cik"]
        rule = call(first, cik, "create", "datarule", {"format": "integer",
                                                       "rule": {"timeout": {"timeout": 2, "repeat": False}}})
    with EmbeddedServer(db=path) as second:                            # stopped before it fired
        assert call(second, cik, "read", rule, {}) == []
        fired = call(second, cik, "wait", rule, {"since": 0, "timeout": 5000})
        assert fired[1] == 1


class Recipient(http.server.BaseHTTPRequestHandler):
    """A loopback HTTP endpoint recording what dispatches send it."""
    received = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.received.append((self.command, self.path, self.rfile.read(length).decode()))
        self.send_response(500 if self.path.startswith("/fail") else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def recipient():
    Recipient.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recipient)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Recipient.received
    server.shutdown()
    server.server_close()


def make_dispatch(rpc, cik, source, method, recipient, **desc):
    return ok(rpc, cik, "create", "dispatch", {"method": method, "recipient": recipient, "subscribe": source,
                                               **desc})


def test_http_dispatches_deliver_and_store_each_attempts_status(rpc, fresh_client, server, recipient):
    cik = fresh_client["cik"]
    url, received = recipient
    source = make_dataport(rpc, cik)
    post = make_dispatch(rpc, cik, source, "http_post", url + "/in", message="temp=[[value]]")
    put = make_dispatch(rpc, cik, source, "http_put", url + "/put")
    get = make_dispatch(rpc, cik, source, "http_get", url + "/get?x=1")
    failing = make_dispatch(rpc, cik, source, "http_post", url + "/fail")
    with socket_closed() as closed_url:
        unreachable = make_dispatch(rpc, cik, source, "http_get", closed_url)
    t = write_now(rpc, cik, source, 21.5)
    for dispatch in (post, put, get):
        assert next_output(rpc, cik, dispatch, 0) == [t, "delivered"]
    assert next_output(rpc, cik, failing, 0) == [t, "failed: HTTP 500"]
    status = next_output(rpc, cik, unreachable, 0)
    assert status[0] == t and status[1].startswith("failed: ")
    assert sorted(received) == sorted([("POST", "/in", "temp=21.5"), ("PUT", "/put", "21.5"), ("GET", "/get?x=1", ""),
                                       ("POST", "/fail", "21.5")])
    outbox = server.store.onep.rules.outbox(post)
    assert [(row["method"], row["recipient"], row["message"], row["status"]) for row in outbox] == [
        ("http_post", url + "/in", "temp=21.5", "delivered")]
    activity = ok(rpc, cik, "info", failing, {"basic": True})["basic"]["activity"]
    assert activity == [[t, ["failed: HTTP 500"]]]


class socket_closed:
    """A loopback URL nobody listens on."""

    def __enter__(self):
        return f"http://127.0.0.1:{closed_port()}/"

    def __exit__(self, *exc):
        return False


def test_outbox_dispatches_and_locked_ones(rpc, fresh_client, server, recipient):
    cik = fresh_client["cik"]
    url, received = recipient
    source = make_dataport(rpc, cik, "string")
    mail = make_dispatch(rpc, cik, source, "email", "ops@example.invalid", subject="alarm",
                         message="value [[value]] from [[subscribe.cid]]")
    sms = make_dispatch(rpc, cik, source, "sms", "+15550100")
    xmpp = make_dispatch(rpc, cik, source, "xmpp", "ops@chat.invalid")
    locked = make_dispatch(rpc, cik, source, "http_post", url + "/never", locked=True)
    t = write_now(rpc, cik, source, "hot")
    outbox = server.store.onep.rules.outbox
    assert outbox(mail) == [{"rid": mail, "method": "email", "recipient": "ops@example.invalid", "subject": "alarm",
                             "message": f"value hot from {source}", "t": t, "status": "delivered"}]
    assert [row["message"] for row in outbox(sms) + outbox(xmpp)] == ["hot", "hot"]
    for dispatch in (mail, sms, xmpp):
        assert ok(rpc, cik, "read", dispatch, {}) == [[t, "delivered"]]
    assert ok(rpc, cik, "read", locked, {}) == [[t, "undelivered"]]
    assert outbox(locked) == [] and received == []


def test_script_rules_say_they_are_stored_only(rpc, fresh_client):
    cik = fresh_client["cik"]
    rule = ok(rpc, cik, "create", "datarule", {"format": "string", "rule": {"script": "debug('hi')"}})
    basic = ok(rpc, cik, "info", rule, {"basic": True})["basic"]
    assert basic["status"] == "error"
    assert "stored only" in basic["activity"][0][1][0]


def test_a_zero_timeout_arms_no_timer(rpc, fresh_client):
    cik = fresh_client["cik"]
    source = make_dataport(rpc, cik)
    rule = make_rule(rpc, cik, source, {"timeout": {"timeout": 0, "repeat": True}})
    t, latest = write_now(rpc, cik, source, 1.0, rule)
    assert latest == [[t, 0]]
    assert one(rpc, cik, "wait", rule, {"since": t, "timeout": 1200})["status"] == "expire"   # no expiry storm
