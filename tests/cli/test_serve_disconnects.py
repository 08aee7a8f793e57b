"""`pyonep-fast serve` (the real entry point, a subprocess): clients that
go away mid-request leave no ERROR or traceback in its log, and it keeps
serving (issue 12, item 2)."""
import socket
from urllib.parse import urlsplit

import urllib3

from pyonep_fast.server import spawn


def test_disconnecting_clients_leave_no_traceback_in_the_serve_log(tmp_path):
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = spawn(db=str(tmp_path / "s.db"), stderr=log)
    with server:
        parts = urlsplit(server.url)
        for partial in (b"POST /onep:v1/rpc/process HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"auth\":",
                        b"POST /provision/register HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n\r\nvendor="):
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
                sock.sendall(partial)
        with urllib3.PoolManager(retries=False, timeout=10) as http:   # still serving, and the
            assert http.request("GET", server.url + "/timestamp").status == 200   # partial ones handled
        server.terminate()
        server.wait(30)
    text = log_path.read_text()
    assert "Traceback" not in text and "ERROR" not in text and "Error handling request" not in text, text
