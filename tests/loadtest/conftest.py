"""Locust monkey-patches the standard library when imported, so nothing
here imports pyonep_fast.loadtest: every Locust run is a subprocess with a
deadline, and the tests read what it printed and wrote."""
import csv
import itertools
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

DEADLINE = 60  # seconds a Locust subprocess may take before the test fails


def _run_python(argv, cwd, deadline=DEADLINE, env=None):
    """`python argv...` in cwd (with `env` added to the environment); CompletedProcess with text stdout/stderr."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    env.pop("PYONEP_FAST_URL", None)
    try:
        return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True,
                              timeout=deadline, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv} did not finish within {deadline} s:\n{exc.stderr}")


@pytest.fixture
def run_python():
    """run_python(argv, cwd, deadline=60) -> CompletedProcess of `python argv...`."""
    return _run_python


@pytest.fixture
def loadtest(tmp_path):
    """loadtest(scenario, *options) -> (CompletedProcess, report dir, summary dict or None)."""
    runs = itertools.count()

    def run(scenario, *options, deadline=DEADLINE, env=None):
        report = tmp_path / f"report-{scenario}-{next(runs)}"
        done = _run_python(["-m", "pyonep_fast.cli.loadtest", scenario, "--report", str(report),
                           *map(str, options)], tmp_path, deadline, env)
        summary_file = report / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
        return done, report, summary
    return run


def _request_row(summary, request_type, name):
    """The summary's row for one request type and name."""
    rows = [row for row in summary["request_types"] if (row["type"], row["name"]) == (request_type, name)]
    assert rows, f"no {request_type} {name!r} in {[(r['type'], r['name']) for r in summary['request_types']]}"
    return rows[0]


@pytest.fixture
def request_row():
    return _request_row


def _assert_reports(report, summary, request_type, name):
    """Locust's files and ours agree on the request count; the plots are there."""
    row = _request_row(summary, request_type, name)
    with open(report / "locust_stats.csv", newline="") as file:
        [locust_row] = [r for r in csv.DictReader(file) if (r["Type"], r["Name"]) == (request_type, name)]
    assert int(locust_row["Request Count"]) == row["requests"]
    assert "<html" in (report / "locust.html").read_text().lower()
    assert (report / "locust_stats_history.csv").stat().st_size > 0
    page = (report / "summary.html").read_text()
    plots = [ElementTree.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, re.S)]
    assert len(plots) == 2  # latency percentiles, throughput over time
    for plot in plots:
        labels = [line.get("data-label") for line in plot.iter("{http://www.w3.org/2000/svg}polyline")]
        assert f"{request_type} {name}" in labels
    return row


def _assert_stored(stored, reported, per_request, users):
    """What the server stored of a run is what it reported, request for
    request, give or take one request per user: Locust stops a user that was
    between tasks by killing it, which can land once the next task has sent
    its request (Locust's own race between a user's state and the kill), and
    an abandoned request is reported by no Locust client; the server may have
    stored it."""
    assert stored % per_request == 0, (stored, per_request)
    assert reported * per_request <= stored <= (reported + users) * per_request, (stored, reported)


@pytest.fixture
def assert_stored():
    """assert_stored(points stored, requests reported, points per request, users)."""
    return _assert_stored


@pytest.fixture
def assert_reports():
    """assert_reports(report dir, summary, request type, name) -> the summary's row."""
    return _assert_reports


@pytest.fixture
def make_fleet(tmp_path, server, http):
    """make_fleet(n) -> (path, records): a fleet file of n fresh fountain
    clients with a float dataport each."""
    return lambda devices: _fleet(tmp_path, server, http, devices)


def _fleet(tmp_path, server, http, devices):
    import orjson

    records = []
    for _ in range(devices):
        cik = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]
        answer = orjson.loads(http.request(
            "POST", server.url + "/onep:v1/rpc/process",
            headers={"Content-Type": "application/json; charset=utf-8"},
            body=orjson.dumps({"auth": {"cik": cik}, "calls": [
                {"id": 1, "procedure": "create",
                 "arguments": ["dataport", {"format": "float",
                                            "retention": {"count": "infinity", "duration": "infinity"}}]}]})).data)
        records.append({"cik": cik, "dataport": answer[0]["result"]})
    path = Path(tmp_path) / "fleet.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path, records
