"""pyonep_fast.transport against real loopback servers whose answers the tests script."""
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from pyonep_fast import transport
from pyonep_fast.exceptions import TransportError
from polling import eventually
from pyonep_fast.transport import Transport
from scripted_http import ScriptedServer, closed_port, http_response




def echo(request):
    return http_response(b'{"echo": %d}' % len(request.body))


def test_round_trip_frames_request_and_reads_response():
    with ScriptedServer(lambda r: http_response('{"x": "d\u00e9j\u00e0"}', headers=["X-Extra: 1"])) as server, \
            Transport(server.url, headers={"X-Default": "a"}) as client:
        response = client.request("POST", "/onep:v1/rpc/process?q=1", b'{"a":1}',
                                  {"Content-Type": "application/json; charset=utf-8"})
        assert response.status == 200 and response.reason == "OK"
        assert response.data == '{"x": "d\u00e9j\u00e0"}'.encode()
        assert response.text == '{"x": "d\u00e9j\u00e0"}'
        assert response.headers["x-extra"] == "1"
        assert response.headers["CONTENT-TYPE"] == "application/json; charset=utf-8"
        (request,) = server.requests
        assert (request.method, request.target, request.body) == ("POST", "/onep:v1/rpc/process?q=1", b'{"a":1}')
        assert request.headers["host"] == f"127.0.0.1:{server.port}"
        assert request.headers["content-length"] == "7"
        assert request.headers["x-default"] == "a"
        assert request.headers["user-agent"].startswith("pyonep_fast/")


def test_request_headers_override_defaults_case_insensitively():
    with ScriptedServer(echo) as server, Transport(server.url, headers={"User-Agent": "one"}) as client:
        client.request("GET", "/", headers={"user-agent": "two"})
        client.request("GET", "/")
        first, second = server.requests
        assert first.headers["user-agent"] == "two"
        assert second.headers["user-agent"] == "one"
        assert "content-length" not in first.headers  # a GET without body has none


def test_keep_alive_reuses_one_connection():
    with ScriptedServer(echo) as server, Transport(server.url) as client:
        for _ in range(5):
            assert client.request("POST", "/", b"x").status == 200
        assert server.connections == 1


def test_connection_close_from_server_reconnects():
    # The hosted platform closes after 100 requests; here after every 3rd.
    count = iter(range(1000))

    def respond(request):
        return http_response(b"[]", close=next(count) % 3 == 2)

    with ScriptedServer(respond) as server, Transport(server.url) as client:
        for _ in range(9):
            assert client.request("POST", "/", b"x").data == b"[]"
        assert len(server.requests) == 9
        assert server.connections == 3


def test_idle_connection_dropped_by_server_is_replaced_before_sending():
    with ScriptedServer(lambda r: (http_response(b"ok"), True)) as server, Transport(server.url) as client:
        assert client.request("POST", "/", b"write-1").data == b"ok"
        eventually(lambda: server.closed == 1, timeout=5.0)
        assert client.request("POST", "/", b"write-2").data == b"ok"
        assert [r.body for r in server.requests] == [b"write-1", b"write-2"]
        assert server.connections == 2


def test_sent_post_is_never_resent_when_the_server_drops_it():
    answers = iter([http_response(b"first"), None, http_response(b"again")])
    with ScriptedServer(lambda r: next(answers)) as server, Transport(server.url) as client:
        client.request("POST", "/", b"one")
        with pytest.raises(TransportError, match="^Failed to make http request: "):
            client.request("POST", "/", b"write")
        assert [r.body for r in server.requests] == [b"one", b"write"]
        # the pool recovers: the next request gets a fresh connection
        assert client.request("POST", "/", b"three").data == b"again"


def test_idempotent_request_is_resent_on_a_fresh_connection():
    answers = iter([http_response(b"first"), None, http_response(b"second")])
    with ScriptedServer(lambda r: next(answers)) as server, Transport(server.url) as client:
        client.request("GET", "/a")
        assert client.request("GET", "/b").data == b"second"
        assert [(r.connection, r.target) for r in server.requests] == [(0, "/a"), (0, "/b"), (1, "/b")]
        # a POST marked idempotent (a read-only RPC) gets the same treatment
        answers = iter([None, http_response(b"read")])
        server.respond = lambda r: next(answers)
        assert client.request("POST", "/rpc", b"read", idempotent=True).data == b"read"


def test_connection_refused_is_a_transport_error():
    port = closed_port()
    with Transport(f"http://127.0.0.1:{port}", retries=1, backoff=0.001) as client:
        with pytest.raises(TransportError, match="^Failed to make http request: "):
            client.request("POST", "/", b"x")


def test_read_timeout():
    release = threading.Event()

    def respond(request):
        if request.target == "/slow":
            release.wait(10)
        return http_response(b"late")

    with ScriptedServer(respond) as server, Transport(server.url, timeout=0.2) as client:
        try:
            with pytest.raises(TransportError, match="timed out"):
                client.request("GET", "/slow")
            with pytest.raises(TransportError, match="timed out"):
                client.request("GET", "/slow", timeout=(5, 0.1))
            assert len(server.requests) == 2  # a timeout is not a reason to re-send
            assert client.request("GET", "/fast").data == b"late"
        finally:
            release.set()


def test_chunked_and_read_to_close_bodies():
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n")
    unframed = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"z" * 200000
    answers = iter([chunked, http_response(b"after chunked"), (unframed, True), http_response(b"new")])
    with ScriptedServer(lambda r: next(answers)) as server, Transport(server.url) as client:
        assert client.request("GET", "/").data == b"hello world"
        assert client.request("GET", "/").data == b"after chunked"
        assert client.request("GET", "/").data == b"z" * 200000
        assert client.request("GET", "/").data == b"new"
        assert server.connections == 2


def test_large_body_both_ways():
    payload = bytes(range(256)) * 20000
    with ScriptedServer(lambda r: http_response(r.body[::-1])) as server, Transport(server.url) as client:
        assert client.request("POST", "/", payload).data == payload[::-1]


@pytest.mark.parametrize("answer", [
    b"SMTP ready\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_malformed_responses_are_transport_errors(answer):
    with ScriptedServer(lambda r: (answer, True)) as server, Transport(server.url) as client:
        with pytest.raises(TransportError, match="^Failed to make http request: "):
            client.request("POST", "/", b"x")


def test_interim_100_continue_is_skipped():
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + http_response(b"final")
    with ScriptedServer(lambda r: answer) as server, Transport(server.url) as client:
        assert client.request("POST", "/", b"x").data == b"final"


def test_header_injection_is_refused():
    with ScriptedServer(echo) as server, Transport(server.url) as client:
        with pytest.raises(TransportError, match="invalid header"):
            client.request("GET", "/", headers={"X-A": "1\r\nX-B: 2"})
        with pytest.raises(TransportError, match="invalid request target"):
            client.request("GET", "/a b")
        assert server.requests == []


def test_hooks_see_every_request_with_sizes_and_errors():
    events = []
    answers = iter([http_response(b"12345"), None])
    with ScriptedServer(lambda r: next(answers)) as server, Transport(server.url, hooks=[events.append]) as client:
        client.request("POST", "/p", b"abc")
        with pytest.raises(TransportError):
            client.request("POST", "/q", b"de")
    ok, failed = events
    assert (ok.method, ok.url, ok.status, ok.request_size, ok.response_size, ok.exception) == \
        ("POST", server.url + "/p", 200, 3, 5, None)
    assert ok.elapsed > 0
    assert (failed.status, failed.request_size, failed.response_size) == (None, 2, 0)
    assert isinstance(failed.exception, TransportError)


class Interrupted(BaseException):
    """What stops a request from outside (as gevent's GreenletExit does when Locust stops a user)."""


def test_hooks_see_a_request_interrupted_midway_as_interrupted_not_answered():
    events = []
    release = threading.Event()

    def interrupt(signum, frame):
        raise Interrupted()

    def respond(request):
        release.wait(10)
        return http_response(b"too late")

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with ScriptedServer(respond) as server, Transport(server.url, hooks=[events.append]) as client:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            with pytest.raises(Interrupted):
                client.request("GET", "/stalled")
            release.set()
            assert client.request("GET", "/next").status == 200      # on a fresh connection
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    stalled, answered = events
    assert stalled.status is None and isinstance(stalled.exception, Interrupted)
    assert answered.status == 200 and answered.exception is None


def test_request_many_runs_concurrently_and_keeps_order():
    both_arrived = threading.Barrier(2, timeout=5)

    def respond(request):
        both_arrived.wait()  # deadlocks (and fails) unless both are in flight at once
        return http_response(request.body.upper())

    with ScriptedServer(respond) as server, Transport(server.url, parallel=2) as client:
        responses = client.request_many("POST", "/", [b"first", b"second"])
        assert [r.data for r in responses] == [b"FIRST", b"SECOND"]
        assert server.connections == 2


def test_close_then_reuse():
    with ScriptedServer(echo) as server:
        client = Transport(server.url)
        client.request("GET", "/")
        client.close()
        eventually(lambda: server.closed == 1, timeout=5.0)
        assert client.request("GET", "/").status == 200
        client.close()
        assert server.connections == 2


def test_redirect_points_a_hardcoded_host_at_a_local_server():
    with ScriptedServer(echo) as server:
        transport.redirect("m2.exosite.com", server.url)
        try:
            with Transport("https://m2.exosite.com:443") as client:
                assert client.base_url == server.url
                client.request("GET", "/x")
            with Transport("http://acme.m2.exosite.com") as client:  # whitebox subdomains too
                client.request("GET", "/y")
        finally:
            transport.redirect("m2.exosite.com", None)
        assert transport.redirected("https://m2.exosite.com:443") == "https://m2.exosite.com:443"
        assert [r.target for r in server.requests] == ["/x", "/y"]


def test_forwarding_proxy_gets_absolute_target(monkeypatch):
    with ScriptedServer(echo) as proxy:
        with Transport("http://example.invalid:8080", proxy=proxy.url) as client:
            client.request("GET", "/path?q=1")
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with Transport("http://example.invalid") as client:
            client.request("GET", "/env")
        assert [(r.target, r.headers["host"]) for r in proxy.requests] == [
            ("http://example.invalid:8080/path?q=1", "example.invalid:8080"),
            ("http://example.invalid/env", "example.invalid"),
        ]
        monkeypatch.setenv("no_proxy", "example.invalid")
        assert transport.env_proxy("http://example.invalid") is None


@pytest.mark.parametrize("url", ["ftp://example.invalid", "http://127.0.0.1:34627:443", "http://"])
def test_bad_base_url_surfaces_on_the_first_request(url):
    """Constructing never fails on the URL (spec 4.2); every request says why it cannot be sent."""
    unusable = Transport(url)
    for _ in range(2):
        with pytest.raises(TransportError, match="^Failed to make http request: "):
            unusable.request("GET", "/")
    with pytest.raises(TransportError, match="^Failed to make http request: "):
        unusable.request_many("POST", "/", [b"a", b"b"])
    unusable.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert path, key path)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_is_verified_and_keeps_alive(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    count = iter(range(1000))
    with ScriptedServer(lambda r: http_response(b"secure", close=next(count) == 2), tls=context) as server:
        with Transport(server.url) as client:  # system CAs: the self-signed certificate is refused
            with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
                client.request("POST", "/", b"x")
        assert server.requests == []
        with Transport(server.url, verify=cert) as client:
            assert [client.request("POST", "/", b"x").data for _ in range(4)] == [b"secure"] * 4
        with Transport(server.url, verify=False) as client:
            assert client.request("GET", "/").data == b"secure"
    assert [r.connection for r in server.requests] == [1, 1, 1, 2, 3]  # keep-alive until "close"


def test_read_timeout_applies_to_a_reconnected_socket():
    release = threading.Event()

    def respond(request):
        if request.target == "/slow":
            release.wait(3)  # answers after 3 s unless released: the client must give up first
            return http_response(b"late")
        return (http_response(b"then close"), True)

    with ScriptedServer(respond) as server, Transport(server.url, timeout=(5, 0.2)) as client:
        try:
            client.request("GET", "/fast")
            eventually(lambda: server.closed == 1, timeout=5.0)
            with pytest.raises(TransportError, match="timed out after 0.2 s"):
                client.request("GET", "/slow")
        finally:
            release.set()


def test_each_thread_keeps_its_own_connection_and_returns_it_when_it_ends():
    together = threading.Barrier(4, timeout=5)

    def respond(request):
        if request.target == "/meet":
            together.wait()  # all four in flight at once: four connections
        return http_response(request.body)

    with ScriptedServer(respond) as server, Transport(server.url) as client:
        answers = {}

        def user(name):
            answers[name] = [client.request("POST", "/meet", name.encode()).data]
            answers[name] += [client.request("POST", "/", name.encode()).data for _ in range(3)]

        threads = [threading.Thread(target=user, args=(f"t{k}",)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert answers == {f"t{k}": [f"t{k}".encode()] * 4 for k in range(4)}
        assert server.connections == 4
        by_body = {}
        for request in server.requests:
            by_body.setdefault(request.body, set()).add(request.connection)
        assert all(len(connections) == 1 for connections in by_body.values())
        # the threads ended: their connections went back to the pool, for others to use
        assert [client.request("GET", "/").status for _ in range(3)] == [200] * 3
        assert server.connections == 4 and server.closed == 0
        client.close()
        eventually(lambda: server.closed == 4, timeout=5.0)


def test_close_closes_connections_kept_by_other_threads():
    with ScriptedServer(echo) as server:
        client = Transport(server.url)
        asked, closed = threading.Event(), threading.Event()
        answers = []

        def user():
            answers.append(client.request("GET", "/").status)
            asked.set()
            closed.wait(5)
            answers.append(client.request("GET", "/").status)

        thread = threading.Thread(target=user)
        thread.start()
        assert asked.wait(5)
        client.close()
        eventually(lambda: server.closed == 1, timeout=5.0)  # while the thread that kept it still runs
        closed.set()
        thread.join(10)
        client.close()
        assert answers == [200, 200] and server.connections == 2


def test_close_during_a_request_lets_it_finish_then_closes_its_connection():
    arrived, release = threading.Event(), threading.Event()

    def respond(request):
        if request.target == "/slow":
            arrived.set()
            release.wait(5)
        return http_response(b"done")

    with ScriptedServer(respond) as server, Transport(server.url) as client:
        answers = []
        thread = threading.Thread(target=lambda: answers.append(client.request("GET", "/slow").data))
        thread.start()
        assert arrived.wait(5)
        client.close()
        release.set()
        thread.join(10)
        assert answers == [b"done"]
        eventually(lambda: server.closed == 1, timeout=5.0)
        assert client.request("GET", "/").data == b"done"
        assert server.connections == 2


def test_read_timeout_changes_apply_to_a_kept_connection_and_nodelay_is_on():
    def respond(request):
        if request.target == "/slow":
            time.sleep(0.3)  # the server answering late, not the test waiting
        return http_response(b"ok")

    with ScriptedServer(respond) as server, Transport(server.url) as client:
        assert client.request("GET", "/", timeout=0.1).data == b"ok"
        assert client.request("GET", "/slow", timeout=None).data == b"ok"  # no timeout now
        assert client.request("GET", "/slow", timeout=2).data == b"ok"
        with pytest.raises(TransportError, match="timed out after 0.1 s"):
            client.request("GET", "/slow", timeout=0.1)
        assert server.connections == 1
        assert client.request("GET", "/").data == b"ok"
        sock = client._local.lease.conn.sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 13\nX-Seen: yes\n\r\n",   # httpretty's
    b"HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 13\nX-Seen: yes\n\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\nContent-Length: 13\r\nX-Seen: yes\r\n\r\n",
])
def test_header_lines_ended_by_a_bare_lf_are_read(head):
    """RFC 9112 §2.2 lets a recipient take a bare LF as a line end; test
    doubles that patch sockets (httpretty, which m2x 5.5.0's own tests use)
    write their header lines that way."""
    with ScriptedServer(lambda request: head + b'{"api": "OK"}') as server, Transport(server.url) as client:
        answer = client.request("GET", "/v2/status")
        again = client.request("GET", "/v2/status")
    assert answer.status == 200 and answer.data == again.data == b'{"api": "OK"}'
    assert answer.headers["x-seen"] == "yes" and answer.headers["content-length"] == "13"
    assert answer.raw_head.count(b"\n") == answer.raw_head.count(b"\r\n")
