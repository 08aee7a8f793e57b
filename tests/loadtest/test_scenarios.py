"""Bounded runs (a few users, seconds) of every `pyonep-fast loadtest`
preset against the embedded server, checked against what the server stored."""
import json
import re

from scripted_http import closed_port


def stored_points(rpc, device):
    [answer] = rpc(device["cik"], [{"id": 1, "procedure": "read",
                                    "arguments": [device["dataport"], {"limit": 1000000, "starttime": 0}]}])
    assert answer["status"] == "ok"
    return len(answer["result"])


def test_devices_against_an_embedded_server_it_starts(loadtest, request_row, assert_reports):
    done, report, summary = loadtest("devices", "--users", 3, "--run-time", "2s", "--interval", "0.1")
    assert done.returncode == 0, done.stderr
    assert "embedded server at http://127.0.0.1:" in done.stderr
    write = assert_reports(report, summary, "onep", "write")
    # 3 devices at 10 writes/s each, open loop, for about 2 s (minus spawn and phase)
    assert 15 <= write["requests"] <= 75 and write["failures"] == 0
    assert 0 < write["min_ms"] <= write["avg_ms"] <= write["max_ms"]
    # each device was made through the fountain and One Platform, both reported
    assert request_row(summary, "fountain", "GET /api/create")["requests"] == 3
    assert request_row(summary, "onep", "createDataport")["requests"] == 3
    assert sum(summary["throughput"]["series"]["onep write"]["requests"]) == write["requests"]


def test_ingest_stores_every_point_it_reported(loadtest, server, rpc, make_fleet, assert_reports, assert_stored):
    path, devices = make_fleet(2)
    done, report, summary = loadtest("ingest", "--url", server.url, "--users", 2, "--run-time", "2s",
                                     "--fleet", path, "--points", 50)
    assert done.returncode == 0, done.stderr
    row = assert_reports(report, summary, "onep", "recordbatch")
    assert row["requests"] > 0 and row["failures"] == 0 and row["min_ms"] > 0
    assert_stored(sum(stored_points(rpc, device) for device in devices), row["requests"], 50, users=2)


def test_deferred_batches_are_one_request_each(loadtest, server, rpc, make_fleet, request_row, assert_reports):
    path, devices = make_fleet(2)
    done, report, summary = loadtest("deferred", "--url", server.url, "--users", 2, "--run-time", "2s",
                                     "--fleet", path, "--batch", 7)
    assert done.returncode == 0, done.stderr
    row = assert_reports(report, summary, "onep", "deferred write")
    assert row["requests"] > 0 and row["failures"] == 0 and row["min_ms"] > 0
    assert [r["name"] for r in summary["request_types"]] == ["deferred write"]  # no single writes
    # each reported request carried the answers of 7 calls: [{"id":N,"status":"ok"}, ...]
    assert 7 * 20 < row["avg_response_bytes"] < 7 * 30
    assert all(stored_points(rpc, device) for device in devices)


def test_readers(loadtest, server, make_fleet, request_row, assert_reports):
    path, devices = make_fleet(2)
    done, report, summary = loadtest("readers", "--url", server.url, "--users", 2, "--run-time", "2s",
                                     "--fleet", path)
    assert done.returncode == 0, done.stderr
    read = assert_reports(report, summary, "onep", "read")
    assert read["requests"] > 10 and read["failures"] == 0 and read["min_ms"] > 0
    assert request_row(summary, "onep", "recordbatch")["requests"] == 2  # each reader's history
    # a read of 10 points answers more bytes than a write's "ok"
    assert read["avg_response_bytes"] > 100


def test_a_fleet_that_cannot_be_made_fails_fast_with_one_line(loadtest, run_python, tmp_path):
    closed = closed_port()
    done, report, summary = loadtest("devices", "--url", f"http://127.0.0.1:{closed}", deadline=20)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"pyonep-fast loadtest: cannot create a device at http://127.0.0.1:{closed}")
    # through the `pyonep-fast` command, which starts the loadtest module over with the same options
    command = ["-c", "import sys; from pyonep_fast.cli import main; sys.exit(main())", "loadtest"]
    done = run_python([*command, "devices", "--url", f"http://127.0.0.1:{closed}",
                       "--fleet", str(tmp_path / "missing"), "--run-time", "1m"], tmp_path, deadline=20)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"pyonep-fast loadtest: cannot read the fleet file {tmp_path / 'missing'}: "
        f"[Errno 2] No such file or directory: '{tmp_path / 'missing'}'"]


def worker_lines(stderr):
    """(index, requests, failures) of each worker's own count, as it printed it."""
    return [tuple(map(int, m)) for m in re.findall(r"worker (\d+): (\d+) requests, (\d+) failures", stderr)]


def test_master_with_two_workers_aggregates_their_stats(loadtest, server, rpc, make_fleet, request_row):
    path, devices = make_fleet(4)
    done, report, summary = loadtest("devices", "--url", server.url, "--processes", 2, "--users", 4,
                                     "--run-time", "3s", "--interval", "0.05", "--fleet", path)
    assert done.returncode == 0, done.stderr
    workers = worker_lines(done.stderr)
    assert sorted(index for index, _, _ in workers) == [0, 1]
    assert all(requests > 0 for _, requests, _ in workers)
    assert summary["totals"]["requests"] == sum(requests for _, requests, _ in workers)
    assert summary["settings"]["workers"] == 2
    write = request_row(summary, "onep", "write")
    assert write["failures"] == 0
    # the devices were dealt to the workers without overlap: every one wrote
    assert all(stored_points(rpc, device) for device in devices)


def test_master_totals_are_exact_when_workers_come_back_late(loadtest, server, make_fleet):
    """Workers that take 2 s after stopping before they are ready again (Locust's
    own knob for slow networks): a master that quits meanwhile reaches none
    of them. Every request must still be in the totals, which a run shorter
    than Locust's 3 s report interval leaves to the final reports."""
    path, _ = make_fleet(4)
    done, report, summary = loadtest("devices", "--url", server.url, "--processes", 2, "--users", 4,
                                     "--run-time", "2s", "--interval", "0.05", "--fleet", path,
                                     env={"LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP": "2"})
    assert done.returncode == 0, done.stderr
    workers = worker_lines(done.stderr)
    assert sorted(index for index, _, _ in workers) == [0, 1] and all(requests for _, requests, _ in workers)
    assert summary["totals"]["requests"] == sum(requests for _, requests, _ in workers)
    assert "not every worker" not in done.stderr


def test_make_fleet_makes_devices_in_bulk_that_the_run_uses(loadtest, server, rpc, request_row, tmp_path):
    path = tmp_path / "made.jsonl"
    done, report, summary = loadtest("devices", "--url", server.url, "--users", 3, "--run-time", "2s",
                                     "--interval", "0.1", "--fleet", path, "--make-fleet", 30)
    assert done.returncode == 0, done.stderr
    devices = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(devices) == 30 and len({device["cik"] for device in devices}) == 30
    write = request_row(summary, "onep", "write")
    assert write["requests"] > 0 and write["failures"] == 0
    # one local worker deals the first devices to its 3 users; the rest wait unused
    assert [bool(stored_points(rpc, device)) for device in devices[:4]] == [True, True, True, False]


BUSY_WORKER = '''
import sys, time
from pyonep_fast.loadtest.scenarios import DevicesUser  # Locust first
import gevent.monkey
from pyonep_fast.loadtest.runner import Run

blocking_sleep = gevent.monkey.get_original("time", "sleep")


class BusyAtStart(DevicesUser):
    """Holds its worker's whole process for 5 s once, as spawning thousands
    of users on a loaded machine does: no heartbeat goes out meanwhile."""

    def prepare(self):
        blocking_sleep(5)


url, fleet, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.exit(Run(BusyAtStart, "busy", url=url, users=2, run_time=9.0, processes=2 if not argv else 0,
             worker="--worker" in argv, master_port=int(argv[-1]) if argv else 5557, report_dir="report",
             settings={"interval": 0.1, "fleet": fleet},
             worker_argv=[sys.executable, __file__, url, fleet]).execute())
'''


def test_workers_busy_for_seconds_are_not_dropped(run_python, server, make_fleet, tmp_path):
    """Before: the master found both workers missing after 3 s without a
    heartbeat and stopped the run; no device wrote after its busy start."""
    path, _ = make_fleet(2)
    (tmp_path / "busy.py").write_text(BUSY_WORKER)
    done = run_python(["busy.py", server.url, str(path)], tmp_path, deadline=90)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    # 2 devices at 10 writes/s for the ~3 s left after their 5 s (and spawn, and phase)
    assert summary["totals"]["requests"] >= 20, done.stderr
