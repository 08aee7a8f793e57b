"""Small writes into a large series: only the chunks they touch are rewritten.

    python bench/bench_merge.py [--points 5000000]

Ingests --points float points (1,000,000-point recordbatches) into one
dataport of a `pyonep-fast serve` subprocess, then times single `record`
calls of two points each and prints the server's RSS growth for each:
  * both after the newest point (appends),
  * one inside the series (out of order) and one after it,
  * one before the oldest point and one after the newest.
RSS growth is the peak (VmHWM, reset through /proc/PID/clear_refs before the
call) minus the RSS before it.
"""
import argparse
import os
import sys
import tempfile

import orjson
from bench_server import recordbatch_body, rpc, timed_post

from pyonep_fast.server import spawn


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=5_000_000)
    args = parser.parse_args()
    n = args.points
    with tempfile.TemporaryDirectory() as tmp, spawn(db=os.path.join(tmp, "merge.db")) as server:
        cik = server.root_cik
        rid = rpc(server.url, cik, "create", "dataport", {"format": "float"})["result"]
        for first in range(1, n + 1, 1_000_000):
            answer, _ = timed_post(server.url, recordbatch_body(cik, rid, first, min(1_000_000, n + 1 - first)))
            if b'"ok"' not in answer:
                raise SystemExit(f"recordbatch failed: {answer[:200]!r}")
        cases = (("two appended points", [[n + 1, 1.0], [n + 2, 2.0]]),
                 ("one point inside, one appended", [[n // 2 + 1, 3.0], [n + 3, 4.0]]),
                 ("one point before the oldest, one appended", [[0, 5.0], [n + 4, 6.0]]))
        for name, entries in cases:
            with open(f"/proc/{server.pid}/clear_refs", "w") as clear:
                clear.write("5")      # resets VmHWM to the current RSS
            before = status_kib(server.pid, "VmRSS")
            body = rpc_body(cik, rid, entries)
            answer, elapsed = timed_post(server.url, body)
            if b'"ok"' not in answer:
                raise SystemExit(f"record failed: {answer[:200]!r}")
            grown = status_kib(server.pid, "VmHWM") - before
            print(f"{name} into {n:,} points, durable: {elapsed * 1000:.1f} ms, server RSS +{grown / 1024:.1f} MiB")
        count = rpc(server.url, cik, "info", rid, {"storage": True})["result"]["storage"]["count"]
        if count != n + 5:
            raise SystemExit(f"expected {n + 5} points, found {count}")
    return 0


def rpc_body(cik, rid, entries):
    return orjson.dumps({"auth": {"cik": cik}, "calls": [{"id": 1, "procedure": "record",
                                                           "arguments": [rid, entries, {}]}]})


if __name__ == "__main__":
    sys.exit(main())
