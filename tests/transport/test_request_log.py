"""One DEBUG line per request on the `pyonep_fast` logger (method, URL
without secrets, status, bytes, milliseconds), from every client; CIKs and
keys are never in it (issue 12, item 5)."""
import logging
import re

import pytest
from scripted_http import closed_port

from pyonep_fast.onep import OnepV1
from pyonep_fast.provision import Provision
from pyonep_fast.transport import Transport

LINE = re.compile(r"(?P<method>[A-Z]+) (?P<url>\S+) -> (?P<status>\S+), (?P<sent>\d+) bytes sent, "
                  r"(?P<received>\d+) received, (?P<ms>\d+\.\d) ms\Z")


def request_lines(caplog):
    return [LINE.fullmatch(r.getMessage()) for r in caplog.records
            if r.name == "pyonep_fast.transport" and " -> " in r.getMessage()]


@pytest.fixture
def debug_log(caplog):
    caplog.set_level(logging.DEBUG, logger="pyonep_fast")
    return caplog


def everything_logged(caplog):
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pyonep_fast"))


def test_each_rpc_request_is_one_line_without_the_cik(server, fresh_client, debug_log):
    cik = fresh_client["cik"]
    with OnepV1.from_url(server.url, curldebug=True) as onep:
        assert onep.lookup(cik, "alias", "") == (True, fresh_client["rid"])
        for name in "ab":
            onep.create(cik, "dataport", {"format": "integer", "name": name}, defer=True)
        onep.send_deferred(cik)
    lines = request_lines(debug_log)
    assert len(lines) == 2 and all(lines)
    for line in lines:
        assert line["method"] == "POST" and line["url"] == server.url + "/onep:v1/rpc/process"
        assert line["status"] == "200" and int(line["sent"]) > 40 and int(line["received"]) > 0
    assert cik not in everything_logged(debug_log)


def test_provision_and_hdi_paths_keep_keys_out(server, fresh_client, debug_log):
    with Provision.from_url(server.url) as provision:
        assert provision.model_list(fresh_client["vendortoken"]).isok
    with Transport(server.url) as plain:
        plain.request("GET", f"/onep:v1/stack/alias?{fresh_client['cik']}",
                      headers={"X-Exosite-CIK": fresh_client["cik"]})
        plain.request("GET", f"/provision/download/{fresh_client['cik']}?vendor=v")
        plain.request("GET", "/v2/keys/0123456789abcdef0123456789abcdef")
    lines = request_lines(debug_log)
    assert [line["url"] for line in lines] == [
        server.url + "/provision/manage/model/", server.url + "/onep:v1/stack/alias",
        server.url + "/provision/download/<redacted>", server.url + "/v2/keys/<redacted>"]
    logged = everything_logged(debug_log)
    for secret in (fresh_client["cik"], fresh_client["vendortoken"], "0123456789abcdef0123456789abcdef"):
        assert secret not in logged


def test_a_failed_request_names_its_failure(debug_log):
    port = closed_port()
    with Transport(f"http://127.0.0.1:{port}", retries=0) as plain, pytest.raises(ConnectionError):
        plain.request("POST", "/onep:v1/rpc/process", b"{}")
    (line,) = request_lines(debug_log)
    assert line["status"] == "ConnectionFailed" and line["sent"] == "2" and line["received"] == "0"


def test_no_request_line_above_debug(server, fresh_client, caplog):
    caplog.set_level(logging.INFO, logger="pyonep_fast")
    with OnepV1.from_url(server.url) as onep:
        onep.lookup(fresh_client["cik"], "alias", "")
    assert request_lines(caplog) == []
