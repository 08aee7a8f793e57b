"""The M2X and EXP presets (m2x-devices, exp-network) in bounded runs against
the embedded server, checked against what the server stored, and their
fleets failing fast in one line."""
import json

import orjson
from scripted_http import closed_port

VALUES = "POST /v2/devices/{id}/streams/{name}/values"


def m2x_stored(http, url, device):
    """How many values the server holds in a device's stream, asked with its own key."""
    response = http.request("GET", f"{url}/v2/devices/{device['device']}/streams/{device['stream']}/stats",
                            headers={"X-M2X-KEY": device["key"]})
    assert response.status == 200, response.data
    return orjson.loads(response.data)["stats"]["count"]


def test_m2x_devices_against_an_embedded_server_it_starts(loadtest, request_row, assert_reports):
    done, report, summary = loadtest("m2x-devices", "--users", 3, "--run-time", "2s", "--interval", "0.1")
    assert done.returncode == 0, done.stderr
    assert "embedded server at http://127.0.0.1:" in done.stderr
    post = assert_reports(report, summary, "M2X", VALUES)
    # 3 devices at 10 posts/s each, open loop, for about 2 s (minus spawn and phase)
    assert 15 <= post["requests"] <= 75 and post["failures"] == 0
    assert 0 < post["min_ms"] <= post["avg_ms"] <= post["max_ms"]
    # each device made under the process's one account: device, stream, device key
    assert request_row(summary, "fixtures", "POST /_fixtures/m2x/accounts")["requests"] == 1
    for name in ("POST /v2/devices", "PUT /v2/devices/{id}/streams/{name}", "POST /v2/keys"):
        assert request_row(summary, "M2X", name)["requests"] == 3


def test_m2x_devices_post_with_their_own_keys_and_every_value_is_stored(loadtest, server, http, request_row,
                                                                         assert_stored, tmp_path):
    path = tmp_path / "m2x-fleet.jsonl"
    done, report, summary = loadtest("m2x-devices", "--url", server.url, "--users", 3, "--run-time", "2s",
                                     "--interval", "0.1", "--points", 4, "--fleet", path, "--make-fleet", 5)
    assert done.returncode == 0, done.stderr
    devices = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({device["key"] for device in devices}) == len({device["device"] for device in devices}) == 5
    post = request_row(summary, "M2X", VALUES)
    assert post["requests"] > 0 and post["failures"] == 0
    stored = [m2x_stored(http, server.url, device) for device in devices]
    assert_stored(sum(stored), post["requests"], 4, users=3)
    # one local worker deals the first devices to its 3 users; the rest wait unused
    assert [bool(count) for count in stored] == [True, True, True, False, False]
    # a device key reaches only its own device
    other = http.request("GET", f"{server.url}/v2/devices/{devices[1]['device']}",
                         headers={"X-M2X-KEY": devices[0]["key"]})
    assert other.status == 403


def test_m2x_fleet_that_cannot_be_had_fails_fast_with_one_line(loadtest, server, tmp_path):
    port = closed_port()
    done, _, summary = loadtest("m2x-devices", "--url", f"http://127.0.0.1:{port}", deadline=20)
    assert done.returncode == 2 and summary is None
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"pyonep-fast loadtest: cannot create an M2X account at http://127.0.0.1:{port}: ")
    # keys the server does not know: the fleet's first device is not reachable with its key
    path = tmp_path / "unknown.jsonl"
    path.write_text(json.dumps({"key": "0" * 32, "device": "f" * 32, "stream": "value"}) + "\n")
    done, _, summary = loadtest("m2x-devices", "--url", server.url, "--fleet", path, deadline=20)
    assert done.returncode == 2 and summary is None
    assert done.stderr.strip().splitlines() == [
        f"pyonep-fast loadtest: cannot use the fleet's first device key at {server.url}: "
        f"404 Client Error: Not Found for url: {server.url}/v2/devices/{'f' * 32}"]


def test_exp_network_broadcasts_reach_every_other_device_and_come_back(loadtest, request_row, assert_reports):
    # a window long enough for a loaded machine: a response later than it is a failure
    done, report, summary = loadtest("exp-network", "--users", 4, "--run-time", "4s", "--interval", "0.5",
                                     "--window", "1")
    assert done.returncode == 0, done.stderr
    broadcast = assert_reports(report, summary, "EXP", "broadcast ping")
    # every broadcast came back with a response (none while others listened is a failure),
    # after the window in which the server collects them
    assert broadcast["requests"] >= 8 and broadcast["failures"] == 0
    assert broadcast["min_ms"] >= 1000
    assert request_row(summary, "EXP", "connect") == {**request_row(summary, "EXP", "connect"),
                                                       "requests": 4, "failures": 0}
    delivered = request_row(summary, "EXP", "delivery ping")
    responded = request_row(summary, "EXP", "POST /api/networks/current/responses")
    assert delivered["failures"] == responded["failures"] == 0 and delivered["min_ms"] > 0
    # each ping reaches the 3 other devices, each answers it (those in flight at the end excepted)
    assert 3 * broadcast["requests"] - 12 <= delivered["requests"] == responded["requests"] \
        <= 3 * broadcast["requests"] + 12
    assert request_row(summary, "EXP", "POST /api/auth/login")["requests"] == 5  # 4 devices + the organization's user


def test_exp_fleet_that_cannot_be_had_fails_fast_with_one_line(loadtest, server, tmp_path):
    port = closed_port()
    done, _, summary = loadtest("exp-network", "--url", f"http://127.0.0.1:{port}", deadline=20)
    assert done.returncode == 2 and summary is None
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"pyonep-fast loadtest: cannot create an EXP organization at http://127.0.0.1:{port}: ")
    # a fleet whose secrets the server refuses
    path = tmp_path / "refused.jsonl"
    made = tmp_path / "made.jsonl"
    done, _, _ = loadtest("exp-network", "--url", server.url, "--users", 1, "--run-time", "1s",
                          "--fleet", made, "--make-fleet", 1)
    assert done.returncode == 0, done.stderr
    device = json.loads(made.read_text())
    path.write_text(json.dumps({**device, "secret": "not " + device["secret"]}) + "\n")
    done, _, summary = loadtest("exp-network", "--url", server.url, "--fleet", path, deadline=20)
    assert done.returncode == 2 and summary is None
    assert done.stderr.strip().splitlines() == [
        f"pyonep-fast loadtest: cannot log in to EXP at {server.url}: Invalid credentials."]
