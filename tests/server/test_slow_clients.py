"""Slow clients (issue 9, item 8): a connection that sends its request head
too slowly is closed after the header timeout, a body that arrives too
slowly is answered 408 in each API's shape, and connections past the cap
are answered 503 and logged once, while legitimate waits (RPC `wait`, HDI
long poll) outlive the header timeout. Servers here have short budgets."""
import logging
import socket
import time
from urllib.parse import urlsplit

import orjson
import pytest
import urllib3

from pyonep_fast.server import EmbeddedServer
from rpc_helpers import make_dataport, ok

RPC = "/onep:v1/rpc/process"
HEADER_TIMEOUT = 0.5
DEADLINE = 10.0        # seconds a test waits for what must happen well within it


@pytest.fixture(scope="module")
def quick():
    with EmbeddedServer(header_timeout=HEADER_TIMEOUT, body_timeout=HEADER_TIMEOUT) as running:
        yield running


def connect(server):
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE)
    return sock


def closed_by_server(sock, deadline, trickle=None):
    """Whether the server closes sock before the deadline (monotonic); with
    `trickle`, one more byte of it is sent every 100 ms meanwhile."""
    sock.settimeout(0.1)
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            pass
        except ConnectionError:
            return True
        if trickle:
            try:
                sock.sendall(trickle[:1])
            except (BrokenPipeError, ConnectionError):
                return True
            trickle = trickle[1:] or b"x"
    return False


def answer_of(sock, deadline):
    """Everything the server sends on sock until it closes it (or the deadline)."""
    sock.settimeout(0.1)
    received = b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionError:
            break
        if not chunk:
            break
        received += chunk
    return received


def test_partial_headers_are_closed_after_the_header_timeout(quick):
    with connect(quick) as sock:
        sock.sendall(b"POST " + RPC.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        started = time.monotonic()
        assert closed_by_server(sock, started + DEADLINE)
        assert time.monotonic() - started < HEADER_TIMEOUT + 3


def test_headers_sent_a_byte_at_a_time_do_not_extend_the_header_timeout(quick):
    with connect(quick) as sock:
        started = time.monotonic()
        assert closed_by_server(sock, started + DEADLINE, trickle=b"GET /timestamp HTTP/1.1\r\n" + b"X-A: b\r\n" * 99)
        assert time.monotonic() - started < HEADER_TIMEOUT + 3


def test_an_idle_keep_alive_connection_is_closed_and_the_server_answers_new_ones(quick):
    with connect(quick) as sock:
        sock.sendall(b"GET /timestamp HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 200 " in sock.recv(65536).split(b"\r\n")[0]
        assert closed_by_server(sock, time.monotonic() + DEADLINE)
    assert urllib3.PoolManager(retries=False).request("GET", quick.url + "/timestamp").status == 200


def test_waits_outlive_the_header_timeout(quick):
    pool = urllib3.PoolManager(retries=False)
    made = orjson.loads(pool.request("GET", quick.url + "/api/create?vendor").data)
    cik = made["cik"]

    def rpc(auth, calls):
        body = orjson.dumps({"auth": {"cik": auth}, "calls": calls})
        return orjson.loads(pool.request("POST", quick.url + RPC, body=body).data)
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "map", "alias", port, "p")
    waited = rpc(cik, [{"id": 1, "procedure": "wait", "arguments": [port, {"timeout": 1500}]}])
    assert waited == [{"id": 1, "status": "expire"}]
    poll = pool.request("GET", quick.url + "/onep:v1/stack/alias?p",
                        headers={"X-Exosite-CIK": cik, "Request-Timeout": "1500"})
    assert poll.status == 304


def slow_body(server, head, deadline):
    """Sends a request head announcing 100 body bytes and only one; the answer."""
    with connect(server) as sock:
        sock.sendall(head + b"Content-Length: 100\r\n\r\n{")
        return answer_of(sock, deadline)


def test_a_slow_body_is_answered_408_in_each_apis_shape(quick):
    pool = urllib3.PoolManager(retries=False)
    made = orjson.loads(pool.request("GET", quick.url + "/api/create?vendor").data)
    m2x_key = orjson.loads(pool.request("POST", quick.url + "/_fixtures/m2x/accounts").data)["key"]
    heads = {
        "rpc": (b"POST " + RPC.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
                lambda body: orjson.loads(body)["error"]["code"] == 408),
        "hdi": (b"POST /onep:v1/stack/alias HTTP/1.1\r\nHost: x\r\nX-Exosite-CIK: " + made["cik"].encode()
                + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n",
                lambda body: body == b"request body timed out"),
        "provision": (b"POST /provision/manage/model/ HTTP/1.1\r\nHost: x\r\nX-Exosite-Token: "
                      + made["vendortoken"].encode() + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n",
                      lambda body: body == b"HTTP/1.1 408 Request Timeout\r\n"),
        "m2x": (b"POST /v2/devices HTTP/1.1\r\nHost: x\r\nX-M2X-KEY: " + m2x_key.encode()
                + b"\r\nContent-Type: application/json\r\n",
                lambda body: orjson.loads(body)["code"] == "request_timeout"),
        "exp": (b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
                lambda body: orjson.loads(body) == {"code": "request.timeout", "status": 408,
                                                    "message": "The request body did not arrive in time."}),
    }
    for api, (head, shaped) in heads.items():
        started = time.monotonic()
        answer = slow_body(quick, head, started + DEADLINE)
        assert answer.startswith(b"HTTP/1.1 408 "), (api, answer)
        assert shaped(answer.split(b"\r\n\r\n", 1)[1]), (api, answer)
        assert time.monotonic() - started < HEADER_TIMEOUT + 3, api


def test_connections_past_the_cap_are_answered_503_logged_once_and_the_server_recovers(caplog):
    caplog.set_level(logging.WARNING, logger="pyonep_fast.server.http")
    with EmbeddedServer(max_connections=4) as capped:
        held = [connect(capped) for _ in range(4)]
        for sock in held:               # each one really admitted: it is answered
            sock.sendall(b"GET /timestamp HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b" 200 " in sock.recv(65536).split(b"\r\n")[0]
        refused = []
        for _ in range(3):
            with connect(capped) as sock:
                refused.append(answer_of(sock, time.monotonic() + DEADLINE))
        assert all(answer.startswith(b"HTTP/1.1 503 ") and b"Connection: close" in answer for answer in refused)
        reached = [r for r in caplog.records if "connection cap of 4 reached" in r.getMessage()]
        assert len(reached) == 1
        for sock in held:
            sock.close()
        pool = urllib3.PoolManager(retries=False)
        deadline = time.monotonic() + DEADLINE
        while True:                     # the server sees the closes asynchronously
            status = pool.request("GET", capped.url + "/timestamp").status
            if status == 200 or time.monotonic() > deadline:
                break
            pool.clear()
        assert status == 200
        assert any("below the cap of 4 again" in r.getMessage() for r in caplog.records)
