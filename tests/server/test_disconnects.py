"""A client that goes away mid-request is one INFO line in the server's log,
not an ERROR traceback, and the server keeps serving; EmbeddedServer(port=0)
reports the port it bound (issue 12, item 2)."""
import logging
import socket
import struct
from urllib.parse import urlsplit

import orjson
import pytest
import urllib3
from polling import eventually

from pyonep_fast.server import EmbeddedServer
from rpc_helpers import make_dataport, ok

RPC = "/onep:v1/rpc/process"




def connect(url, receive_buffer=None):
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:  # before connect: a small window keeps the response in the server
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect((parts.hostname, parts.port))
    return sock


def reset(sock):
    """Close with an RST, as a killed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def post_head(length):
    return (f"POST {RPC} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


@pytest.fixture
def server_log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def disconnect_lines(caplog):
    return [r for r in caplog.records if "disconnected" in r.getMessage()]


def assert_one_info_line(caplog, expected):
    assert eventually(lambda: disconnect_lines(caplog)), "no disconnect line was logged"
    lines = disconnect_lines(caplog)
    assert [(r.name, r.levelname) for r in lines] == [("pyonep_fast.server.http", "INFO")]
    assert expected in lines[0].getMessage()
    assert lines[0].exc_info is None
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_client_gone_before_its_body_arrived_is_one_info_line(server, rpc, server_log):
    sock = connect(server.url)
    sock.sendall(post_head(1000) + b'{"auth": {"cik": ')
    sock.close()
    assert_one_info_line(server_log, f"disconnected during POST {RPC} (before the response)")
    assert ok(rpc, server.root_cik, "lookup", "alias", "") == server.root_rid


def test_client_gone_while_a_long_response_is_written_is_one_info_line(server, rpc, server_log):
    rid = make_dataport(rpc, server.root_cik, "string")
    value = "x" * 60000
    for first in range(1, 400, 100):     # 24 MB: far more than the sockets buffer
        ok(rpc, server.root_cik, "record", rid, [[t, value] for t in range(first, first + 100)], {})
    body = orjson.dumps({"auth": {"cik": server.root_cik}, "calls": [
        {"id": 1, "procedure": "read", "arguments": [rid, {"limit": 400, "starttime": 0}]}]})
    sock = connect(server.url, receive_buffer=4096)
    sock.sendall(post_head(len(body)) + body)
    assert sock.recv(64).startswith(b"HTTP/1.1 200")   # the response is being written
    reset(sock)
    assert_one_info_line(server_log, "response bytes sent)")
    assert ok(rpc, server.root_cik, "lookup", "alias", "") == server.root_rid


def test_port_zero_reports_the_bound_port():
    server = EmbeddedServer(port=0)
    assert server.port == 0
    with server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
        pool = urllib3.HTTPConnectionPool("127.0.0.1", server.port, retries=False)
        assert pool.request("GET", "/timestamp").status == 200
