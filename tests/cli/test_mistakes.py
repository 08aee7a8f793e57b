"""Issue 12: the real `pyonep-fast` entry point, in subprocesses, against the
real server: every ordinary mistake ends in one line on stderr and the right
exit status, and the CLI sets up what it then uses.

The runs of a test start together (each is a fresh interpreter; the machine
has two cores), and each test groups many of them."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from scripted_http import closed_port

from pyonep_fast import __version__
from pyonep_fast.onep import OnepV1

CLI = [sys.executable, "-c", "import sys; from pyonep_fast.cli import main; sys.exit(main())"]
ENV = {**os.environ, "PYONEP_FAST_URL": ""}


def start(*argv, env=None, **options):
    return subprocess.Popen([*CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**ENV, **(env or {})}, **options)


def outcomes(*runs):
    """[(exit status, stdout, stderr)] of runs started together; each run is
    argv, or (argv, env)."""
    started = [start(*run[0], env=run[1]) if isinstance(run, tuple) else start(*run) for run in runs]
    finished = [p.communicate(timeout=120) for p in started]
    return [(p.returncode, out, err) for p, (out, err) in zip(started, finished)]


@pytest.fixture
def setup(server, fresh_client):
    url, cik = server.url, fresh_client["cik"]
    return url, cik


def test_mistakes_end_in_one_line_and_the_right_status(setup, tmp_path):
    url, cik = setup
    present = tmp_path / "t.csv"
    present.write_text("1421906172,1\n")
    millis = tmp_path / "ms.csv"
    millis.write_text("1421906172000,1\n1421906173000,2\n")
    runs = [
        ["read", "--url", "ftp://x", cik, "temp"],
        ["read", "--url", "http://127.0.0.1:70000", cik, "temp"],
        ["read", "--url", "http://127.0.0.1:8080/onep", cik, "temp"],
        ["read", "--url", f"http://127.0.0.1:{closed_port()}", cik, "temp"],
        ["read", "--url", url, cik, "nope"],
        ["read", "--url", url, "abc", "temp"],
        ["info", "--url", url, "0" * 40],
        ["read", "--url", url, cik, "temp", "--start", "yesterday"],
        ["ingest", "--url", url, cik, "-", "temp", "--checkpoint", str(tmp_path / "c")],
        ["ingest", "--url", url, cik, str(present), "temp", "--delimiter", ";;"],
        ["ingest", "--url", url, cik, str(tmp_path / "absent.csv"), "temp"],
        ["ingest", "--url", url, cik, str(present), "temp"],
        ["ingest", "--url", url, cik, str(millis), "ms", "--create", "--quiet"],
        ["ingest", "--url", url, cik, str(present), "temp", "--chunk-size", "0"],
        ["demo", "--points", "0"],
        ["demo", "--points", "10_000_000_000"],
        ["unmap", "--url", url, cik, "nope"],
        ["listing", "--url", url, cik, "--types", "dataport,robot"],
        (["read", "--url", url, cik, "temp"], {"PYONEP_FAST_IMPL": "fortran"}),
        ["serve", "--port", url.rsplit(":", 1)[1], "--db", ":memory:"],
        ["serve", "--port", "99999"],
        ["serve", "--port", "0", "--db", str(tmp_path / "no" / "such" / "server.db")],
        ["serve", "--port", "0", "--db", ":memory:", "--host", "192.0.2.1"],   # TEST-NET: never this machine's
        ["serve", "--root-cik", "abc"],
        ["--version"],
    ]
    results = outcomes(*runs)
    expected = [
        (2, "server URL 'ftp://x': the scheme must be http or https, not 'ftp'"),
        (2, "server URL 'http://127.0.0.1:70000': the port must be a number from 1 to 65535"),
        (2, "server URL 'http://127.0.0.1:8080/onep': give only scheme://host:port, with no path, query or user"),
        (1, "cannot reach the server: connection refused (is `pyonep-fast serve` running there?)"),
        (1, "read: alias 'nope' not found under this client"),
        (2, "argument CIK: 'abc' is not a CIK (40 hexadecimal characters)"),
        (1, "401: the CIK is not valid or not activated"),
        (2, "timestamp 'yesterday' is neither epoch seconds, now, -30s/-2h/-1d/-1w nor ISO 8601"),
        (1, "an input read from a stream (stdin) is checkpointed only with a name for it (--input-name NAME, "
            "input_name=...): nothing else tells another stream from it"),
        (1, "CSV delimiter must be one character other than a quote or a line break, not ';;'"),
        (1, f"{tmp_path / 'absent.csv'}: no such file"),
        (1, "dataport 'temp' cannot be read: invalid: alias 'temp' not found under this client (create it first, "
            "or give --create)"),
        (1, "line 1: timestamp 1421906172000 is after the year 3000: milliseconds or microseconds? give "
            "--time-unit ms (or us) (and every other row of lines 1-2: nothing of them was sent)"),
        (2, "argument --chunk-size: '0': give a number from 1 to 10,000,000"),
        (2, "argument --points: '0': give a number from 6 to 100,000,000"),
        (2, "argument --points: '10_000_000_000': give a number from 6 to 100,000,000"),
        (1, "unmap: alias 'nope' not found under this client"),
        (2, "unknown type 'robot': give some of client,dataport,datarule,dispatch"),
        (2, "cannot start: PYONEP_FAST_IMPL must be 'c' or 'python', not 'fortran'"),
        (1, f"cannot listen on 127.0.0.1:{url.rsplit(':', 1)[1]}: the address is already in use (another server "
            "there? --port 0 picks a free port)"),
        (2, "argument --port: '99999': give a number from 0 to 65,535"),
        (1, f"cannot open the database {tmp_path / 'no' / 'such' / 'server.db'}: no directory "
            f"{tmp_path / 'no' / 'such'}"),
        (1, "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
        (2, "argument --root-cik: 'abc' is not a CIK (40 hexadecimal characters)"),
        (0, None),
    ]
    for run, (status, out, err), (want_status, want_line) in zip(runs, results, expected):
        command = run[0] if isinstance(run, tuple) else run
        assert status == want_status, (command, out, err)
        if want_line is not None:
            assert len(err.splitlines()) == 1 and want_line in err, (command, err)
            assert "Traceback" not in err
    assert results[-1][1] == f"pyonep-fast {__version__}\n"


def test_compat_runner_mistakes(tmp_path):
    runs = [[sys.executable, "-m", "pyonep_fast.compat", str(tmp_path / "absent.py")],
            [sys.executable, "-m", "pyonep_fast.compat", "--url", "ftp://x", "script.py"]]
    results = [subprocess.run(run, capture_output=True, text=True, timeout=60, env=ENV) for run in runs]
    assert [(r.returncode, r.stderr) for r in results] == [
        (2, f"pyonep_fast.compat: no such script: {tmp_path / 'absent.py'}\n"),
        (2, "pyonep_fast.compat: server URL 'ftp://x': the scheme must be http or https, not 'ftp'\n")]


def test_debug_shows_the_traceback_and_then_the_line(setup):
    url, cik = setup
    ((status, _, err),) = outcomes(["read", "--url", url, cik, "nope", "--debug"])
    assert status == 1 and err.startswith("Traceback") and err.endswith(
        "pyonep-fast read: read: alias 'nope' not found under this client\n")


def test_the_cli_sets_up_what_it_uses(setup, tmp_path):
    url, cik = setup
    history = tmp_path / "history.csv"
    history.write_text("time,count,level\n1421906172,1,0.5\n1421906232,2,0.75\n")
    ((status, out, err),) = outcomes(["ingest", "--url", url, cik, str(history), "--header", "--create", "--quiet"])
    assert status == 0 and "created dataports: count, level" in out and "4 points stored" in out, err
    ((status, out, err),) = outcomes(["create", "--url", url, cik, "dataport", "--alias", "temp", "--format", "float"])
    assert status == 0, err
    rid = out.strip()
    ((status, out, err),) = outcomes(["create", "--url", url, cik, "client", "--alias", "gw", "--name", "Gateway"])
    assert status == 0, err
    child_rid, child_cik = out.split()
    results = outcomes(
        ["write", "--url", url, cik, "temp", "21.5"],
        ["lookup", "--url", url, cik, "temp"],
        ["listing", "--url", url, cik, "--types", "dataport,client"],
        ["map", "--url", url, cik, rid, "temperature"],
        ["share", "--url", url, cik, "temp"],
        ["info", "--url", url, child_cik, "--json"],
        ["map", "--url", url, cik, rid, "gw"],
    )
    assert [r[0] for r in results] == [0, 0, 0, 0, 0, 0, 1], results
    assert results[1][1] == f"{rid}\n"
    assert results[2][1].splitlines()[-2:] == [f"dataport {rid}", f"client {child_rid}"]   # after count, level
    assert json.loads(results[5][1])["description"]["name"] == "Gateway"
    assert results[6][2] == "pyonep-fast map: map alias 'gw': that alias is already in use under this client\n"
    code = results[4][1].strip()
    results = outcomes(
        ["read", "--url", url, cik, "temperature", "--json"],
        ["activate", "--url", url, child_cik, code],
    )
    assert [r[0] for r in results] == [0, 0], results
    assert json.loads(results[0][1])[0][1] == 21.5
    ((status, _, err),) = outcomes(["unmap", "--url", url, cik, "temperature"])
    assert status == 0, err
    # one after the other: the lookup authenticates as the client the drop removes
    results = [*outcomes(["lookup", "--url", url, child_cik, "--share", code]),
               *outcomes(["drop", "--url", url, cik, "gw"])]
    assert results[0][:2] == (0, f"{rid}\n") and results[1][0] == 0, results
    ((status, _, err),) = outcomes(["info", "--url", url, child_cik])
    assert status == 1 and err == "pyonep-fast info: 401: the CIK is not valid or not activated\n"


def test_read_streams_pages_survives_any_stored_time_and_a_closed_pipe(setup):
    url, cik = setup
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    with OnepV1(host=host, port=port, https=False) as onep:
        isok, rid = onep.create(cik, "dataport", {"format": "integer", "retention": {"count": "infinity",
                                                                                     "duration": "infinity"}})
        assert isok and onep.map(cik, rid, "n")[0]
        entries = [[1_000_000 + i, i] for i in range(25_000)] + [[10 ** 15, -1]]   # after the year 9999
        assert onep.recordbatch(cik, {"alias": "n"}, entries) == (True, "ok")
    reader = start("read", "--url", url, cik, "n", "--limit", "all", "--sort", "asc", "--end", str(10 ** 16))
    head = subprocess.Popen(["head", "-n", "2"], stdin=reader.stdout, stdout=subprocess.PIPE, text=True)
    reader.stdout.close()   # head holds the pipe's only reading end: it closes it after two lines
    first_two, _ = head.communicate(timeout=60)
    assert reader.wait(60) == 141 and reader.stderr.read() == ""
    assert first_two == "1970-01-12T13:46:40+00:00,0\n1970-01-12T13:46:41+00:00,1\n"
    results = outcomes(["read", "--url", url, cik, "n", "--limit", "all", "--timeformat", "unix", "--end", "9e15"],
                       ["read", "--url", url, cik, "n", "--end", str(10 ** 16)],
                       ["read", "--url", url, cik, "n", "--limit", "all", "--json", "--end", str(10 ** 16)])
    assert results[0][0] == 0 and results[0][1].splitlines()[:2] == [f"{10 ** 15},-1", "1024999,24999"]
    assert results[1] == (0, f"{10 ** 15},-1\n", "")   # after the year 9999: the number, not a crash
    points = json.loads(results[2][1])
    assert len(points) == 25_001 and points[0] == [10 ** 15, -1] and points[-1] == [1_000_000, 0]


# Ctrl-C delivered where Python drops a KeyboardInterrupt ("Exception ignored
# in ..."): in a gc callback on the main thread, once the first chunk is
# checkpointed. A collection at almost every allocation makes that happen
# during the pump, deterministically.
INTERRUPTED_IN_A_FINALISER = """
import gc, os, signal, sys, threading
from pyonep_fast.cli import main

checkpoint, fired = os.environ["TEST_CHECKPOINT"], []

def interrupt(phase, info):
    if not fired and threading.current_thread() is threading.main_thread() and os.path.exists(checkpoint):
        fired.append(phase)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)   # handled before this returns

gc.callbacks.append(interrupt)
gc.set_threshold(1)
sys.exit(main())
"""


def test_ctrl_c_that_lands_in_a_finaliser_still_ends_the_ingest_resumably(setup, tmp_path):
    url, cik = setup
    checkpoint, source = tmp_path / "run.ckpt", tmp_path / "rows.csv"
    source.write_text("".join(f"{1_400_000_000 + i},{i}\n" for i in range(40_000)))
    argv = ["ingest", "--url", url, cik, str(source), "n", "--create", "--checkpoint", str(checkpoint),
            "--chunk-size", "200", "--connections", "1", "--quiet"]
    interrupted = subprocess.run([sys.executable, "-c", INTERRUPTED_IN_A_FINALISER, *argv], capture_output=True,
                                 text=True, timeout=300, env={**ENV, "TEST_CHECKPOINT": str(checkpoint)})
    assert interrupted.returncode == 130, interrupted.stdout + interrupted.stderr
    assert interrupted.stderr.endswith(f"pyonep-fast ingest: interrupted; the checkpoint {checkpoint} is saved: "
                                       "the same command resumes\n"), interrupted.stderr
    assert interrupted.stdout == ""
    saved = json.loads(checkpoint.read_text())
    assert not saved["complete"] and saved["next_seq"] > 0
    resumed = subprocess.run([*CLI, *argv, "--verify"], capture_output=True, text=True, timeout=120, env=ENV)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "40,000 points stored (resumed)" in resumed.stdout and "verify n: ok: 40,000 points" in resumed.stdout


def test_ctrl_c_during_an_ingest_saves_the_checkpoint_and_the_same_command_resumes(setup, tmp_path):
    url, cik = setup
    checkpoint = tmp_path / "run.ckpt"
    rows = "".join(f"{1_400_000_000 + i},{i}\n" for i in range(20_000))
    half = rows.index("\n", len(rows) // 2) + 1
    argv = ["ingest", "--url", url, cik, "-", "n", "--create", "--checkpoint", str(checkpoint), "--input-name",
            "rows", "--chunk-size", "500", "--quiet"]
    process = start(*argv, stdin=subprocess.PIPE)
    process.stdin.write(rows[:half])
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while not (checkpoint.exists() and json.loads(checkpoint.read_text() or "{}").get("next_seq", 0) >= 1):
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err == (f"pyonep-fast ingest: interrupted; the checkpoint {checkpoint} is saved: the same command "
                   "resumes\n")
    resumed = subprocess.run([*CLI, *argv, "--verify"], input=rows, capture_output=True, text=True, timeout=120,
                             env=ENV)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "20,000 points stored (resumed)" in resumed.stdout and "verify n: ok: 20,000 points" in resumed.stdout
