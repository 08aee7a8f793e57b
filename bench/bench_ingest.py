"""Bulk ingest from CSV: throughput, client memory and client CPU per point.

    python bench/bench_ingest.py                        # 10,000,000 points
    python bench/bench_ingest.py --points 2000000 --baseline-points 500000

1. Writes a CSV of sensor history (a time column and 4 float columns) once,
   into --workdir (kept between runs).
2. Ingests all of it into a spawned embedded server on a durable database
   (`pyonep_fast.ingest`, in a child process): points/s end to end, the
   child's peak RSS (VmHWM) and its RSS sampled while it runs.
3. Client CPU per point on a `--null` server (acknowledges without
   storing): ours on the whole CSV, against, on its first
   --baseline-points points (CPU per point is a rate), a client
   that behaves like pyonep 0.13.8 (bench/baseline_pyonep.py: csv module,
   a Python list per entry, json.dumps, a new requests.Session per call),
   each in a child process that reports its own CPU time (all threads) and
   peak RSS (VmHWM). Both children keep freed memory for reuse as
   `pyonep-fast ingest` does (pyonep_fast.cli.ingest.hold_freed_memory).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from pyonep_fast.ingest import DEFAULT_CHUNK_POINTS  # noqa: E402
COLUMNS = ("temperature", "humidity", "pressure", "wind")
START = 1_300_000_000


def write_csv(path, rows):
    """time + 4 float columns, a row a minute, 2 decimals like real sensors."""
    import numpy as np

    rng = np.random.default_rng(7)
    with open(path + ".part", "w") as f:
        f.write("time," + ",".join(COLUMNS) + "\n")
        for a in range(0, rows, 250_000):
            n = min(250_000, rows - a)
            t = START + 60 * np.arange(a, a + n, dtype=np.int64)
            day = np.sin(2 * np.pi * (t % 86400) / 86400)
            cols = [20 + 6 * day + rng.normal(0, 0.5, n), 55 - 20 * day + rng.normal(0, 2, n),
                    1013 + rng.normal(0, 4, n), np.abs(rng.normal(3, 2, n))]
            cols = [np.round(c, 2).tolist() for c in cols]
            f.write("".join(f"{ts},{w},{x},{y},{z}\n" for ts, w, x, y, z in zip(t.tolist(), *cols)))
    os.replace(path + ".part", path)


def head_csv(source, path, rows):
    with open(source) as f, open(path, "w") as out:
        for _ in range(rows + 1):
            out.write(f.readline())


# --- child processes -------------------------------------------------------------
def peak_rss_mb():
    """VmHWM of this process (ru_maxrss of a child also counts its parent's
    pages at fork time)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def child_ours(url, cik, csv_path, connections, chunk_size):
    from pyonep_fast.cli.ingest import hold_freed_memory
    from pyonep_fast.ingest import ingest
    from pyonep_fast.ingest.sources import _pandas

    hold_freed_memory()   # what `pyonep-fast ingest` does; the baseline gets it too

    _pandas()  # a one-time import (~0.4 s CPU), like the interpreter's start: not per point
    cpu = time.process_time()
    report = ingest(cik, csv_path, header=True, url=url, connections=connections, chunk_size=chunk_size,
                    progress=False, kinds={name: "float" for name in COLUMNS})
    print(json.dumps({"points": report.sent_points, "seconds": report.duration, "ok": report.ok,
                      "cpu": time.process_time() - cpu, "peak_mb": peak_rss_mb(), "summary": report.summary()}))


def child_baseline(url, cik, csv_path, chunk_size):
    """What a pyonep program does: csv rows to lists, one recordbatch per
    dataport and chunk, one request at a time."""
    import csv

    sys.path.insert(0, HERE)
    from baseline_pyonep import BaselineOnepV1

    from pyonep_fast.cli.ingest import hold_freed_memory

    hold_freed_memory()

    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    client = BaselineOnepV1(host=host, port=port, https=False)
    rows_per_chunk = chunk_size // len(COLUMNS)
    started, cpu, points = time.perf_counter(), time.process_time(), 0
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        while True:
            entries = [[] for _ in COLUMNS]
            for _, row in zip(range(rows_per_chunk), reader):
                t = int(row[0])
                for column, cell in zip(entries, row[1:]):
                    column.append([t, float(cell)])
            if not entries[0]:
                break
            for name, column in zip(COLUMNS, entries):
                ok, status = client.recordbatch(cik, {"alias": name}, column)
                if not ok:
                    raise SystemExit(f"baseline recordbatch: {status}")
                points += len(column)
    print(json.dumps({"points": points, "seconds": time.perf_counter() - started, "ok": True,
                      "cpu": time.process_time() - cpu, "peak_mb": peak_rss_mb()}))


# --- the parent ------------------------------------------------------------------
def measure(argv):
    """Runs a child; (its JSON line, its RSS in MB sampled every 0.2 s)."""
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), *argv], stdout=subprocess.PIPE)
    samples = []
    while True:
        pid, status, _ = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        try:
            with open(f"/proc/{process.pid}/status") as f:
                samples += [int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:")]
        except OSError:
            pass
        time.sleep(0.2)
    output = process.stdout.read()
    if status:
        raise SystemExit(f"child {argv[:2]} failed with status {status}")
    return json.loads(output), samples


def prepare(url, specs=COLUMNS):
    import urllib3

    from pyonep_fast.cli.demo import create_dataports, fountain_client
    from pyonep_fast.onep import OnepV1

    with urllib3.PoolManager() as http:
        cik = fountain_client(http, url)
    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    with OnepV1(host=host, port=port, https=False) as client:
        create_dataports(client, cik, [(name, "float") for name in specs])
    return cik


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--baseline-points", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_POINTS)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "pyonep-fast-bench-ingest"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, url, cik, path = args.child
        if kind == "ours":
            return child_ours(url, cik, path, args.connections, args.chunk_size)
        return child_baseline(url, cik, path, args.chunk_size)

    from pyonep_fast.server import spawn

    os.makedirs(args.workdir, exist_ok=True)
    rows = args.points // len(COLUMNS)
    csv_path = os.path.join(args.workdir, f"history-{rows}.csv")
    if not os.path.exists(csv_path):
        print(f"writing {csv_path} ({rows:,} rows x {len(COLUMNS)} columns) ...", flush=True)
        write_csv(csv_path, rows)
    small = os.path.join(args.workdir, f"head-{args.baseline_points // len(COLUMNS)}.csv")
    head_csv(csv_path, small, args.baseline_points // len(COLUMNS))
    options = ["--connections", str(args.connections), "--chunk-size", str(args.chunk_size)]
    db_dir = tempfile.mkdtemp(prefix="bench-ingest-db-", dir=args.workdir)
    results = {}
    try:
        with spawn(db=os.path.join(db_dir, "durable.db")) as server:
            cik = prepare(server.url)
            print(f"ours, durable server: {rows * len(COLUMNS):,} points ...", flush=True)
            results["durable"] = measure(["--child", "ours", server.url, cik, csv_path, *options])
        with spawn(db=":memory:", null=True) as server:
            print(f"client CPU on the --null server: ours on all points, the baseline on the first "
                  f"{args.baseline_points:,} ...", flush=True)
            results["null"] = measure(["--child", "ours", server.url, "0" * 40, csv_path, *options])
            results["baseline"] = measure(["--child", "baseline", server.url, "0" * 40, small, *options])
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)

    report, samples = results["durable"]
    print(report["summary"])
    print()
    print(f"{'':34}{'points':>12}{'points/s':>12}{'CPU us/pt':>11}{'peak RSS MB':>13}")
    for name, label in (("durable", "pyonep_fast, durable server"), ("null", "pyonep_fast, --null server"),
                        ("baseline", "pyonep-like baseline, --null")):
        out, _ = results[name]
        print(f"{label:34}{out['points']:>12,}{out['points'] / out['seconds']:>12,.0f}"
              f"{out['cpu'] / out['points'] * 1e6:>11.2f}{out['peak_mb']:>13.0f}")
    ours, base = (results[name][0] for name in ("null", "baseline"))
    print(f"client CPU per point, baseline / ours: {base['cpu'] / base['points'] / (ours['cpu'] / ours['points']):.1f}x")
    print(f"client RSS while ingesting {report['points']:,} points (MB, every 0.2 s): "
          + " ".join(f"{mb:.0f}" for mb in samples[::max(1, len(samples) // 20)]))
    print(f"(CPU and points/s: the ingest call itself, interpreter start and imports excluded; {os.cpu_count()} cores "
          "shared by client and server)")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
