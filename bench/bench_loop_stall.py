"""Does one API's bulk call stall a small call on another connection?

    python bench/bench_loop_stall.py [--points 1000000] [--batches 5] [--quiet-seconds 2]

A `pyonep-fast serve` subprocess on a temporary database file. One
connection (this process) sends a single `write` every `--interval-ms`;
each one's latency counts from when it was due, so a stall delays every
write due during it (no coordinated omission). Another connection (a child
process) sends `--batches` recordbatches of `--points` points each, one
after another. Prints p50/p99/max of the single writes while the
recordbatches run, and the same for `--quiet-seconds` of writes alone, so
the two can be compared on the same machine.
"""
import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_server import exchange, recordbatch_body, request_bytes, rpc  # noqa: E402

from pyonep_fast.server import spawn  # noqa: E402


def batch_process(url, cik, rid, points, batches, started, results):
    async def go():
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        bodies = [request_bytes(parts.netloc, recordbatch_body(cik, rid, 1 + i * points, points))
                  for i in range(batches)]
        started.set()
        times = []
        for data in bodies:
            begun = time.perf_counter()
            answer = await exchange(reader, writer, data)
            times.append(time.perf_counter() - begun)
            if b'"ok"' not in answer:
                return f"recordbatch failed: {answer[:200]!r}"
        writer.close()
        return times
    results.put(asyncio.run(go()))


async def timed_writes(url, cik, rid, interval, until):
    """Latencies (s) of single writes due every `interval` s, each counted
    from when it was due, until until() is true."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    latencies = []
    value = 0
    due = time.perf_counter()
    while not until():
        value += 1
        body = orjson.dumps({"auth": {"cik": cik}, "calls": [
            {"id": value, "procedure": "write", "arguments": [rid, value]}]})
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        answer = await exchange(reader, writer, request_bytes(parts.netloc, body))
        latencies.append(time.perf_counter() - due)
        if b'"ok"' not in answer:
            raise SystemExit(f"write failed: {answer!r}")
        due += interval
    writer.close()
    return latencies


def summary(latencies):
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{len(ordered):,} writes: p50 {statistics.median(ordered) * 1e3:.2f} ms, "
            f"p99 {p99 * 1e3:.2f} ms, max {ordered[-1] * 1e3:.2f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--quiet-seconds", type=float, default=2.0)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    args = parser.parse_args()
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp, spawn(db=os.path.join(tmp, "stall.db")) as server:
        cik = server.root_cik
        small = rpc(server.url, cik, "create", "dataport", {"format": "integer"})["result"]
        bulk = rpc(server.url, cik, "create", "dataport", {"format": "float"})["result"]

        quiet_end = time.monotonic() + args.quiet_seconds
        interval = args.interval_ms / 1000
        quiet = asyncio.run(timed_writes(server.url, cik, small, interval, lambda: time.monotonic() > quiet_end))
        print(f"alone: {summary(quiet)}")

        started, results = multiprocessing.Event(), multiprocessing.Queue()
        child = multiprocessing.Process(target=batch_process, args=(
            server.url, cik, bulk, args.points, args.batches, started, results))
        child.start()
        started.wait()
        loaded = asyncio.run(timed_writes(server.url, cik, small, interval, lambda: not child.is_alive()))
        batch_times = results.get()
        child.join()
        if isinstance(batch_times, str):
            raise SystemExit(batch_times)
        print(f"beside {args.batches} recordbatches of {args.points:,} points "
              f"({statistics.mean(batch_times):.3f} s each): {summary(loaded)}")
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
