"""Bulk ingest into M2X streams (issue 13 item 5): the same pipeline,
checkpoint, resume and verify as for dataports, against the real embedded
server; the CLI runs as the real entry point in subprocesses."""
import datetime
import json
import signal
import subprocess
import sys
import time

import numpy as np
import orjson
import pytest

from pyonep_fast.exceptions import IngestError
from pyonep_fast.ingest import ingest, ingest_m2x
from pyonep_fast.ingest.sinks import key_identity
from pyonep_fast.m2x.client import M2XClient

CLI = [sys.executable, "-c", "import sys; from pyonep_fast.cli import main; sys.exit(main())"]
START = 1_500_000_000


@pytest.fixture
def account(server, http):
    """(key, client, device) of a fresh M2X account."""
    response = http.request("POST", server.url + "/_fixtures/m2x/accounts")
    key = orjson.loads(response.data)["key"]
    client = M2XClient(key, endpoint=server.url)
    device = client.create_device(name="logger", visibility="private")
    yield key, client, device
    client.api.close()


def stored(device, stream):
    """Every value of a stream, oldest first, as (epoch seconds, value)."""
    out, end = [], None
    while True:
        page = device.stream(stream).values(limit=10_000, **({"end": end} if end else {}))["values"]
        out += [(int(datetime.datetime.fromisoformat(v["timestamp"].replace("Z", "+00:00")).timestamp()), v["value"])
                for v in page]
        if len(page) < 10_000:
            return out[::-1]
        oldest = datetime.datetime.fromisoformat(page[-1]["timestamp"].replace("Z", "+00:00"))
        end = (oldest - datetime.timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def csv_rows(n, step=10):
    return "time,temp,label\n" + "".join(f"{START + step * i},{i * 0.25},v{i % 7}\n" for i in range(n))


def run_cli(*argv, **options):
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=120, **options)


def test_csv_columns_go_to_streams_created_verified_and_checkpointed_without_the_key(server, account, tmp_path):
    key, client, device = account
    source = tmp_path / "in.csv"
    source.write_text(csv_rows(12_000))
    checkpoint = tmp_path / "run.ckpt"
    argv = ["ingest", "--api", "m2x", "--key", key, "--device", device.id, "--url", server.url, str(source),
            "--header", "--create", "--verify", "--chunk-size", "1500", "--checkpoint", str(checkpoint), "--quiet"]
    result = run_cli(*argv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "24,000 points stored" in result.stdout and "created streams: temp, label" in result.stdout
    assert "verify temp: ok: 12,000 points" in result.stdout and "verify label: ok: 12,000 points" in result.stdout
    assert stored(device, "temp") == [(START + 10 * i, i * 0.25) for i in range(12_000)]
    assert stored(device, "label") == [(START + 10 * i, f"v{i % 7}") for i in range(12_000)]
    assert device.stream("temp").type == "numeric" and device.stream("label").type == "alphanumeric"

    text = checkpoint.read_text()
    assert key not in text
    target = json.loads(text)["fingerprint"]["target"]
    assert target == {"api": "m2x", "url": server.url, "key": key_identity(key), "device": device.id,
                      "streams": ["temp", "label"]}
    again = run_cli(*argv)   # complete: nothing sent again, verify still passes
    assert again.returncode == 0 and "this run: 0 points" in again.stdout and "(resumed)" in again.stdout


def test_a_checkpoint_is_refused_for_another_key_device_api_or_input(server, account, fresh_client, tmp_path,
                                                                      http):
    key, client, device = account
    other_device = client.create_device(name="other", visibility="private")
    other_key = client.create_key(name="second", permissions=["GET", "PUT", "POST", "DELETE"]).key
    source = tmp_path / "in.csv"
    source.write_text(csv_rows(500))
    checkpoint = tmp_path / "shared.ckpt"
    report = ingest_m2x(key, device.id, str(source), header=True, time_column="time", create=True,
                        url=server.url, checkpoint=checkpoint, progress=False)
    assert report.ok and report.points == 1000

    def refused(**overrides):
        options = dict(key=key, device=device.id, data=str(source))
        options.update(overrides)
        with pytest.raises(IngestError) as caught:
            ingest_m2x(options["key"], options["device"], options["data"], header=True, time_column="time",
                       create=True, url=server.url, checkpoint=checkpoint, progress=False)
        return str(caught.value)

    assert "not the same API key" in refused(key=other_key)
    assert "not the same device" in refused(device=other_device.id)
    changed = tmp_path / "changed.csv"
    changed.write_text(csv_rows(501))
    assert "another input" in refused(data=str(changed))
    with pytest.raises(IngestError, match="not the same API"):
        ingest(fresh_client["cik"], str(source), header=True, time_column="time", create=True, url=server.url,
               checkpoint=checkpoint, progress=False)
    # restart starts over on the other device, and its checkpoint is then that device's
    report = ingest_m2x(key, other_device.id, str(source), header=True, time_column="time", create=True,
                        url=server.url, checkpoint=checkpoint, progress=False, restart=True, verify=True)
    assert report.ok and not report.resumed and len(stored(other_device, "temp")) == 500
    assert json.loads(checkpoint.read_text())["fingerprint"]["target"]["device"] == other_device.id


def test_missing_streams_device_or_key_are_one_line_errors(server, account, tmp_path):
    key, client, device = account
    source = tmp_path / "in.csv"
    source.write_text(csv_rows(10))
    base = ["ingest", "--api", "m2x", "--url", server.url, str(source), "--header", "--quiet"]
    runs = {
        "no stream": run_cli(*base, "--key", key, "--device", device.id),
        "no device": run_cli(*base, "--key", key, "--device", "f" * 32),
        # the server takes an unknown key as a new account's, which sees no such device
        "other key": run_cli(*base, "--key", "another-account", "--device", device.id),
        "no key": run_cli(*base, "--device", device.id),
        "key for onep": run_cli("ingest", "--url", server.url, "0" * 40, str(source), "--key", key),
    }
    assert runs["no stream"].stderr == (f"pyonep-fast ingest: stream 'temp' of device {device.id!r} does not exist "
                                        "(create it first, or give --create)\n")
    assert runs["no device"].stderr == (f"pyonep-fast ingest: device {'f' * 32!r} not found (or not visible to "
                                        "this key)\n")
    assert runs["other key"].stderr == (f"pyonep-fast ingest: device {device.id!r} not found (or not visible to "
                                        "this key)\n")
    assert runs["no key"].stderr == "pyonep-fast ingest: --api m2x needs --key\n"
    assert runs["key for onep"].stderr == "pyonep-fast ingest: --key and --device are for --api m2x\n"
    assert [r.returncode for r in runs.values()] == [1, 1, 1, 2, 2]
    assert all(len(r.stderr.splitlines()) == 1 and not r.stdout for r in runs.values())
    assert device.streams() == []   # nothing created without --create


def wait_for_progress(path, process, deadline):
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if json.loads(path.read_text())["next_seq"] >= 1:
                return True
        except (FileNotFoundError, ValueError, KeyError):
            pass
        time.sleep(0.005)
    return False


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])
def test_an_ingest_stopped_by_kill_9_or_ctrl_c_resumes_exactly(server, account, tmp_path, stop):
    """The input comes through a pipe and its second half is written only
    after the stop: the ingest cannot have finished, whatever the load."""
    key, client, device = account
    rows = 30_000
    text = csv_rows(rows, step=3)
    half = text.index("\n", len(text) // 2) + 1
    checkpoint = tmp_path / "run.ckpt"
    argv = ["ingest", "--api", "m2x", "--key", key, "--device", device.id, "--url", server.url, "-", "--header",
            "--create", "--checkpoint", str(checkpoint), "--input-name", "rows", "--chunk-size", "1000",
            "--connections", "2", "--quiet", "--json"]
    process = subprocess.Popen([*CLI, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdin.write(text[:half])
    process.stdin.flush()
    assert wait_for_progress(checkpoint, process, time.monotonic() + 60)
    process.send_signal(stop)
    out, err = process.communicate(timeout=60)
    if stop == signal.SIGINT:
        assert process.returncode == 130 and err.endswith("the same command resumes\n"), err
    else:
        assert process.returncode == -signal.SIGKILL
    before = json.loads(checkpoint.read_text())["points"]
    assert 0 < before < 2 * rows

    resumed = run_cli(*argv, "--verify", input=text)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["resumed"] and report["complete"] and report["points"] == 2 * rows
    assert report["sent_points"] <= 2 * rows - before   # nothing acknowledged before the stop is sent again
    assert [v["stored_count"] for v in report["verify"]] == [rows, rows]
    assert stored(device, "temp") == [(START + 3 * i, i * 0.25) for i in range(rows)]
    assert stored(device, "label") == [(START + 3 * i, f"v{i % 7}") for i in range(rows)]


def test_verify_checks_exactly_the_values_sent(server, account, tmp_path):
    """A value changed after the ingest is a mismatch named by its range; a
    value someone else stored between the ones sent does not count."""
    key, client, device = account
    stamps = np.datetime64(START, "s") + np.arange(2000, dtype=np.int64) * np.timedelta64(60, "s")
    data = {"level": (stamps.astype(np.int64), np.arange(2000, dtype=np.float64) * 1.5)}
    report = ingest_m2x(key, device.id, data, client=client, create=True, verify=True, chunk_size=500,
                        progress=False, checkpoint=tmp_path / "level.ckpt")
    assert report.ok and [v.stored_count for v in report.verify] == [2000]
    stream = device.stream("level")
    stream.add_value(-7.0, "2017-07-14T02:40:30.000Z")       # between two values sent (START + 30 s)
    stream.add_value(-1.0, "2017-07-14T02:40:00.250Z")       # not at a whole second
    again = ingest_m2x(key, device.id, data, client=client, verify=True, chunk_size=500, progress=False,
                       checkpoint=tmp_path / "level.ckpt")
    assert again.ok, again.summary()
    stream.add_value(99.0, datetime.datetime.fromtimestamp(START + 60 * 1200, datetime.timezone.utc)
                     .strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    changed = ingest_m2x(key, device.id, data, client=client, verify=True, chunk_size=500, progress=False,
                         checkpoint=tmp_path / "level.ckpt")
    assert not changed.ok
    (result,) = changed.verify
    assert result.expected_count == result.stored_count == 2000 and not result.checksum_ok
    assert result.differing == [[START + 60 * 1000, START + 60 * 1499, 500, 0, True]]
    assert "values differ" in result.describe()


def test_arrays_and_a_dataframe_into_streams_of_both_types(server, account):
    pandas = pytest.importorskip("pandas")
    key, client, device = account
    index = pandas.date_range("2020-01-01", periods=3000, freq="s", tz="UTC")
    frame = pandas.DataFrame({"power": np.linspace(0, 1, 3000), "state": [f"s{i % 3}" for i in range(3000)]},
                             index=index)
    report = ingest_m2x(key, device.id, frame, client=client, create=True, verify=True, chunk_size=1000,
                        progress=False)
    assert report.ok, report.summary()
    first = int(index[0].timestamp())
    assert stored(device, "power") == [(first + i, float(v)) for i, v in enumerate(np.linspace(0, 1, 3000))]
    assert stored(device, "state")[:4] == [(first, "s0"), (first + 1, "s1"), (first + 2, "s2"), (first + 3, "s0")]
    with pytest.raises(ValueError, match="kinds must be among"):
        ingest_m2x(key, device.id, frame, client=client, kinds={"power": "int"})


def test_chunks_that_fail_while_the_server_restarts_are_retried(tmp_path):
    """Transport failures are retried (M2XSink raises Retry for them): the
    server killed mid-ingest and started again on the same address and
    database, the ingest completes with every value stored once."""
    import threading

    import urllib3

    from pyonep_fast.server import spawn

    db, checkpoint = tmp_path / "server.db", tmp_path / "retry.ckpt"
    rows = 20_000
    text = "".join(f"{START + 60 * i},{i}\n" for i in range(rows))
    half = text.index("\n", len(text) // 2) + 1
    server = spawn(db=str(db))
    port = int(server.url.rsplit(":", 1)[1])
    try:
        with urllib3.PoolManager() as http:
            key = orjson.loads(http.request("POST", server.url + "/_fixtures/m2x/accounts").data)["key"]
        client = M2XClient(key, endpoint=server.url)
        device = client.create_device(name="d", visibility="private")
        device.create_stream("n")
        process = subprocess.Popen([*CLI, "ingest", "--api", "m2x", "--key", key, "--device", device.id, "-", "n",
                                    "--url", server.url, "--checkpoint", str(checkpoint), "--input-name", "n",
                                    "--chunk-size", "1000", "--retries", "8", "--quiet", "--json"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        process.stdin.write(text[:half])
        process.stdin.flush()
        assert wait_for_progress(checkpoint, process, time.monotonic() + 30)
        server.kill()
        server.wait(10)
        outcome = {}
        feeding = threading.Thread(target=lambda: outcome.update(
            zip(("out", "err"), process.communicate(text[half:], timeout=60))))
        feeding.start()   # the next chunks meet the dead server: they are retried until it is back
        server = spawn(db=str(db), port=port)
        feeding.join(60)
        report = json.loads(outcome["out"])
        assert process.returncode == 0, outcome["err"]
        assert report["complete"] and report["retries"] > 0 and not report["failed_chunks"]
        client = M2XClient(key, endpoint=server.url)
        assert stored(client.device(device.id), "n") == [(START + 60 * i, float(i)) for i in range(rows)]
        client.api.close()
    finally:
        server.kill()
        server.wait(10)
