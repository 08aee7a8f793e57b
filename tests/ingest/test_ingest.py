"""Bulk ingest against the embedded server over loopback HTTP."""
import json
import subprocess
import sys
import threading
import time
from array import array

import numpy as np
import pytest
import urllib3

from pyonep_fast.cli.demo import create_dataports, fountain_client, read_all
from pyonep_fast.exceptions import IngestError
from pyonep_fast.ingest import ingest
from pyonep_fast.onep import OnepV1
from pyonep_fast.server import spawn

CLI = [sys.executable, "-c", "import sys; from pyonep_fast.cli import main; sys.exit(main())"]


def client_of(url):
    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    return OnepV1(host=host, port=port, https=False)


@pytest.fixture
def onep(server):
    with client_of(server.url) as client:
        yield client


def stored(client, cik, alias):
    return [tuple(p) for p in read_all(client, cik, alias)]


def test_csv_rows_duplicates_and_bad_lines_over_several_connections(server, onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("temp", "float"), ("count", "integer"), ("state", "string")])
    rows = ["time,temp,count,state"]
    expected = {"temp": {}, "count": {}, "state": {}}
    for i in range(3000):
        t = 1_500_000_000 + (i // 2 if i < 100 else i)  # rows 0-99: pairs share a second
        rows.append(f"{t},{i / 4},{i},s{i % 7}")
        expected["temp"][t], expected["count"][t], expected["state"][t] = i / 4, i, f"s{i % 7}"
    rows[1500] = "1500001499,not-a-number,1499,ok"        # line 1501: bad float, the rest stored
    expected["temp"].pop(1500001499)
    expected["count"][1500001499], expected["state"][1500001499] = 1499, "ok"
    rows[2000] = "1500001999;0;0;0"                       # line 2001: wrong delimiter
    for column in expected.values():
        column.pop(1500001999)
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(rows) + "\n")

    report = ingest(cik, str(path), header=True, client=onep, chunk_size=900, connections=3, verify=True,
                    progress=False)

    assert report.complete and not report.failed_chunks and not report.ok
    assert report.error_count == 2 and [e.split(":")[0] for e in report.errors] == ["line 1501, temp", "line 2001"]
    assert report.duplicates == 3 * 50
    for alias, points in expected.items():
        assert stored(onep, cik, alias) == sorted(points.items())
    assert [v.target for v in report.verify] == ["temp", "count", "state"] and all(v.ok for v in report.verify)
    assert report.points == sum(map(len, expected.values()))


def test_unordered_input_later_point_wins_across_chunks(onep, fresh_client):
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("x", "integer")])
    pairs = [(t, t) for t in range(100, 200)] + [(150, -1), (100, -2)]   # back into what was sent
    pairs += [(t, 3 * t) for t in range(300, 250, -1)]                   # a descending run
    report = ingest(cik, {"x": iter(pairs)}, client=onep, chunk_size=7, connections=4, verify=True,
                    progress=False)
    last = dict(pairs)
    assert stored(onep, cik, "x") == sorted(last.items())
    assert report.complete and report.unordered == ["x"]
    assert report.verify[0].stored_count == len(last)


def test_numpy_arrays_and_dataframe(onep, fresh_client):
    pd = pytest.importorskip("pandas")
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("a", "float"), ("b", "integer")])
    ts = np.arange(1_000_000, 1_020_000, 2, dtype=np.int64)
    report = ingest(cik, {"a": (ts, np.sin(ts / 1000.0)), "b": (ts, ts // 3)}, client=onep, chunk_size=3000,
                    verify=True, progress=False)
    assert report.ok and report.points == 2 * len(ts)
    assert stored(onep, cik, "a") == list(zip(ts.tolist(), np.sin(ts / 1000.0).tolist()))
    frame = pd.DataFrame({"a": [0.5, None], "b": [7, 8]},
                         index=pd.to_datetime([1_000_000, 3_000_000], unit="s", utc=True))
    report = ingest(cik, frame, client=onep, progress=False)
    assert report.ok and report.points == 3
    b = stored(onep, cik, "b")
    assert b[0] == (1_000_000, 7) and b[-1] == (3_000_000, 8) and len(b) == len(ts) + 1


def test_verify_catches_a_point_changed_or_lost_after_ingest(onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("v", "float")])
    data = {"v": (array("q", range(10, 5010)), array("d", (i * 0.5 for i in range(5000))))}
    checkpoint = tmp_path / "v.ckpt"
    first = ingest(cik, data, client=onep, checkpoint=checkpoint, verify=True, progress=False)
    assert first.ok and first.verify[0].ok

    assert onep.recordbatch(cik, {"alias": "v"}, [[20, 99.0]]) == (True, "ok")
    again = ingest(cik, data, client=onep, checkpoint=checkpoint, verify=True, progress=False)
    assert again.resumed and again.sent_points == 0 and not again.ok
    assert again.verify[0].stored_count == 5000 and not again.verify[0].checksum_ok

    assert onep.flush(cik, {"alias": "v"}, {"newerthan": 4000, "olderthan": 4002}) == (True, "ok")
    assert onep.recordbatch(cik, {"alias": "v"}, [[20, 5.0]]) == (True, "ok")
    lost = ingest(cik, data, client=onep, checkpoint=checkpoint, verify=True, progress=False)
    assert lost.verify[0].stored_count == 4999 and not lost.ok
    assert "MISMATCH" in lost.summary()


def test_unknown_dataport_and_foreign_checkpoint_are_refused(onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    with pytest.raises(IngestError, match="'missing'"):
        ingest(cik, {"missing": ([1], [1.0])}, client=onep, progress=False)
    create_dataports(onep, cik, [("y", "float")])
    checkpoint = tmp_path / "y.ckpt"
    assert ingest(cik, {"y": ([1, 2], [1.0, 2.0])}, client=onep, checkpoint=checkpoint, progress=False).ok
    with pytest.raises(IngestError, match="chunk size"):
        ingest(cik, {"y": ([1, 2], [1.0, 2.0])}, client=onep, checkpoint=checkpoint, chunk_size=5, progress=False)
    with pytest.raises(IngestError, match="another input"):
        ingest(cik, {"y": ([1, 2, 3], [1.0, 2.0, 3.0])}, client=onep, checkpoint=checkpoint, progress=False)


def run_cli(*args, timeout=60):
    return subprocess.run([*CLI, "ingest", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_reports_bad_lines_with_a_nonzero_exit(server, onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("temperature", "float")])
    path = tmp_path / "exoline.csv"
    path.write_text("1421906172,20.5\n1421906173,warm\n2015-01-22T05:56:14Z,21\n")
    result = run_cli(cik, str(path), "temperature", "--url", server.url, "--quiet")
    assert result.returncode == 1, result.stderr
    assert "line 2, column 2: 'warm' is not a number" in result.stdout
    assert stored(onep, cik, "temperature") == [(1421906172, 20.5), (1421906174, 21.0)]


def wait_for_checkpoint(path, process, deadline):
    """The first checkpoint the running ingest writes (it acknowledged a chunk)."""
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with open(path) as f:
                if json.load(f)["next_seq"] >= 1:
                    return True
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.005)
    return False


def test_kill_9_of_the_server_mid_ingest_then_resume_stores_exactly_the_input(tmp_path):
    """The input comes through a pipe: the ingest cannot finish before the
    kill, whatever the machine's load, since the rest is written after it."""
    db, checkpoint = tmp_path / "server.db", tmp_path / "run.ckpt"
    rows = 40_000
    ts = np.arange(1_400_000_000, 1_400_000_000 + 30 * rows, 30, dtype=np.int64)
    a = np.round(np.cos(ts / 5000.0) * 40, 3)
    b = (ts // 7) % 1000
    csv_bytes = ("time,a,b\n" + "".join(f"{t},{x!r},{y}\n" for t, x, y in
                                        zip(ts.tolist(), a.tolist(), b.tolist()))).encode()
    half = csv_bytes.index(b"\n", len(csv_bytes) // 2) + 1
    args = ["-", "--header", "--checkpoint", str(checkpoint), "--input-name", "rows", "--chunk-size", "2000",
            "--connections", "2", "--retries", "0", "--quiet", "--json"]

    server = spawn(db=str(db))
    try:
        with client_of(server.url) as client:
            with urllib3.PoolManager() as http:
                cik = fountain_client(http, server.url)
            create_dataports(client, cik, [("a", "float"), ("b", "integer")])
        process = subprocess.Popen([*CLI, "ingest", cik, *args, "--url", server.url], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdin.write(csv_bytes[:half])
        process.stdin.flush()
        assert wait_for_checkpoint(checkpoint, process, time.monotonic() + 30)
        server.kill()
        server.wait(10)
        out, err = process.communicate(csv_bytes[half:], timeout=60)
    finally:
        if server.process.poll() is None:
            server.kill()
            server.wait(10)
    assert out, err
    first = json.loads(out)
    assert process.returncode == 1 and not first["complete"] and first["failed_chunks"], err
    assert 0 < first["points"] < 2 * rows

    with spawn(db=str(db)) as restarted:
        result = subprocess.run([*CLI, "ingest", cik, *args, "--url", restarted.url, "--verify"],
                                input=csv_bytes, capture_output=True, timeout=60)
        assert result.stdout, result.stderr
        second = json.loads(result.stdout)
        assert result.returncode == 0, result.stdout + result.stderr
        assert second["resumed"] and second["complete"] and second["points"] == 2 * rows
        assert second["sent_points"] < 2 * rows    # what was acknowledged before the kill is not sent again
        assert [v["stored_count"] for v in second["verify"]] == [rows, rows]
        with client_of(restarted.url) as client:
            assert stored(client, cik, "a") == list(zip(ts.tolist(), a.tolist()))
            assert stored(client, cik, "b") == list(zip(ts.tolist(), b.tolist()))


def test_chunks_that_fail_while_the_server_restarts_are_retried(tmp_path):
    db, checkpoint = tmp_path / "server.db", tmp_path / "retry.ckpt"
    rows = 20_000
    csv_bytes = "".join(f"{1_400_000_000 + 60 * i},{i}\n" for i in range(rows)).encode()
    half = csv_bytes.index(b"\n", len(csv_bytes) // 2) + 1
    server = spawn(db=str(db))
    port = server.url.rsplit(":", 1)[1]
    try:
        with client_of(server.url) as client, urllib3.PoolManager() as http:
            cik = fountain_client(http, server.url)
            create_dataports(client, cik, [("n", "integer")])
        process = subprocess.Popen([*CLI, "ingest", cik, "-", "n", "--url", server.url, "--checkpoint", str(checkpoint),
                                    "--input-name", "n", "--chunk-size", "1000", "--retries", "8", "--quiet", "--json"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdin.write(csv_bytes[:half])
        process.stdin.flush()
        assert wait_for_checkpoint(checkpoint, process, time.monotonic() + 30)
        server.kill()
        server.wait(10)
        outcome = {}
        feeding = threading.Thread(target=lambda: outcome.update(
            zip(("out", "err"), process.communicate(csv_bytes[half:], timeout=60))))
        feeding.start()   # the next chunks meet the dead server: they are retried until it is back
        server = spawn(db=str(db), port=int(port))   # back on the same address, same database
        feeding.join(60)
        report = json.loads(outcome["out"])
        assert process.returncode == 0, outcome["err"]
        assert report["complete"] and report["retries"] > 0 and not report["failed_chunks"]
        with client_of(server.url) as client:
            assert stored(client, cik, "n") == [(1_400_000_000 + 60 * i, i) for i in range(rows)]
    finally:
        server.kill()
        server.wait(10)
