"""Does one API's bulk call stall a small call on another connection?

    python bench/bench_loop_stall.py [--points 1000000] [--batches 5] [--quiet-seconds 2] [--loop-cpu]

A `pyonep-fast serve` subprocess on a temporary database file. One
connection (this process) sends a single `write` every `--interval-ms`;
each one's latency counts from when it was due, so a stall delays every
write due during it (no coordinated omission). Another connection (a child
process) sends `--batches` recordbatches of `--points` points each, one
after another. Prints p50/p99/max of the single writes while the
recordbatches run, and the same for `--quiet-seconds` of writes alone, so
the two can be compared on the same machine.

On a shared, loaded machine those latencies mostly measure waiting for a
CPU. `--loop-cpu` runs the server in this process instead (EmbeddedServer)
and also prints what a loaded machine inflates far less: the CPU time the
event loop's thread spent while a heartbeat, sent every millisecond, waited
to run, i.e. about the longest the loop worked without serving anyone.
"""
import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_server import exchange, recordbatch_body, request_bytes, rpc  # noqa: E402

from pyonep_fast.server import EmbeddedServer, spawn  # noqa: E402


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


class LoopCpu:
    """CPU time of the loop's thread while each heartbeat waited to run."""

    def __init__(self, loop, thread):
        self.loop = loop
        self.clock = time.pthread_getcpuclockid(thread.ident)
        self.samples = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _beat(self):
        while not self._stopping.is_set():
            ran = threading.Event()
            cpu = []
            sent = time.clock_gettime(self.clock)
            self.loop.call_soon_threadsafe(lambda: (cpu.append(time.clock_gettime(self.clock)), ran.set()))
            if not ran.wait(5):
                return
            self.samples.append(cpu[0] - sent)
            time.sleep(0.001)

    def take(self):
        samples, self.samples = self.samples, []
        if not samples:
            return "loop CPU: no heartbeat"
        ordered = sorted(samples)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (f"loop CPU while a heartbeat waited ({len(ordered):,} beats): "
                f"p99 {p99 * 1e3:.2f} ms, max {ordered[-1] * 1e3:.2f} ms")

    def stop(self):
        self._stopping.set()
        self._thread.join()


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
    parser.add_argument("--loop-cpu", action="store_true", help="server in this process; print the loop's CPU stalls")
    args = parser.parse_args()
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "stall.db")
        with EmbeddedServer(db=db) if args.loop_cpu else spawn(db=db) as server:
            probe = LoopCpu(server._loop, server._thread) if args.loop_cpu else None
            run(args, server, probe)
            if probe is not None:
                probe.stop()
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


def run(args, server, probe):
    """Single writes alone, then beside the recordbatches; prints both."""
    cik = server.root_cik
    small = rpc(server.url, cik, "create", "dataport", {"format": "integer"})["result"]
    bulk = rpc(server.url, cik, "create", "dataport", {"format": "float"})["result"]

    quiet_end = time.monotonic() + args.quiet_seconds
    interval = args.interval_ms / 1000
    if probe is not None:
        probe.take()
    quiet = asyncio.run(timed_writes(server.url, cik, small, interval, lambda: time.monotonic() > quiet_end))
    print(f"alone: {summary(quiet)}")
    if probe is not None:
        print(f"alone: {probe.take()}")

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
    if probe is not None:
        print(f"beside the recordbatches: {probe.take()}")


if __name__ == "__main__":
    sys.exit(main())
