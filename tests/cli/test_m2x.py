"""`pyonep-fast m2x …` as the real entry point in subprocesses against the
real embedded server: what each command prints, its exit status, and every
mistake in one line on stderr with M2X's own message."""
import json
import os
import socket
import subprocess
import sys

import orjson
import pytest

from pyonep_fast.m2x.client import M2XClient

CLI = [sys.executable, "-c", "import sys; from pyonep_fast.cli import main; sys.exit(main())"]
ENV = {key: value for key, value in os.environ.items() if key not in ("PYONEP_FAST_URL", "PYONEP_FAST_M2X_KEY")}


@pytest.fixture
def m2x(server, http):
    """m2x(*argv, input=None, key=...) -> (status, stdout, stderr) of `pyonep-fast m2x --url U --key K argv`."""
    key = orjson.loads(http.request("POST", server.url + "/_fixtures/m2x/accounts").data)["key"]

    def run(*argv, input=None, key=key, url=server.url):
        options = ["--url", url] + (["--key", key] if key else [])
        done = subprocess.run([*CLI, "m2x", *options, *argv], input=input, capture_output=True, text=True,
                              timeout=120, env=ENV)
        return done.returncode, done.stdout, done.stderr
    run.key = key
    run.client = M2XClient(key, endpoint=server.url)
    yield run
    run.client.api.close()


def ok(outcome):
    status, out, err = outcome
    assert status == 0 and not err, err
    return out


def test_devices_streams_and_keys(m2x):
    device = ok(m2x("devices", "create", "thermostat", "--tags", "home,heat", "--description", "hall")).strip()
    assert m2x.client.device(device).name == "thermostat"
    assert m2x.client.device(device)["tags"] == ["home", "heat"]
    assert ok(m2x("devices", "list")) == f"{device}  thermostat  private  enabled\n"
    assert json.loads(ok(m2x("devices", "get", device)))["description"] == "hall"

    created = json.loads(ok(m2x("streams", "create", device, "temp", "--unit-label", "Celsius",
                                "--unit-symbol", "C", "--json")))
    assert created["name"] == "temp" and created["unit"] == {"label": "Celsius", "symbol": "C"}
    updated = json.loads(ok(m2x("streams", "create", device, "temp", "--display-name", "Temperature")))
    assert updated["display_name"] == "Temperature" and updated["unit"]["symbol"] == "C"
    ok(m2x("values", "post", device, "temp", "21.5"))
    listed = ok(m2x("streams", "list", device)).split("  ")
    assert listed[:3] == ["temp", "numeric", "21.5 C"]
    assert json.loads(ok(m2x("streams", "get", device, "temp")))["value"] == 21.5

    token = ok(m2x("keys", "create", "reader", "--permissions", "get", "--device", device)).strip()
    lines = ok(m2x("keys", "list", "--device", device)).splitlines()
    assert f"{token}  reader  GET  device {device}" in lines
    # the device key reads, and may not write: M2X's 403 in one line
    assert ok(m2x("streams", "get", device, "temp", "--json", key=token))
    status, out, err = m2x("values", "post", device, "temp", "1", key=token)
    assert status == 1 and not out and err.startswith("pyonep-fast m2x: 403 ") and err.count("\n") == 1
    ok(m2x("keys", "delete", token))
    assert token not in ok(m2x("keys", "list"))

    ok(m2x("devices", "delete", device))
    assert m2x("devices", "get", device) == (1, "", "pyonep-fast m2x: 404 Device not found\n")


def test_values_post_read_stats_and_sampling_with_m2x_times(m2x):
    device = m2x.client.create_device(name="meter", visibility="private")
    stream = device.create_stream("power")
    ok(m2x("values", "post", device.id, "power", "5", "--time", "2020-01-01T00:00:00.250Z"))
    ok(m2x("values", "post", device.id, "power", "6", "--time", "2020-01-01 01:00", "--tz", "Europe/Paris"))
    lines = "".join(f"{1_577_836_860 + 60 * i},{i}\n" for i in range(25_000))   # from 2020-01-01T00:01:00Z
    assert ok(m2x("values", "post", device.id, "power", "-", "-v", input=lines)) == "posted 25000 values\n"
    assert stream.stats()["stats"]["count"] == 25_002

    newest = ok(m2x("values", "read", device.id, "power", "--limit", "3")).splitlines()
    assert newest == ["2020-01-18T08:40:00.000Z,24999.0", "2020-01-18T08:39:00.000Z,24998.0",
                      "2020-01-18T08:38:00.000Z,24997.0"]
    # streamed a page at a time, across pages, in the range given
    everything = ok(m2x("values", "read", device.id, "power", "--limit", "all", "--start", "2020-01-01",
                        "--end", "2020-01-18T09:00:00Z")).splitlines()
    assert len(everything) == 25_002 and everything[-1] == "2020-01-01T00:00:00.000Z,6.0"
    assert everything[-2] == "2020-01-01T00:00:00.250Z,5.0"
    first_two = json.loads(ok(m2x("values", "read", device.id, "power", "--start", "2020-01-01",
                                  "--end", "2020-01-01T00:00:00.999Z", "--json")))
    assert first_two == [{"timestamp": "2020-01-01T00:00:00.250Z", "value": 5.0},
                         {"timestamp": "2020-01-01T00:00:00.000Z", "value": 6.0}]
    assert ok(m2x("values", "read", device.id, "power", "--start", "-1h", "--json")) == "[]\n"

    stats = json.loads(ok(m2x("stats", device.id, "power", "--start", "2020-01-01T00:01:00Z", "--json")))
    assert stats["stats"]["count"] == 25_000 and stats["stats"]["max"] == 24_999
    assert stats["start"] == "2020-01-01T00:01:00.000Z"
    buckets = ok(m2x("sampling", device.id, "power", "--interval", "86400", "--type", "count",
                     "--start", "2020-01-01")).splitlines()
    assert buckets[-1] == "2020-01-01T00:00:00.000Z,1441.0" and len(buckets) == 18


def test_mistakes_end_in_one_line_and_the_right_status(m2x):
    device = m2x.client.create_device(name="d", visibility="private")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    runs = {
        "no key": m2x("devices", "list", key=None),
        "bad time": m2x("values", "read", device.id, "x", "--start", "yesterday"),
        "no stream": m2x("stats", device.id, "nope"),
        "bad value line": m2x("values", "post", device.id, "s", "-", input="2020-01-01T00:00:00Z,1\nsoon,2\n"),
        "no lines": m2x("values", "post", device.id, "s", "-", input="\n"),
        "refused value": m2x("values", "post", device.id, "s", "1", "--time", "1969-12-31T23:59:59Z"),
        "unreachable": m2x("devices", "list", url=f"http://127.0.0.1:{closed}"),
        "bad url": m2x("devices", "list", url="ftp://x"),
        "bad permission": m2x("keys", "create", "k", "--permissions", "FETCH"),
        "no interval": m2x("sampling", device.id, "s"),
    }
    expected = {
        "no key": (2, "pyonep-fast m2x: give --key (or set PYONEP_FAST_M2X_KEY)"),
        "bad time": (2, "pyonep-fast m2x: timestamp 'yesterday' is neither epoch seconds, now, -30s/-2h/-1d/-1w "
                        "nor ISO 8601"),
        "no stream": (1, "pyonep-fast m2x: 404 Stream not found"),
        "bad value line": (1, "pyonep-fast m2x: stdin line 2: timestamp 'soon' is neither epoch seconds, now, "
                              "-30s/-2h/-1d/-1w nor ISO 8601"),
        "no lines": (1, "pyonep-fast m2x: no values to post (give timestamp,value lines on stdin)"),
        "refused value": (2, "pyonep-fast m2x: timestamp '1969-12-31T23:59:59Z' is before 1970"),
        "unreachable": (1, "pyonep-fast m2x: cannot reach the server: connection refused (is `pyonep-fast serve` "
                           "running there?)"),
        "bad url": (2, "pyonep-fast m2x: server URL 'ftp://x': the scheme must be http or https, not 'ftp'"),
    }
    for name, (status, message) in expected.items():
        assert runs[name] == (status, "", message + "\n"), name
    for name in ("bad permission", "no interval"):   # argparse's own: one line, status 2
        status, out, err = runs[name]
        assert status == 2 and not out and err.count("\n") == 1 and "--help" in err, (name, err)
    assert device.streams() == []   # nothing was written by a refused command


def test_an_m2x_validation_error_names_the_fields(m2x):
    """422: M2X's message and the fields of its `reason`."""
    device = m2x.client.create_device(name="d", visibility="private")
    device.create_stream("level", type="numeric")
    device.stream("level").add_value(1)
    status, out, err = m2x("streams", "create", device.id, "level", "--type", "alphanumeric")
    assert (status, out) == (1, "") and err.startswith("pyonep-fast m2x: 422 ") and err.endswith("(type: invalid)\n")


def test_a_large_read_streams_before_it_ends(m2x, server):
    """The first lines are out while later pages are still being read."""
    device = m2x.client.create_device(name="big", visibility="private")
    import numpy as np

    stamps = np.datetime64("2021-01-01T00:00:00", "ms") + np.arange(60_000) * np.timedelta64(1, "s")
    device.create_stream("n").post_values((stamps, np.arange(60_000, dtype=np.float64)))
    process = subprocess.Popen([*CLI, "m2x", "--url", server.url, "--key", m2x.key, "values", "read", device.id, "n",
                                "--limit", "all"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    first = process.stdout.readline()
    assert first == "2021-01-01T16:39:59.000Z,59999.0\n"
    rest = process.stdout.read()
    assert process.wait(60) == 0 and rest.count("\n") == 59_999
