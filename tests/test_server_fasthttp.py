"""The RPC fast path of the embedded server (server/fasthttp.py) over raw
loopback sockets: pipelining, requests cut anywhere, keep-alive and close,
handoff of everything else to aiohttp with the same answers."""
import socket
from urllib.parse import urlsplit

import orjson
import pytest

from pyonep_fast.server import EmbeddedServer
from test_server_rpc import make_dataport, ok

RPC = "/onep:v1/rpc/process"


class Connection:
    """One raw keep-alive connection that reads whole HTTP responses."""

    def __init__(self, url, timeout=10.0):
        parts = urlsplit(url)
        self.host = parts.netloc
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buffer += chunk

    def response(self):
        """(status, {lowercased header: value}, body) of the next response."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def closed_by_server(self):
        """True once the server has closed its side (reads until EOF)."""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return True
            self.buffer += chunk


def rpc_request(host, body, extra_headers=b"", version=b"HTTP/1.1"):
    return (b"POST " + RPC.encode() + b" " + version + b"\r\nHost: " + host.encode() +
            b"\r\nContent-Type: application/json; charset=utf-8\r\n" + extra_headers +
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def envelope(cik, *calls):
    return orjson.dumps({"auth": {"cik": cik}, "calls": [
        {"id": i, "procedure": procedure, "arguments": list(arguments)}
        for i, (procedure, *arguments) in enumerate(calls, 1)]})


@pytest.fixture
def port_and_cik(rpc, fresh_client):
    cik = fresh_client["cik"]
    make_dataport(rpc, cik, "integer", alias="n")
    return cik


def test_pipelined_requests_answered_in_order(server, port_and_cik):
    cik = port_and_cik
    conn = Connection(server.url)
    try:
        data = b"".join(rpc_request(conn.host, envelope(cik, ("record", {"alias": "n"}, [[t, t]], {})))
                        for t in range(1, 21))
        data += rpc_request(conn.host, envelope(cik, ("read", {"alias": "n"}, {"limit": 50, "sort": "asc"})))
        conn.send(data)
        for _ in range(20):
            status, headers, body = conn.response()
            assert status == 200 and orjson.loads(body) == [{"id": 1, "status": "ok"}]
            assert headers["server"] == "pyonep-fast"
        status, headers, body = conn.response()
        assert orjson.loads(body)[0]["result"] == [[t, t] for t in range(1, 21)]
        assert headers["content-type"] == "application/json; charset=utf-8"
    finally:
        conn.close()


@pytest.mark.parametrize("piece", [1, 7, 100])
def test_requests_cut_anywhere(server, port_and_cik, piece):
    cik = port_and_cik
    conn = Connection(server.url)
    try:
        data = (rpc_request(conn.host, envelope(cik, ("write", {"alias": "n"}, 5, {}))) +
                rpc_request(conn.host, envelope(cik, ("read", {"alias": "n"}, {}))))
        for at in range(0, len(data), piece):
            conn.send(data[at:at + piece])
        assert orjson.loads(conn.response()[2]) == [{"id": 1, "status": "ok"}]
        assert orjson.loads(conn.response()[2])[0]["result"][0][1] == 5
    finally:
        conn.close()


def test_large_body_on_the_fast_path(server, port_and_cik):
    cik = port_and_cik
    conn = Connection(server.url)
    try:
        points = [[t, t * 3] for t in range(1, 100001)]
        conn.send(rpc_request(conn.host, envelope(cik, ("recordbatch", {"alias": "n"}, points))))
        status, headers, body = conn.response()
        assert (status, headers["server"], orjson.loads(body)) == (200, "pyonep-fast", [{"id": 1, "status": "ok"}])
        conn.send(rpc_request(conn.host, envelope(cik, ("read", {"alias": "n"}, {"limit": 200000, "sort": "asc"}))))
        assert orjson.loads(conn.response()[2])[0]["result"] == points
    finally:
        conn.close()


def test_connection_close_requested(server, port_and_cik):
    conn = Connection(server.url)
    try:
        conn.send(rpc_request(conn.host, envelope(port_and_cik, ("lookup", "alias", "")), b"Connection: close\r\n"))
        status, headers, body = conn.response()
        assert status == 200 and headers["connection"] == "close" and orjson.loads(body)[0]["status"] == "ok"
        assert conn.closed_by_server()
    finally:
        conn.close()


def test_connection_budget_on_rpc_requests():
    with EmbeddedServer(requests_per_connection=3) as budget:
        conn = Connection(budget.url)
        try:
            for n in range(1, 4):
                conn.send(rpc_request(conn.host, envelope(budget.root_cik, ("lookup", "alias", ""))))
                status, headers, body = conn.response()
                assert orjson.loads(body)[0]["result"] == budget.root_rid
                assert headers.get("connection", "keep-alive") == ("close" if n == 3 else "keep-alive")
            assert conn.closed_by_server()
        finally:
            conn.close()


def same_on_both_paths(url, request):
    """The answers to `request` on the fast path and after a handoff."""
    answers = []
    for first in (b"", b"GET /timestamp HTTP/1.1\r\nHost: x\r\n\r\n"):
        conn = Connection(url)
        try:
            conn.send(first)
            if first:
                assert conn.response()[1]["server"] != "pyonep-fast"     # aiohttp has the connection now
            conn.send(request)
            answers.append(conn.response())
        finally:
            conn.close()
    fast, handed = answers
    assert fast[1]["server"] == "pyonep-fast" and handed[1]["server"] != "pyonep-fast"
    assert (fast[0], fast[1]["content-type"], fast[2]) == (handed[0], handed[1]["content-type"], handed[2])
    return fast


def test_same_answers_after_handoff(server, rpc, port_and_cik):
    cik = port_and_cik
    ok(rpc, cik, "record", {"alias": "n"}, [[1, 10], [2, 20]], {})
    host = urlsplit(server.url).netloc
    calls = [("recordbatch", {"alias": "n"}, [[3, 30], [4, "bad"]]), ("read", {"alias": "n"}, {"limit": 5}),
             ("nosuch",), ("write", {"alias": "n"}, "x", {})]      # the same effect when sent twice
    status, _, body = same_on_both_paths(server.url, rpc_request(host, envelope(cik, *calls)))
    assert [entry["status"] for entry in orjson.loads(body)] == [[[4, "invalid"]], "ok", "fail", "invalid"]
    for raw in (b"{not json", b"[1]", orjson.dumps({"auth": {"cik": "0" * 40}, "calls": []}),
                orjson.dumps({"auth": {"cik": cik}, "calls": [{"procedure": "read", "arguments": []}]})):
        same_on_both_paths(server.url, rpc_request(host, raw))


@pytest.mark.parametrize("request_bytes", [
    # HTTP/1.0, chunked body, Expect, a header line without a colon, two Content-Lengths
    lambda host, body: rpc_request(host, body, version=b"HTTP/1.0"),
    lambda host, body: (b"POST " + RPC.encode() + b" HTTP/1.1\r\nHost: " + host.encode() +
                        b"\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"),
    lambda host, body: rpc_request(host, body, b"Expect: 100-continue\r\n"),
    lambda host, body: rpc_request(host, body, b"Bad header line\r\n"),
    lambda host, body: rpc_request(host, body, b"Content-Length: %d\r\n" % len(body)),
])
def test_other_requests_go_to_aiohttp(server, port_and_cik, request_bytes):
    conn = Connection(server.url)
    try:
        conn.send(request_bytes(conn.host, envelope(port_and_cik, ("lookup", "alias", ""))))
        status, headers, body = conn.response()
        if status == 100:
            status, headers, body = conn.response()
        assert headers["server"] != "pyonep-fast"
        if status == 200:
            assert orjson.loads(body)[0]["status"] == "ok"
        else:
            assert status == 400           # what aiohttp's strict parser says of a malformed head
    finally:
        conn.close()


def test_stalled_head_is_closed_and_stalled_body_gets_408():
    with EmbeddedServer(body_timeout=0.5) as quick:
        stalled_head = Connection(quick.url)
        stalled_body = Connection(quick.url)
        try:
            stalled_head.send(b"POST " + RPC.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Le")
            stalled_body.send(rpc_request(stalled_body.host, b'{"auth": {"cik": "' + b"0" * 40 + b'"}}')[:-5])
            assert stalled_head.closed_by_server() and stalled_head.buffer == b""
            status, headers, body = stalled_body.response()
            assert (status, headers["connection"], orjson.loads(body)["error"]["code"]) == (408, "close", 408)
            assert stalled_body.closed_by_server()
        finally:
            stalled_head.close()
            stalled_body.close()
        conn = Connection(quick.url)      # and the server still serves
        try:
            conn.send(rpc_request(conn.host, envelope(quick.root_cik, ("lookup", "alias", ""))))
            assert orjson.loads(conn.response()[2])[0]["result"] == quick.root_rid
        finally:
            conn.close()


def test_oversized_body_refused_before_it_arrives():
    with EmbeddedServer(max_body=1000) as small:
        conn = Connection(small.url)
        try:
            conn.send(b"POST " + RPC.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
            status, headers, body = conn.response()
            assert (status, headers["connection"], orjson.loads(body)["error"]["code"]) == (413, "close", 413)
            assert conn.closed_by_server()
        finally:
            conn.close()


def test_failed_commit_is_never_acknowledged():
    """A commit that fails answers 500 on both paths; the next one that
    succeeds stores what the failed one held, and answers ok."""
    with EmbeddedServer() as srv:
        fast = Connection(srv.url)
        handed = Connection(srv.url)
        try:
            handed.send(b"GET /timestamp HTTP/1.1\r\nHost: x\r\n\r\n")
            assert handed.response()[1]["server"] != "pyonep-fast"
            fast.send(rpc_request(fast.host, envelope(srv.root_cik, ("create", "dataport", {"format": "integer"}))))
            port = orjson.loads(fast.response()[2])[0]["result"]
            fast.send(rpc_request(fast.host, envelope(srv.root_cik, ("record", port, [[1, 1]], {}))))
            assert orjson.loads(fast.response()[2]) == [{"id": 1, "status": "ok"}]
            with srv.store.lock:
                srv.store.db.execute("PRAGMA query_only=1")     # the disk refuses writes from here on
            for t, conn in ((2, fast), (3, handed)):       # appended to the newest chunk: written at commit
                conn.send(rpc_request(conn.host, envelope(srv.root_cik, ("record", port, [[t, t]], {}))))
                status, _, body = conn.response()
                assert (status, orjson.loads(body)) == (200, {"error": {"code": 500, "message": "Internal Error",
                                                                        "context": "calls"}})
            with srv.store.lock:
                srv.store.db.execute("PRAGMA query_only=0")
            fast.send(rpc_request(fast.host, envelope(srv.root_cik, ("record", port, [[4, 4]], {}))))
            assert orjson.loads(fast.response()[2]) == [{"id": 1, "status": "ok"}]
        finally:
            fast.close()
            handed.close()
        with srv.store.lock:
            rows = srv.store.db.execute("SELECT n FROM chunks WHERE series = ?", (srv.store.get(port).id,)).fetchall()
        assert rows == [(4,)]
