"""`pyonep-fast provision …` against the embedded server."""
import re

import pytest

from pyonep_fast.cli import build_parser, main, url_of
from pyonep_fast.compat import DEFAULT_URL

HEX40 = re.compile(r"[0-9a-f]{40}\Z")


def run(*argv):
    return main(["provision", *argv])


@pytest.fixture
def cli(server, fresh_client, capsys):
    """cli(*args) -> (exit code, stdout, stderr) with the vendor's token and the server's URL."""
    def invoke(*argv, key=("--token", fresh_client["vendortoken"])):
        code = run("--url", server.url, *key, *argv)
        out, err = capsys.readouterr()
        return code, out, err
    return invoke


def test_fleet_tasks(cli, fresh_client, rpc, tmp_path):
    template = rpc(fresh_client["cik"], [{"id": 1, "procedure": "create", "arguments": ["client", {}]}])[0]["result"]
    assert cli("model", "create", "cm", template, "--nohistorical") == (0, "", "")
    assert cli("model", "list")[1] == "cm\n"
    assert cli("model", "info", "cm")[1] == f"rid={template}&options[]=nohistorical\n"
    assert cli("sn", "add", "cm", "s1", "s2")[0] == 0
    rows = tmp_path / "sns.csv"
    rows.write_text("s3,third\ns4\n")
    assert cli("sn", "add", "cm", "--file", str(rows))[0] == 0
    assert cli("sn", "list", "cm")[1].splitlines() == ["s1,,", "s2,,", "s3,,third", "s4,,"]
    code, rid, _ = cli("sn", "enable", "cm", "s1", "--owner", fresh_client["rid"])
    assert code == 0 and HEX40.match(rid.strip())
    assert cli("sn", "list", "cm", "--status", "--limit", "5")[1].splitlines()[0] == f"s1,notactivated,{rid.strip()},"
    code, cik, _ = cli("activate", "cm", "s1", "--vendor", fresh_client["vendor"], key=())
    assert code == 0 and HEX40.match(cik.strip())
    assert cli("sn", "info", "cm", "s1")[1] == f"activated,{rid.strip()},\n"
    assert cli("sn", "info", "cm", "s1", "--log")[1].count("\n") == 1
    assert cli("sn", "delete", "cm", "s3", "s4")[0] == 0
    assert len(cli("sn", "list", "cm")[1].splitlines()) == 2

    firmware = tmp_path / "fw.json"
    firmware.write_bytes(b'{"version": 2}')
    assert cli("content", "upload", "cm", "fw", str(firmware), "--meta", "firmware")[0] == 0
    assert cli("content", "upload", "cm", "fw", str(firmware))[0] == 0  # exists: upload only
    assert cli("content", "list", "cm")[1] == "fw\n"
    copy = tmp_path / "copy"
    assert cli("content", "download", "cm", "fw", str(copy)) == (0, "", "")
    assert copy.read_bytes() == b'{"version": 2}'
    assert cli("model", "delete", "cm")[0] == 0
    assert cli("model", "list")[1] == ""


def test_vendor_cik_instead_of_token(cli, fresh_client):
    assert cli("model", "create", "bycik", fresh_client["rid"], key=("--cik", fresh_client["cik"]))[0] == 0
    assert cli("model", "list", key=("--cik", fresh_client["cik"]))[1] == "bycik\n"


def test_errors_exit_nonzero(cli, server, capsys, tmp_path):
    code, out, err = cli("model", "info", "missing")
    assert code == 1 and out == ""
    assert err == "pyonep-fast provision: 404 Not Found\n"
    assert cli("model", "list", key=("--token", "0" * 40))[2] == "pyonep-fast provision: 401 Unauthorized\n"
    assert cli("model", "list", key=())[0] == 1  # no key
    assert cli("sn", "add", "m")[0] == 1  # nothing to add
    assert cli("content", "upload", "m", "x", str(tmp_path / "absent"))[0] == 1


def test_url_defaults_to_the_env_then_where_serve_listens(monkeypatch):
    argv = ["provision", "--token", "t", "model", "list"]
    monkeypatch.delenv("PYONEP_FAST_URL", raising=False)
    assert url_of(build_parser().parse_args(argv)) == DEFAULT_URL == "http://127.0.0.1:8080"
    monkeypatch.setenv("PYONEP_FAST_URL", "127.0.0.1:9999")
    assert url_of(build_parser().parse_args(argv)) == "http://127.0.0.1:9999"


def test_unreachable_server_and_bad_url(capsys):
    assert run("--url", "ftp://x", "--token", "t", "model", "list") == 2
    assert run("--url", "http://127.0.0.1:9", "--token", "t", "--timeout", "2", "model", "list") == 1
    assert capsys.readouterr().err.splitlines() == [
        "pyonep-fast provision: server URL 'ftp://x': the scheme must be http or https, not 'ftp'",
        "pyonep-fast provision: cannot reach the server: connection refused (is `pyonep-fast serve` running there?)"]
