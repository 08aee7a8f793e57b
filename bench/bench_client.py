"""Client CPU of pyonep_fast's OnepV1 beside a pyonep-0.13.8-like baseline.

Both talk to the same embedded server, spawned in another process in
--null mode (every call acknowledged, nothing stored), so the figures are
the client's own work: time.process_time() of this process per operation.

    python bench/bench_client.py            # full run
    python bench/bench_client.py --quick    # fewer repetitions
    python bench/bench_client.py --only write queue   # some rows only

Rows: one `write` round trip (keep-alive for ours; the baseline makes a new
requests.Session per call, as pyonep does by default, and a reused one);
queueing one deferred call; send_deferred of 10,000 queued writes;
recordbatch of 200,000 points given as Python lists (sensor-like floats, and
ints). Each figure is the median of several runs.
"""
import argparse
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from baseline_pyonep import BaselineOnepV1  # noqa: E402

from pyonep_fast.onep import OnepV1  # noqa: E402
from pyonep_fast.server import spawn  # noqa: E402

CIK = "5de0cfcf7b5bed2ea7a8aa00112233445566778f"
TARGET = {"alias": "temp"}


def cpu(operation, repeat):
    """Median client CPU seconds of operation() over `repeat` runs."""
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        operation()
        samples.append(time.process_time() - started)
    return statistics.median(samples)


def per_call(client, calls, repeat):
    def writes():
        for k in range(calls):
            isok, _ = client.write(CIK, TARGET, k, {})
            assert isok
    writes()  # connections up, code warm
    return cpu(writes, repeat) / calls


def queue_cost(client, calls, repeat):
    def queue():
        for k in range(calls):
            client.write(CIK, TARGET, k, {}, defer=True)
    samples = []
    for _ in range(repeat):
        samples.append(cpu(queue, 1) / calls)
        client.send_deferred(CIK)
    return statistics.median(samples)


def send_cost(client, calls, repeat):
    samples = []
    for _ in range(repeat):
        for k in range(calls):
            client.write(CIK, TARGET, k, {}, defer=True)
        started = time.process_time()
        triples = client.send_deferred(CIK)
        samples.append(time.process_time() - started)
        assert len(triples) == calls and all(isok for _, isok, _ in triples)
    return statistics.median(samples)


def sensor_entries(points):
    """[[t, v], ...] like a temperature sensor's history: full-precision floats."""
    return [[1_400_000_000 + k, 20.0 + 5.0 * math.sin(k / 600.0) + (k % 17) * 0.01]
            for k in range(points)]


def counter_entries(points):
    return [[1_400_000_000 + k, k * 3] for k in range(points)]


def recordbatch_cost(client, entries, repeat):

    def record():
        assert client.recordbatch(CIK, TARGET, entries) == (True, "ok")
    return cpu(record, repeat)


def clients(url):
    host, port = url.rsplit("//", 1)[1].split(":")
    ours = OnepV1(host=host, port=port, https=False)
    fresh = BaselineOnepV1(host=host, port=port, https=False)
    reused = BaselineOnepV1(host=host, port=port, https=False, reuseconnection=True)
    return ours, fresh, reused


ROWS = ("write", "queue", "send", "recordbatch")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repetitions")
    parser.add_argument("--only", nargs="+", choices=ROWS, default=ROWS, metavar="ROW",
                        help=f"measure only these rows ({', '.join(ROWS)})")
    args = parser.parse_args(argv)
    scale = 0.25 if args.quick else 1.0
    repeat = 3 if args.quick else 5
    with spawn(db=":memory:", null=True) as server:
        ours, fresh, reused = clients(server.url)
        rows = []
        us = 1e6
        if "write" in args.only:
            rows.append(("write round trip, client CPU per call", "us",
                         per_call(ours, int(2000 * scale), repeat) * us,
                         per_call(fresh, int(200 * scale), repeat) * us, "<= 80 us"))
            rows.append(("  baseline with reuseconnection=True", "us", None,
                         per_call(reused, int(500 * scale), repeat) * us, ""))
        if "queue" in args.only:
            rows.append(("queue one deferred write", "us",
                         queue_cost(ours, 10000, repeat) * us,
                         queue_cost(reused, 10000, repeat) * us, "<= 3 us"))
        if "send" in args.only:
            rows.append(("send_deferred of 10,000 writes", "ms",
                         send_cost(ours, 10000, repeat) * 1e3,
                         send_cost(fresh, 10000, max(1, repeat // 2)) * 1e3, "<= 10 ms"))
        if "recordbatch" in args.only:
            for label, entries in (("floats", sensor_entries(200_000)),
                                   ("ints", counter_entries(200_000))):
                rows.append((f"recordbatch of 200,000 points, {label} (lists)", "ms",
                             recordbatch_cost(ours, entries, repeat) * 1e3,
                             recordbatch_cost(fresh, entries, max(1, repeat // 2)) * 1e3, ">= 10x"))
        for client in (ours, fresh, reused):
            client.close()
    print(f"client CPU (time.process_time), server in another process in --null mode; "
          f"median of {repeat} runs")
    print(f"{'operation':42} {'pyonep_fast':>14} {'pyonep-like':>14} {'ratio':>8}  target")
    for name, unit, ours_value, base_value, target in rows:
        ours_text = f"{ours_value:10.1f} {unit}" if ours_value is not None else ""
        ratio = f"{base_value / ours_value:7.1f}x" if ours_value else ""
        print(f"{name:42} {ours_text:>14} {base_value:10.1f} {unit} {ratio:>8}  {target}")
    print("(ours encodes a deferred call when it is queued; the baseline only appends it and "
          "encodes everything at send time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
