"""The embedded server's HTTP side: fountain, bad input, body limits and
timeouts, keep-alive, --null mode, HTTP Data Interface (spec 1, 6.2, 7)."""
import socket
import time
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
import urllib3

from pyonep_fast.server import EmbeddedServer, Limits
from pyonep_fast.server.onep.routes import ip_text
from rpc_helpers import make_dataport, ok

RPC = "/onep:v1/rpc/process"


def test_fountain(server, http, rpc):
    made = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)
    assert set(made) == {"cik", "rid", "vendor", "vendortoken"}
    assert server.store.provision.vendor_by_token(made["vendortoken"]).name == made["vendor"]
    info = ok(rpc, made["cik"], "info", {"alias": ""}, {"basic": True, "description": True})
    assert info["basic"]["status"] == "activated"
    assert set(info["description"]["limits"].values()) == {"inherit"}
    assert ok(rpc, made["cik"], "listing", {"alias": ""}, ["client", "dataport"], {}) == {"client": [], "dataport": []}
    for path in ("/", "/api/create"):
        text = http.request("GET", server.url + path)
        assert text.headers["Content-Type"].startswith("text/plain")
        assert len(text.data) == 40 and ok(rpc, text.data.decode(), "lookup", "alias", "")
    assert ok(rpc, server.root_cik, "lookup", "owner", made["rid"]) == server.root_rid


def raw_exchange(url, data, read_timeout=10.0):
    """Sends raw bytes on a fresh connection; returns everything read until close."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=read_timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk


def test_oversized_body_gets_413_and_server_keeps_serving(rpc):
    with EmbeddedServer(max_body=1000) as small:
        pool = urllib3.PoolManager(retries=False)
        body = orjson.dumps({"auth": {"cik": small.root_cik}, "calls": [
            {"id": 1, "procedure": "create", "arguments": ["dataport", {"format": "string"}]}]})
        rid = orjson.loads(pool.request("POST", small.url + RPC, body=body).data)[0]["result"]
        big = orjson.dumps({"auth": {"cik": small.root_cik}, "calls": [
            {"id": 1, "procedure": "write", "arguments": [rid, "x" * 2000, {}]}]})
        response = pool.request("POST", small.url + RPC, body=big)
        assert response.status == 413
        assert orjson.loads(response.data)["error"]["code"] == 413
        chunked = pool.request("POST", small.url + RPC, body=iter([big[:600], big[600:]]), chunked=True)
        assert chunked.status == 413
        read = {"auth": {"cik": small.root_cik}, "calls": [{"id": 1, "procedure": "read", "arguments": [rid, {}]}]}
        assert orjson.loads(pool.request("POST", small.url + RPC, body=orjson.dumps(read)).data)[0]["result"] == []


def test_an_oversized_hdi_body_gets_hdis_own_413_text_and_stores_nothing():
    with EmbeddedServer(max_body=1000) as small:
        pool = urllib3.PoolManager(retries=False)
        cik = orjson.loads(pool.request("GET", small.url + "/api/create?vendor").data)["cik"]

        def rpc(auth, calls):
            return orjson.loads(pool.request("POST", small.url + RPC, body=orjson.dumps(
                {"auth": {"cik": auth}, "calls": calls})).data)
        make_dataport(rpc, cik, "string", alias="a")
        form = {"X-Exosite-CIK": cik, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        big = "a=" + "x" * 2000
        for path, body in (("/onep:v1/stack/alias", big), ("/onep:v1/stack/alias?a", big),
                           ("/onep:v1/stack/record", "alias=a&1=" + "x" * 2000)):
            for chunked in (False, True):      # declared too large, or found so as it arrives
                sent = iter([body[:600].encode(), body[600:].encode()]) if chunked else body
                refused = pool.request("POST", small.url + path, body=sent, headers=form, chunked=chunked)
                assert (refused.status, refused.headers["Content-Type"], refused.data) == (
                    413, "text/plain; charset=utf-8", b"request body too large"), (path, chunked)
        assert ok(rpc, cik, "info", {"alias": "a"}, {"storage": True})["storage"]["count"] == 0
        assert pool.request("POST", small.url + "/onep:v1/stack/alias", body="a=x", headers=form).status == 204


def test_body_that_never_finishes_is_closed_cleanly():
    with EmbeddedServer(body_timeout=0.5) as quick:
        host = urlsplit(quick.url)
        head = (f"POST {RPC} HTTP/1.1\r\nHost: {host.hostname}\r\nContent-Type: application/json\r\n"
                f"Content-Length: 100\r\n\r\n{{\"auth\":").encode()
        answer = raw_exchange(quick.url, head)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b'"code":408' in answer
        # and the server still answers
        assert urllib3.PoolManager().request("GET", quick.url + "/timestamp").status == 200


def test_garbage_does_not_hurt_stored_data(server, http, rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "write", port, 42, {})
    for body in (b"", b"\xff\xfe\x00", b"nul\x00l", b"{" * 10000, b'{"auth": {"cik": 5}, "calls": [1]}',
                 orjson.dumps({"auth": {"cik": cik}, "calls": [{"id": 1, "procedure": "write",
                                                                 "arguments": [[port], {}, []]}]})):
        response = http.request("POST", server.url + RPC, body=body)
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        orjson.loads(response.data)          # always JSON
    garbled = raw_exchange(server.url, b"NOT HTTP AT ALL\r\n\r\n")
    assert garbled.startswith(b"HTTP/1.") and b" 400 " in garbled.split(b"\r\n")[0]
    assert ok(rpc, cik, "read", port, {})[0][1] == 42


def test_keep_alive_and_connection_budget():
    with EmbeddedServer(requests_per_connection=3) as budget:
        pool = urllib3.HTTPConnectionPool(urlsplit(budget.url).hostname, urlsplit(budget.url).port, maxsize=1)
        headers = [pool.request("GET", "/timestamp").headers.get("Connection", "keep-alive") for _ in range(6)]
        assert [h.lower() for h in headers] == ["keep-alive", "keep-alive", "close"] * 2


def test_null_mode():
    with EmbeddedServer(null=True) as null:
        pool = urllib3.PoolManager()
        body = orjson.dumps({"auth": {"cik": "0" * 40}, "calls": [
            {"id": 1, "procedure": "write", "arguments": ["x", 1]}, {"procedure": "write", "arguments": []},
            {"id": "b", "procedure": "anything", "arguments": []}]})
        assert orjson.loads(pool.request("POST", null.url + RPC, body=body).data) == [
            {"id": 1, "status": "ok"}, {"id": "b", "status": "ok"}]
        assert orjson.loads(pool.request("POST", null.url + RPC, body=b"[").data)["error"]["code"] == -1
        assert orjson.loads(pool.request("POST", null.url + RPC, body=b'{"auth": {}}').data)["error"]["code"] == 400
        assert null.store.onep.get(null.root_rid).children == {}


def test_null_mode_counts_calls_against_the_budget():
    """--null refuses a request of more calls than calls_per_request as the
    server does without it (413 "calls"), however the body was decoded."""
    with EmbeddedServer(null=True, limits=Limits(calls_per_request=5)) as null:
        pool = urllib3.PoolManager()

        def answer(calls):
            body = orjson.dumps({"auth": {"cik": "0" * 40}, "calls": calls})
            return orjson.loads(pool.request("POST", null.url + RPC, body=body).data)
        assert answer([{"id": n} for n in range(5)]) == [{"id": n, "status": "ok"} for n in range(5)]
        too_many = {"error": {"code": 413, "message": "Request Entity Too Large", "context": "calls"}}
        assert answer([{"id": n} for n in range(6)]) == too_many
        assert answer([{"id": n, "procedure": "write", "arguments": ["x" * 100]} for n in range(20000)]) == too_many


def test_http_data_interface(server, http, rpc, fresh_client):
    cik = fresh_client["cik"]
    make_dataport(rpc, cik, "integer", alias="a")
    make_dataport(rpc, cik, "string", alias="b")
    url = server.url + "/onep:v1/stack/alias"
    form = {"X-Exosite-CIK": cik, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert http.request("GET", url + "?a&b", headers={"X-Exosite-CIK": cik}).status == 204
    assert http.request("POST", url, body="a=5&b=h%C3%A9&nosuch=1", headers=form).status == 204
    read = http.request("GET", url + "?a&b&nosuch", headers={"X-Exosite-CIK": cik})
    assert read.status == 200 and read.data == b"b=h%C3%A9&a=5"          # reverse of the request order
    hybrid = http.request("POST", url + "?a", body="a=6", headers=form)
    assert hybrid.data == b"a=6"
    assert http.request("POST", url, body="a=notanumber", headers=form).status == 400
    assert http.request("GET", url + "?a", headers={"X-Exosite-CIK": "0" * 40}).status == 401
    assert http.request("GET", url + "?a").status == 401
    since = str(int(time.time()) + 1000)
    poll = http.request("GET", url + "?a", headers={"X-Exosite-CIK": cik, "Request-Timeout": "100",
                                                    "If-Modified-Since": since})
    assert poll.status == 304
    got = http.request("GET", url + "?a", headers={"X-Exosite-CIK": cik, "Request-Timeout": "1000",
                                                   "If-Modified-Since": "0"})
    # the first point after If-Modified-Since: a=5, or a=6 when both writes fell in one second
    earliest = ok(rpc, cik, "read", {"alias": "a"}, {"starttime": 1, "limit": 1, "sort": "asc"})[0][1]
    assert got.status == 200 and got.data == b"a=%d" % earliest and got.headers["Last-Modified"].endswith("GMT")
    record = http.request("POST", server.url + "/onep:v1/stack/record", body="alias=a&10=1&11=2&alias=b&10=x",
                          headers=form)
    assert record.status == 204
    assert ok(rpc, cik, "read", {"alias": "a"}, {"starttime": 10, "endtime": 11, "limit": 5, "sort": "asc"}) == [
        [10, 1], [11, 2]]
    conflict = http.request("POST", server.url + "/onep:v1/stack/record", body="alias=a&12=1&12=2", headers=form)
    assert conflict.status == 409 and conflict.data == b"a=12"
    for bad in ("alias=a&x=1", f"alias=a&{1 << 63}=1"):       # not an integer, outside int64
        refused = http.request("POST", server.url + "/onep:v1/stack/record", body=bad, headers=form)
        assert refused.status == 400 and refused.data.startswith(b"bad timestamp")


def test_an_hdi_answer_of_megabytes_arrives_whole(server, http, rpc, fresh_client):
    cik = fresh_client["cik"]
    values = {f"p{n}": f"{n} " * 20_000 for n in range(20)}      # 20 x 60 KB quoted: written in pieces
    calls = []
    for alias, value in values.items():
        make_dataport(rpc, cik, "string", alias=alias)
        calls.append({"id": alias, "procedure": "write", "arguments": [{"alias": alias}, value, {}]})
    assert all(entry["status"] == "ok" for entry in rpc(cik, calls))
    read = http.request("GET", server.url + "/onep:v1/stack/alias?" + "&".join(values), headers={"X-Exosite-CIK": cik})
    assert read.status == 200 and int(read.headers["Content-Length"]) == len(read.data) > 1 << 20
    assert dict(parse_qsl(read.data.decode())) == values


def test_timestamp_and_ip(server, http):
    now = int(http.request("GET", server.url + "/timestamp").data)
    assert abs(now - time.time()) < 5
    # /ip: the caller's IPv4 octets, then its port's high and low byte (spec 7)
    with socket.create_connection(("127.0.0.1", urlsplit(server.url).port), timeout=10) as sock:
        sock.sendall(b"GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
        port = sock.getsockname()[1]
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"text/plain" in head.lower()
    assert body.decode() == f"127,0,0,1,{port >> 8},{port & 0xFF}"


def test_ip_text_examples():
    assert ip_text("192.168.0.1", 80) == "192,168,0,1,0,80"
    assert ip_text("10.0.0.7", 51035) == "10,0,0,7,199,91"
    assert ip_text("::ffff:10.1.2.3", 258) == "10,1,2,3,1,2"
    assert ip_text("::1", 65535) == "127,0,0,1,255,255"


@pytest.mark.parametrize("body", [b'{"auth": {"cik": "x"}, "calls": "no"}', b'{"auth": [], "calls": []}'])
def test_envelope_errors_in_null_mode_too(body):
    with EmbeddedServer(null=True) as null:
        answer = orjson.loads(urllib3.PoolManager().request("POST", null.url + RPC, body=body).data)
        assert answer["error"]["code"] == 400
