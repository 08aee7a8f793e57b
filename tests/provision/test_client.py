"""pyonep_fast.provision.Provision: the exact requests it sends (captured by a
scripted loopback server), its response and error objects, and pyonep's
provisioning example flow (spec onep-rpc.md §6.5) against the embedded server."""
import logging
import random
import re
import threading

import pytest

from pyonep_fast import transport
from pyonep_fast.exceptions import OneException, ProvisionException, TransportError
from polling import eventually
from pyonep_fast.provision import Provision, ProvisionResponse
from scripted_http import ScriptedServer, http_response

HEX40 = re.compile(r"[0-9a-f]{40}\Z")
FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.fixture
def scripted():
    """A loopback server answering 205 to everything, recording each request."""
    with ScriptedServer(lambda request: http_response(b"", status="205 Reset Content")) as server:
        yield server


def client_for(server, **options):
    host, port = server.url[len("http://"):].split(":")
    return Provision(host, port=int(port), **options)


# (call on a Provision built with manage_by_cik=False) -> (method, target, body, content type)
WIRE = [
    (lambda p: p.model_create("K", "M", "RIDX", aliases=False, historical=False),
     ("POST", "/provision/manage/model/", "model=M&rid=RIDX&options%5B%5D=noaliases&options%5B%5D=nohistorical",
      FORM)),
    (lambda p: p.model_list("K"), ("GET", "/provision/manage/model/", "", None)),
    (lambda p: p.model_info("K", "M"), ("GET", "/provision/manage/model/M", "", None)),
    (lambda p: p.model_update("K", "M", "R2", comments=False),
     ("PUT", "/provision/manage/model/M", "rid=R2&options%5B%5D=nocomments", None)),
    (lambda p: p.model_remove("K", "M"),
     ("DELETE", "/provision/manage/model/M", "delete=true&model=M&confirm=true", None)),
    (lambda p: p.serialnumber_add("K", "M", "SN1", extra="x y"),
     ("POST", "/provision/manage/model/M/", "add=true&sn=SN1&extra=x+y", FORM)),
    (lambda p: p.serialnumber_add("K", "M", "SN1", extra=""),
     ("POST", "/provision/manage/model/M/", "add=true&sn=SN1", FORM)),
    (lambda p: p.serialnumber_add_batch("K", "M", ["a", "b"]),
     ("POST", "/provision/manage/model/M/", "add=true&sn%5B%5D=a&sn%5B%5D=b", FORM)),
    (lambda p: p.serialnumber_add_batch_csv("K", "M", "a,x\r\nb,y\r\n"),
     ("POST", "/provision/manage/model/M/", "a,x\r\nb,y\r\n", "text/csv; charset=utf-8")),
    (lambda p: p.serialnumber_remove_batch("K", "M", ["a", "b"]),
     ("POST", "/provision/manage/model/M/", "remove=true&sn%5B%5D=a&sn%5B%5D=b", FORM)),
    (lambda p: p.serialnumber_list("K", "M", offset=6, limit=5, status=True),
     ("GET", "/provision/manage/model/M/?offset=6&limit=5&status=true", "", None)),
    (lambda p: p.serialnumber_list("K", "M", "0", "1000"),
     ("GET", "/provision/manage/model/M/?offset=0&limit=1000", "", None)),
    (lambda p: p.serialnumber_enable("K", "M", "S", "OWNER"),
     ("POST", "/provision/manage/model/M/S", "enable=true&owner=OWNER", FORM)),
    (lambda p: p.serialnumber_reenable("K", "M", "S"), ("POST", "/provision/manage/model/M/S", "enable=true", FORM)),
    (lambda p: p.serialnumber_disable("K", "M", "S"), ("POST", "/provision/manage/model/M/S", "disable=true", FORM)),
    (lambda p: p.serialnumber_remap("K", "M", "NEW", "OLD"),
     ("POST", "/provision/manage/model/M/NEW", "enable=true&oldsn=OLD", FORM)),
    (lambda p: p.serialnumber_info("K", "M", "S"), ("GET", "/provision/manage/model/M/S", "", None)),
    (lambda p: p.serialnumber_info("K", "M", "S", actvtn_log=True),
     ("GET", "/provision/manage/model/M/S?show=log", "", None)),
    (lambda p: p.serialnumber_remove("K", "M", "S"), ("DELETE", "/provision/manage/model/M/S", "", None)),
    (lambda p: p.content_create("K", "M", "b.bin", "", protected=None),
     ("POST", "/provision/manage/content/M/", "id=b.bin&meta=&protected=true", FORM)),
    (lambda p: p.content_create("K", "M", "a.txt", None),
     ("POST", "/provision/manage/content/M/", "id=a.txt&meta=None", FORM)),
    (lambda p: p.content_list("K", "M"), ("GET", "/provision/manage/content/M/", "", None)),
    (lambda p: p.content_info("K", "M", "a.txt"), ("GET", "/provision/manage/content/M/a.txt", "", None)),
    (lambda p: p.content_info("K", "M", "a.txt", vendor="V"),
     ("GET", "/provision/download?vendor=V&model=M&id=a.txt&info=true", "", None)),
    (lambda p: p.content_upload("K", "M", "a.txt", b"\x00data", "application/json"),
     ("POST", "/provision/manage/content/M/a.txt", "\x00data", "application/json")),
    (lambda p: p.content_upload("K", "M", "a.txt", "d\u00e9j\u00e0", None),
     ("POST", "/provision/manage/content/M/a.txt", "d\u00c3\u00a9j\u00c3\u00a0", None)),
    (lambda p: p.content_remove("K", "M", "a.txt"), ("DELETE", "/provision/manage/content/M/a.txt", "", None)),
    (lambda p: p.vendor_register("K", "acme"), ("POST", "/provision/register", "vendor=acme", FORM)),
    (lambda p: p.vendor_show("K"), ("GET", "/provision/register", "", None)),
    (lambda p: p.vendor_unregister("K", "acme"), ("POST", "/provision/register", "delete=true&vendor=acme", FORM)),
    (lambda p: p.model_info("K", "with space/é"), ("GET", "/provision/manage/model/with%20space/%C3%A9", "", None)),
]


@pytest.mark.parametrize("call, expected", WIRE)
def test_request_shapes(scripted, call, expected):
    method, target, body, content_type = expected
    call(client_for(scripted, manage_by_cik=False))
    (request,) = scripted.requests
    assert (request.method, request.target, request.body.decode("latin-1")) == (method, target, body)
    assert request.headers.get("content-type") == content_type
    assert request.headers["x-exosite-token"] == "K" and "x-exosite-cik" not in request.headers
    assert request.headers["accept"] == "*/*"
    if method != "GET":
        assert request.headers["content-length"] == str(len(request.body))


def test_key_header_follows_manage_by_cik_except_where_fixed(scripted):
    by_cik = client_for(scripted)  # manage_by_cik=True is the default
    by_cik.model_list("K")
    by_cik.vendor_show("K")  # always the token header
    by_cik.content_download("DEVICE", "V", "M", "a.txt")  # always the CIK header
    by_cik.serialnumber_activate("M", "S", "V")  # the key header, with an empty value
    listing, show, download, activation = scripted.requests
    assert listing.headers["x-exosite-cik"] == "K" and "x-exosite-token" not in listing.headers
    assert show.headers["x-exosite-token"] == "K" and "x-exosite-cik" not in show.headers
    assert download.target == "/provision/download?vendor=V&model=M&id=a.txt"
    assert download.headers["x-exosite-cik"] == "DEVICE" and download.headers["accept"] == "*/*"
    assert activation.target == "/provision/activate" and activation.body == b"vendor=V&model=M&sn=S"
    assert activation.headers["x-exosite-cik"] == ""


def test_sharecode_mode_and_private_request(scripted):
    client = client_for(scripted, manage_by_cik=False, manage_by_sharecode=True)
    client.model_create("K", "M", "CODE", aliases=False)
    client._request("/provision/manage/model/M/?show=ranges", "K", "", "GET", False, {"Accept": "*"})
    client._request("/provision/manage/model/M/", "K", "s1\ns2\n", "DELETE", False,
                    {"content-type": "text/csv; charset=utf-8"})
    create, ranges, delete = scripted.requests
    assert create.body == b"model=M&code=CODE&options%5B%5D=noaliases"
    assert ranges.target == "/provision/manage/model/M/?show=ranges" and ranges.headers["accept"] == "*/*"
    assert delete.body == b"s1\ns2\n" and delete.headers["content-type"] == "text/csv; charset=utf-8"


def test_constructor_options():
    client = Provision("https://provisioning.invalid", 443, httptimeout="20")
    assert client._onephttp.base_url == "http://provisioning.invalid:443"  # the prefix does not turn on https
    assert Provision("provisioning.invalid", "8443", https=True)._onephttp.base_url == \
        "https://provisioning.invalid:8443"
    assert client._onephttp.timeout == 20
    assert (client._manage_by_cik, client._manage_by_sharecode, client._raise_api_exceptions) == (True, False, False)
    assert Provision._filter_options(False, False, False) == ["noaliases", "nocomments", "nohistorical"]
    assert Provision._filter_options() == []


def test_keep_alive_close_and_reopen(scripted):
    client = client_for(scripted)
    for _ in range(3):
        client.model_list("K")
    assert scripted.connections == 1
    client.close()
    client.model_list("K")
    assert scripted.connections == 2


def test_a_with_block_closes_the_connections_and_from_url_reads_a_url(scripted, monkeypatch):
    with Provision.from_url(scripted.url, manage_by_cik=False, httptimeout=3) as client:
        assert client._onephttp.base_url == scripted.url and client._httptimeout == 3
        client.model_list("K")
        client.model_list("K")
        assert (scripted.connections, scripted.closed) == (1, 0)
    assert eventually(lambda: scripted.closed == 1)   # the server saw the pooled connection close
    client.model_list("K")                      # closed, not broken: the next call reconnects
    assert scripted.connections == 2 and scripted.requests[-1].headers["x-exosite-token"] == "K"
    monkeypatch.setenv("PYONEP_FAST_URL", "https://[::1]:8443")
    assert Provision.from_url()._onephttp.base_url == "https://[::1]:8443"
    with pytest.raises(ValueError, match="give only scheme://host:port"):
        Provision.from_url("http://127.0.0.1:8080/provision")




def test_responses_and_exceptions():
    answers = iter([
        http_response(b"HTTP/1.1 409 Conflict\r\n", status="409 Conflict"),
        http_response(b"HTTP/1.1 409 Conflict\r\n", status="409 Conflict"),
        http_response(b"caf\xe9", headers=["Content-Type: text/csv"]),
        http_response(b"\xff\xfebin", headers=["Content-Type: application/octet-stream"]),
        http_response("d\u00e9j\u00e0".encode(), headers=["Content-Type: application/octet-stream"]),
        http_response(b"", status="204 No Content"),
    ])
    with ScriptedServer(lambda request: next(answers)) as server:
        quiet = client_for(server)
        response = quiet.model_list("K")
        assert isinstance(response, ProvisionResponse)
        assert (response.isok, response.status(), response.reason()) == (False, 409, "Conflict")
        assert response.body == "HTTP/1.1 409 Conflict\r\n" and repr(response) == response.body
        assert str(response) == "Status: 409, Reason: Conflict, Body: HTTP/1.1 409 Conflict\r\n"
        assert response.response.status_code == 409 and response.response.content == b"HTTP/1.1 409 Conflict\r\n"

        loud = client_for(server, raise_api_exceptions=True)
        with pytest.raises(ProvisionException) as excinfo:
            loud.model_list("K")
        error = excinfo.value
        assert isinstance(error, OneException)
        assert str(error) == repr(error) == "409 Conflict"
        assert error.response.status() == 409 and error.args == (error.response,)

        # body text: the response charset; ISO-8859-1 for text/*; else UTF-8 or ISO-8859-1
        assert loud.model_list("K").body == "caf\u00e9"
        binary = loud.model_list("K")
        assert binary.body == "\u00ff\u00febin" and binary.response.content == b"\xff\xfebin"
        assert loud.model_list("K").body == "d\u00e9j\u00e0"
        empty = loud.model_list("K")
        assert empty.isok and empty.status() == 204 and empty.body == ""


def test_transport_failure_propagates():
    with ScriptedServer(lambda request: None) as server:
        port = server.port
    with pytest.raises(TransportError):
        Provision("127.0.0.1", port, httptimeout=2).model_list("K")


def test_curl_debug_logging(scripted, caplog):
    client = client_for(scripted, curldebug=True, manage_by_cik=False)
    with caplog.at_level(logging.DEBUG, logger="pyonep_fast.provision"):
        client.serialnumber_add("SECRET-TOKEN", "M", "it's")
    (record,) = [r for r in caplog.records if r.name == "pyonep_fast.provision"]
    message = record.getMessage()
    assert message.startswith(f"curl '{scripted.url}/provision/manage/model/M/' -X POST -m 5 ")
    assert "-H 'X-Exosite-Token: <redacted>'" in message and "SECRET-TOKEN" not in message
    assert message.endswith("-d 'add=true&sn=it%27s'")


def test_debug_logging_redacts_the_key(scripted, caplog):
    client = client_for(scripted)
    with caplog.at_level(logging.DEBUG, logger="pyonep_fast.provision"):
        client.model_list("SECRET-CIK")
    (record,) = [r for r in caplog.records if r.name == "pyonep_fast.provision"]
    assert "'X-Exosite-CIK': '<redacted>'" in record.getMessage()
    assert "SECRET-CIK" not in record.getMessage()
    assert scripted.requests[0].headers["x-exosite-cik"] == "SECRET-CIK"  # the wire keeps it


def test_one_client_shared_by_threads(scripted):
    client = client_for(scripted)
    errors = []

    def work():
        try:
            for _ in range(20):
                assert client.model_list("K").status() == 205
        except AssertionError as exc:  # reported to the main thread
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(scripted.requests) == 80


# ---------------------------------------------------------------- against the embedded server

@pytest.fixture
def hosted(server):
    """Programs that hardcode m2.exosite.com reach the embedded server."""
    transport.redirect(transport.ONE_PLATFORM_HOST, server.url)
    yield
    transport.redirect(transport.ONE_PLATFORM_HOST, None)


def test_pyonep_provisioning_example_flow(hosted, fresh_client, rpc):
    """spec onep-rpc.md §6.5 / provision.md §4.1: every call answers < 400."""
    vendor, token = fresh_client["vendor"], fresh_client["vendortoken"]
    portalcik, portalrid = fresh_client["cik"], fresh_client["rid"]
    clonerid = rpc(portalcik, [{"id": 1, "procedure": "create", "arguments": ["client", {}]}])[0]["result"]
    model = f"pyonep_fast_model{random.randrange(10**6)}"
    meta = '["%s", "%s"]' % (vendor, model)
    sharecode = rpc(portalcik, [{"id": 1, "procedure": "share", "arguments": [clonerid, {"meta": meta}]}])[0]["result"]
    p = Provision("m2.exosite.com", https=True, port=443, manage_by_cik=False, verbose=False, httptimeout=20,
                  raise_api_exceptions=True, manage_by_sharecode=True)

    assert p.model_create(token, model, sharecode, aliases=False).status() == 205
    assert model in p.model_list(token).body.splitlines()
    assert p.model_info(token, model).body == f"code={sharecode}&options[]=noaliases"
    sn1, sn2, sn3, sn4 = (f"00{i}{random.randrange(10**6)}" for i in range(1, 5))
    p.serialnumber_add(token, model, sn1)
    p.serialnumber_add(token, model, sn4, extra="some,extra")
    p.serialnumber_add_batch(token, model, [sn2, sn3])
    rows = "\r\n".join(f"{n:03}{random.randrange(10**6)},Extra Info{random.randrange(10**6)}" for n in range(10))
    p.serialnumber_add_batch_csv(token, model, rows + "\r\n")
    assert len(p.serialnumber_list(token, model, limit=10).body.splitlines()) == 10
    p.serialnumber_remove_batch(token, model, [sn2, sn3])
    listed = p.serialnumber_list(token, model, status=True).body.splitlines()
    assert len(listed) == 12 and not any(line.startswith((sn2 + ",", sn3 + ",")) for line in listed)

    rid = p.serialnumber_enable(token, model, sn1, portalrid).body
    assert HEX40.match(rid)
    assert p.serialnumber_info(token, model, sn1).body == f"notactivated,{rid},"
    p.serialnumber_disable(token, model, sn1)
    assert p.serialnumber_info(token, model, sn1).body == f"expired,{rid},"
    p.serialnumber_reenable(token, model, sn1)
    assert p.serialnumber_info(token, model, sn1).body == f"notactivated,{rid},"
    cik = p.serialnumber_activate(model, sn1, vendor).body
    assert HEX40.match(cik)
    assert p.serialnumber_info(token, model, sn1).body == f"activated,{rid},"

    p.content_create(token, model, "a.txt", "This is text")
    assert p.content_list(token, model).body == "a.txt"
    p.content_upload(token, model, "a.txt", "This is content data", "text/plain")
    info = p.content_info(token, model, "a.txt").body.split(",")
    assert info[:2] == ["text/plain", "20"] and info[3:] == ["This is text", "false"]
    assert p.content_info(cik, model, "a.txt", vendor=vendor).body.startswith("text/plain,20,")
    download = p.content_download(cik, vendor, model, "a.txt")
    assert download.body == "This is content data" and download.response.content == b"This is content data"
    p.content_remove(token, model, "a.txt")
    with pytest.raises(ProvisionException) as excinfo:
        p.content_info(token, model, "a.txt")
    assert str(excinfo.value) == "404 Not Found"
    p.model_remove(token, model)
    assert model not in p.model_list(token).body.splitlines()


def test_exoline_style_calls(server, fresh_client):
    """What exoline's provisioning commands send through _request."""
    host, port = server.url[len("http://"):].split(":")
    p = Provision(host, manage_by_cik=False, port=port, verbose=True, httptimeout="60", https=False,
                  raise_api_exceptions=True, curldebug=False)
    key = fresh_client["vendortoken"]
    p.model_create(key, "ex", fresh_client["rid"])
    p._request("/provision/manage/model/ex/", key, "a1\na2\n", "POST", False, {"Content-Type": "text/csv; charset=utf-8"})
    ranges = '{"ranges":[{"format":"mac:48","length":null,"casing":"upper","first":1108152157440,"last":1108152157695}]}'
    p._request("/provision/manage/model/ex/", key, ranges, "POST", False,
               {"Content-Type": "application/javascript; charset=utf-8"})
    got = p._request("/provision/manage/model/ex/?show=ranges", key, "", "GET", False, {"Accept": "*"})
    assert got.body == ranges[len('{"ranges":'):-1]
    assert p._request("/provision/manage/model/ex/a1?show=log", key, "", "GET", False).status() == 204
    assert p.serialnumber_list(key, "ex", "0", "1000").body.splitlines() == ["a1,,", "a2,,"]
    p._request("/provision/manage/model/ex/", key, "a1\na2\n", "DELETE", False, {"Content-Type": "text/csv; charset=utf-8"})
    assert p.serialnumber_list(key, "ex", "0", "1000").body == ""
    p.content_create(key, "ex", "j.json", "thisissometa", protected=True)
    p.content_upload(key, "ex", "j.json", b'{"a": 1}', "application/json")
    assert re.fullmatch(r"application/json,8,\d+,thisissometa,true", p.content_info(key, "ex", "j.json").body)
    got = p._request("/provision/manage/content/ex/j.json?download=true", key, "", "GET", False, {"Accept": "*"})
    assert got.response.content == b'{"a": 1}'
    with pytest.raises(ProvisionException) as excinfo:
        p.serialnumber_info(key, "ex", "nope")
    assert str(excinfo.value) == "404 Not Found" and excinfo.value.response.body.strip() == "HTTP/1.1 404 Not Found"
