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


# --- issue 12: an ingest never reports success for points it did not store ---------------


def test_a_checkpoint_is_refused_for_another_target_or_input_and_restart_starts_over(
        server, onep, fresh_client, http, tmp_path):
    cik = fresh_client["cik"]
    other = fountain_client(http, server.url)
    for owner in (cik, other):
        create_dataports(onep, owner, [("t", "float")])
    checkpoint = tmp_path / "t.ckpt"
    data = {"t": ([1, 2, 3], [1.0, 2.0, 3.0])}
    assert ingest(cik, data, client=onep, checkpoint=checkpoint, progress=False).ok
    with pytest.raises(IngestError, match=r"belongs to another target \(not the same CIK's client or "
                                          r"dataports.*--restart"):
        ingest(other, data, client=onep, checkpoint=checkpoint, progress=False)
    with pytest.raises(IngestError, match="belongs to another input .*--restart"):
        ingest(cik, {"t": ([1, 2, 3], [1.0, 2.0, 4.0])}, client=onep, checkpoint=checkpoint, progress=False)
    again = ingest(other, data, client=onep, checkpoint=checkpoint, restart=True, verify=True, progress=False)
    assert again.ok and not again.resumed and again.sent_points == 3
    assert stored(onep, other, "t") == [(1, 1.0), (2, 2.0), (3, 3.0)]
    done = ingest(other, data, client=onep, checkpoint=checkpoint, progress=False)
    assert done.resumed and done.sent_points == 0 and "already stored: nothing sent" in done.summary()
    with pytest.raises(IngestError, match="stream .* only with a name"):
        ingest(cik, {"t": iter([(1, 1.0)])}, client=onep, checkpoint=tmp_path / "s.ckpt", progress=False)


def test_a_chunk_of_only_bad_rows_is_reported_at_once_not_retried(onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("f", "float")])
    path = tmp_path / "bad.csv"
    path.write_text("1421906172,warm\n1421906173,cold\n")
    started = time.monotonic()
    report = ingest(cik, str(path), ["f"], client=onep, retries=5, retry_delay=1.0, progress=False)
    assert time.monotonic() - started < 5   # a retried "transport failure" took 31 s here
    assert report.complete and not report.failed_chunks and report.retries == 0 and not report.ok
    assert [e.split(":")[0] for e in report.errors] == ["line 1, column 2", "line 2, column 2"]
    with pytest.raises(IngestError, match=r"2 target\(s\) need column 3, but the input has 2 column\(s\)"):
        ingest(cik, str(path), ["f", "g"], client=onep, progress=False)


def test_verify_compares_only_the_points_sent_and_names_what_differs(onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("v", "integer")])
    assert onep.recordbatch(cik, {"alias": "v"}, [[t, -t] for t in range(101, 2000, 2)]) == (True, "ok")
    ts = list(range(100, 2000, 2)) + list(range(5000, 5500, 7))   # between points already there, then sparser
    data = {"v": (ts, [t * 3 for t in ts])}
    checkpoint = tmp_path / "v.ckpt"
    first = ingest(cik, data, client=onep, chunk_size=300, checkpoint=checkpoint, verify=True, progress=False)
    assert first.ok and first.verify[0].stored_count == len(ts) and first.verify[0].describe() == \
        f"verify v: ok: {len(ts):,} points"

    assert onep.flush(cik, {"alias": "v"}, {"newerthan": 1499, "olderthan": 1501}) == (True, "ok")   # ours: lost
    assert onep.flush(cik, {"alias": "v"}, {"newerthan": 1500, "olderthan": 1502}) == (True, "ok")   # not ours
    assert onep.recordbatch(cik, {"alias": "v"}, [[5007, 0]]) == (True, "ok")                        # ours: changed
    again = ingest(cik, data, client=onep, chunk_size=300, checkpoint=checkpoint, verify=True, progress=False)
    result = again.verify[0]
    assert again.resumed and again.sent_points == 0 and not again.ok
    assert (result.expected_count, result.stored_count) == (len(ts), len(ts) - 1)
    assert [(lo <= 1500 <= hi, sent, missing, changed) for lo, hi, sent, missing, changed in result.differing] == \
        [(True, 300, 1, False), (False, 122, 0, True)]
    assert result.describe().startswith(f"verify v: MISMATCH: {len(ts):,} points sent, {len(ts) - 1:,} of them "
                                        f"stored; t=1300..1898: 1 of 300 missing; t=1900..5497: values differ")


def test_millisecond_timestamps_are_refused_with_a_hint_and_read_with_time_unit(onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("ms", "float")])
    path = tmp_path / "ms.csv"
    path.write_text("".join(f"{1421906172000 + 250 * i},{i}\n" for i in range(8)))
    with pytest.raises(IngestError, match=r"line 1: timestamp 1421906172000 is after the year 3000: milliseconds "
                                          r"or microseconds\? give --time-unit ms \(or us\) \(and every other row"):
        ingest(cik, str(path), ["ms"], client=onep, progress=False)
    assert stored(onep, cik, "ms") == []
    report = ingest(cik, str(path), ["ms"], client=onep, time_unit="ms", verify=True, progress=False)
    assert report.ok and report.duplicates == 6     # four points a second: the last of each second is kept
    assert stored(onep, cik, "ms") == [(1421906172, 3.0), (1421906173, 7.0)]
    arrays = ingest(cik, {"ms": (np.array([1421906180000, 1421906181999]), np.array([1.0, 2.0]))}, client=onep,
                    time_unit="ms", progress=False)
    assert arrays.ok and stored(onep, cik, "ms")[-2:] == [(1421906180, 1.0), (1421906181, 2.0)]


def test_unused_columns_and_extra_fields_are_reported(onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    create_dataports(onep, cik, [("a", "float")])
    path = tmp_path / "wide.csv"
    path.write_text("time,a,b,c\n" + "".join(f"{1000 + i},{i},{i},{i}\n" for i in range(50))
                    + "1050,50,50,50,surprise\n")
    report = ingest(cik, str(path), {"a": "a"}, header=True, client=onep, verify=True, progress=False)
    assert report.ok and report.points == 51
    assert report.unused_columns == ["b", "c"] and report.extra_fields == 1
    assert "columns not ingested (no dataport given for them): b, c" in report.summary()
    assert "1 rows have more fields than the input's columns" in report.summary()


def test_create_makes_the_missing_dataports_with_the_values_format(onep, fresh_client, tmp_path):
    cik = fresh_client["cik"]
    path = tmp_path / "new.csv"
    path.write_text("time,count,temp,state\n1000,1,20.5,on\n1001,2,21,off\n")
    report = ingest(cik, str(path), header=True, client=onep, create=True, verify=True, progress=False)
    assert report.ok and report.created == ["count", "temp", "state"]
    formats = {alias: onep.info(cik, {"alias": alias}, {"description": True})[1]["description"]["format"]
               for alias in report.created}
    assert formats == {"count": "integer", "temp": "float", "state": "string"}
    assert stored(onep, cik, "temp") == [(1000, 20.5), (1001, 21.0)]
    again = ingest(cik, str(path), header=True, client=onep, create=True, progress=False)
    assert again.ok and again.created == []
