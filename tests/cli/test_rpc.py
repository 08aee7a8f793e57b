"""`pyonep-fast read|write|record|info|tree` against the embedded server."""
import io
import json
import os
import subprocess
import sys

import pytest

from pyonep_fast.cli import main
from pyonep_fast.onep import OnepV1

RETENTION = {"count": "infinity", "duration": "infinity"}


@pytest.fixture
def port_setup(server, fresh_client):
    """A fresh client with dataports 'temp' (float) and 'name' (string)."""
    cik = fresh_client["cik"]
    host, port = server.url.rsplit("//", 1)[1].split(":")
    with OnepV1(host=host, port=port, https=False) as onep:
        rids = {}
        for alias, format in (("temp", "float"), ("name", "string")):
            isok, rid = onep.create(cik, "dataport", {"format": format, "name": alias.title(),
                                                      "retention": RETENTION})
            assert isok and onep.map(cik, rid, alias)[0]
            rids[alias] = rid
    return server.url, cik, rids


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_write_then_read(port_setup, capsys):
    url, cik, rids = port_setup
    assert run(capsys, "write", "--url", url, cik, "temp", "21.5") == (0, "", "")
    code, out, _ = run(capsys, "read", "--url", url, cik, "temp", "--json", "--start", "-1d", "--end", "now")
    assert code == 0
    ((timestamp, value),) = json.loads(out)
    assert value == 21.5
    code, out, _ = run(capsys, "read", "--url", url, cik, "temp", "--json", "--end", "-1d")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run(capsys, "read", "--url", url, cik, rids["temp"], "--timeformat", "unix")
    assert out == f"{timestamp},21.5\n"


def test_record_from_stdin_and_values_then_read_a_window(port_setup, capsys, monkeypatch):
    url, cik, _ = port_setup
    monkeypatch.setattr(sys, "stdin", io.StringIO(
        "1400000000,1.5\n2014-05-13T16:54:20Z,2.5\n\n1400000120,3.5\n"))
    assert run(capsys, "record", "--url", url, cik, "temp", "-v") == (0, "recorded 3 points\n", "")
    assert run(capsys, "record", "--url", url, cik, "name", "--value", "1400000000,hello, world",
               "--value", "1400000060,\u00e9t\u00e9")[0] == 0
    code, out, _ = run(capsys, "read", "--url", url, cik, "temp", "--start", "1400000000",
                       "--end", "2014-05-13T16:54:20Z", "--limit", "10", "--sort", "asc")
    assert (code, out) == (0, "2014-05-13T16:53:20+00:00,1.5\n2014-05-13T16:54:20+00:00,2.5\n")
    code, out, _ = run(capsys, "read", "--url", url, cik, "name", "--limit", "5", "--json")
    assert json.loads(out) == [[1400000060, "\u00e9t\u00e9"], [1400000000, "hello, world"]]


def test_record_reports_rejected_entries(port_setup, capsys, monkeypatch):
    url, cik, _ = port_setup
    code, out, err = run(capsys, "record", "--url", url, cik, "temp", "--value", "1400000000,abc")
    assert code == 1
    assert err == ("pyonep-fast record: record: 1 of 1 points refused as invalid for the dataport's format: "
                   "t=1400000000\n")
    code, _, err = run(capsys, "record", "--url", url, cik, "temp", "--value", "1400000000")
    assert code == 1 and "--value line 1: expected timestamp,value" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("1400000000,1\n1,2,3\n"))
    code, _, err = run(capsys, "record", "--url", url, cik, "temp")
    assert code == 1 and "stdin line 2: expected timestamp,value" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    code, _, err = run(capsys, "record", "--url", url, cik, "temp")
    assert code == 1 and "no entries to record" in err


def test_info_and_rpc_errors(port_setup, capsys):
    url, cik, rids = port_setup
    code, out, _ = run(capsys, "info", "--url", url, cik, "temp", "--json")
    info = json.loads(out)
    assert code == 0 and info["description"]["format"] == "float" and info["basic"]["type"] == "dataport"
    code, out, err = run(capsys, "read", "--url", url, cik, "nope")
    assert (code, out, err) == (1, "", "pyonep-fast read: read: alias 'nope' not found under this client\n")
    code, _, err = run(capsys, "info", "--url", url, "0" * 40, "temp")
    assert code == 1 and "401" in err


def test_tree_lists_resources_recursively(port_setup, capsys, server):
    url, cik, rids = port_setup
    host, port = url.rsplit("//", 1)[1].split(":")
    with OnepV1(host=host, port=port, https=False) as onep:
        isok, child = onep.create(cik, "client", {"name": "Gateway", "limits": {"dataport": "inherit"}})
        assert isok and onep.map(cik, child, "gw")[0]
        child_cik = onep.info(cik, child, {"key": True})[1]["key"]
        isok, inner = onep.create(child_cik, "dataport", {"format": "integer", "name": "Counter",
                                                          "retention": RETENTION})
        assert isok
    code, out, _ = run(capsys, "tree", "--url", url, cik, "--json")
    tree = json.loads(out)
    assert code == 0 and tree["cik"] == cik
    kids = {node["name"]: node for node in tree["children"]}
    assert kids["Temp"]["aliases"] == ["temp"] and kids["Temp"]["format"] == "float"
    assert kids["Gateway"]["cik"] == child_cik and kids["Gateway"]["aliases"] == ["gw"]
    assert [(n["name"], n["rid"]) for n in kids["Gateway"]["children"]] == [("Counter", inner)]
    code, out, _ = run(capsys, "tree", "--url", url, cik)
    lines = out.splitlines()
    assert "  client  rid=" in lines[0] and lines[0].endswith(f"cik={cik}")
    assert any(line.startswith("├── Temp  dataport  float  aliases: temp  rid=" + rids["temp"])
               for line in lines)
    assert any(line.startswith("│   └── Counter  dataport  integer  rid=" + inner) for line in lines)


def test_command_line_in_a_subprocess(port_setup):
    url, cik, _ = port_setup
    command = [sys.executable, "-c", "import sys; from pyonep_fast.cli import main; sys.exit(main())"]
    written = subprocess.run(command + ["write", cik, "name", "from the shell"], capture_output=True,
                             text=True, timeout=60, env={**os.environ, "PYONEP_FAST_URL": url})
    assert written.returncode == 0, written.stderr
    read = subprocess.run(command + ["read", "--url", url, cik, "name", "--json"], capture_output=True,
                          text=True, timeout=60)
    assert read.returncode == 0 and json.loads(read.stdout)[0][1] == "from the shell"
