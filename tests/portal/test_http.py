"""The portal over plain HTTP: same-origin POSTs, headers, sessions that end
with their credential, live streams that end with access or the server."""
import threading

import orjson
import pytest
import urllib3
from exp_helpers import SCALA_USER
from portal_helpers import RETAIN, http_sign_in, new_client, read_event, rpc

from pyonep_fast.server import EmbeddedServer


@pytest.fixture
def http():
    with urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30)) as pool:
        yield pool


def test_sign_in_only_from_the_portals_own_pages(http, portal_server):
    url = portal_server.url
    cik = new_client(url)["cik"]
    body = orjson.dumps({"api": "onep", "credential": cik})
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": url.replace("127.0.0.1", "localhost")}):
        answer = http.request("POST", url + "/portal/api/session", headers=headers, body=body)
        assert answer.status == 403 and "Set-Cookie" not in answer.headers
    answer = http.request("POST", url + "/portal/api/session", headers={"Origin": url}, body=body)
    assert answer.status == 200
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/portal" in cookie
    assert cik not in cookie


def test_bad_sign_in_bodies_get_clear_errors(http, portal_server):
    url = portal_server.url
    unknown_cik = b'{"api": "onep", "credential": "' + b"a" * 40 + b'"}'
    for body, status, message in ((b"{", 400, "Send {"), (b'{"api": "nope", "credential": "x"}', 400, "Unknown API"),
                                  (b'{"api": "onep", "credential": ""}', 400, "Enter a CIK"),
                                  (unknown_cik, 401, "That CIK does not sign in")):
        answer = http.request("POST", url + "/portal/api/session", headers={"Origin": url}, body=body)
        assert answer.status == status and orjson.loads(answer.data)["error"].startswith(message)


def test_portal_responses_carry_the_security_headers(http, portal_server):
    for path in ("/portal/", "/portal/static/portal.js", "/portal/api/apis", "/portal/api/onep/tree"):
        answer = http.request("GET", portal_server.url + path)
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert http.request("GET", portal_server.url + "/portal/api/onep/tree").headers["Cache-Control"] == "no-store"
    assert http.request("GET", portal_server.url + "/portal/static/../../../etc/passwd").status == 404


def test_the_fountains_bare_cik_still_answers_get_root(http, portal_server):
    answer = http.request("GET", portal_server.url + "/", redirect=False)
    assert answer.status == 200 and len(answer.data) == 40      # spec 6.2: a bare CIK as text
    browser = http.request("GET", portal_server.url + "/", headers={"Accept": "text/html,*/*"}, redirect=False)
    assert browser.status == 302 and browser.headers["Location"] == "/portal/"


def test_a_session_ends_when_its_cik_stops_signing_in(http, portal_server):
    url = portal_server.url
    owner = new_client(url)
    child = rpc(http, url, owner["cik"], "create", "client", {"name": "kid", "limits": {}})
    child_cik = rpc(http, url, owner["cik"], "info", child, {"key": True})["key"]
    headers = http_sign_in(http, url, child_cik)
    assert http.request("GET", url + "/portal/api/onep/tree", headers=headers).status == 200
    rpc(http, url, owner["cik"], "drop", child)
    answer = http.request("GET", url + "/portal/api/onep/tree", headers=headers)
    assert answer.status == 401 and "no longer" in orjson.loads(answer.data)["error"]
    assert http.request("GET", url + "/portal/api/session", headers=headers).status == 401


def test_live_events_carry_new_points_and_end_when_access_does(http, portal_server):
    url = portal_server.url
    owner = new_client(url)
    child = rpc(http, url, owner["cik"], "create", "client", {"name": "kid", "limits": {"dataport": "inherit"}})
    child_cik = rpc(http, url, owner["cik"], "info", child, {"key": True})["key"]
    port = rpc(http, url, child_cik, "create", "dataport", {"format": "integer", "retention": RETAIN})
    headers = http_sign_in(http, url, child_cik)
    stream = http.request("GET", f"{url}/portal/api/onep/events?rid={port}", headers=headers,
                          preload_content=False)
    assert stream.status == 200 and stream.headers["Content-Type"] == "text/event-stream"
    assert stream.readline() == b": live\n"
    rpc(http, url, child_cik, "record", port, [[100, 1], [101, 2], [102, 3]])
    name, data = read_event(stream)
    assert name == "message" and orjson.loads(data) == {"count": 3, "points": [[100, 1], [101, 2], [102, 3]],
                                                   "changed": False}
    rpc(http, url, owner["cik"], "update", child, {"locked": True})    # the CIK no longer gets answers
    rpc(http, url, owner["cik"], "record", port, [[103, 4]])
    assert read_event(stream) == ("end", b"{}")
    assert read_event(stream) is None
    stream.release_conn()


def test_idle_streams_whose_access_holds_send_keepalives_only(http, portal_server, monkeypatch):
    """Each view checks its access again at every keepalive (with nothing to send): while it holds,
    the stream stays open, sends no update, and still carries the next one."""
    monkeypatch.setattr(portal_server.store.portal, "keepalive_seconds", 0.05)
    url = portal_server.url
    owner = new_client(url)
    port = rpc(http, url, owner["cik"], "create", "dataport", {"format": "integer", "retention": RETAIN})
    streams = {path: http.request("GET", url + path, headers=http_sign_in(http, url, credential, api),
                                  preload_content=False)
               for path, credential, api in ((f"/portal/api/onep/events?rid={port}", owner["cik"], "onep"),
                                             ("/portal/api/exp/traffic", SCALA_USER, "exp"))}
    for stream in streams.values():
        assert [stream.readline() for _ in range(6)] == [b": live\n", b"\n"] + [b": keepalive\n", b"\n"] * 2
    rpc(http, url, owner["cik"], "record", port, [[100, 1]])
    assert read_event(streams[f"/portal/api/onep/events?rid={port}"]) == (
        "message", orjson.dumps({"count": 1, "points": [[100, 1]], "changed": False}))
    for stream in streams.values():
        stream.close()


def test_an_open_event_stream_does_not_hold_up_the_servers_stop(http, tmp_path):
    server = EmbeddedServer(db=str(tmp_path / "stop.db")).start()
    try:
        owner = new_client(server.url)
        port = rpc(http, server.url, owner["cik"], "create", "dataport", {"format": "float", "retention": RETAIN})
        headers = http_sign_in(http, server.url, owner["cik"])
        stream = http.request("GET", f"{server.url}/portal/api/onep/events?rid={port}", headers=headers,
                              preload_content=False)
        assert stream.readline() == b": live\n"
    finally:
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        stopping.join(20)       # aiohttp would wait 60 s for a handler that never ends
    assert not stopping.is_alive()
    assert read_event(stream) is None
