"""Embedded server throughput, durable storage (SQLite WAL, synchronous=NORMAL).

    python bench/bench_server.py [--seconds 5] [--connections 8] [--points 1000000] [--rss-points 10000000]
                                 [--same-alias] [--only writes,batch,rss]

Prints:
  * single-call `write`s per second over N concurrent keep-alive connections,
    from a client in a separate process (raw asyncio streams, so the
    measurement is of the server), each connection to a dataport of its own
    (--same-alias: all to one, {"alias": "x"});
  * one `recordbatch` of --points points: request time and points/s, then
    the time of a `read` of all of them;
  * the server's peak RSS (VmHWM) after ingesting --rss-points points in
    1,000,000-point recordbatches.
The server is a `pyonep-fast serve` subprocess on a temporary database file.
"""
import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from urllib.parse import urlsplit

import orjson

from pyonep_fast.server import spawn

RPC = "/onep:v1/rpc/process"


def request_bytes(host, body):
    return (f"POST {RPC} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def exchange(reader, writer, data):
    """Sends one request on a kept-alive connection; returns the response body."""
    writer.write(data)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


async def _writers(url, cik, aliases, seconds):
    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    counts = []

    async def one_connection(alias):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        done = 0
        value = 0
        while time.monotonic() < deadline:
            value += 1
            body = orjson.dumps({"auth": {"cik": cik}, "calls": [
                {"id": value, "procedure": "write", "arguments": [{"alias": alias}, value + 0.5, {}]}]})
            answer = await exchange(reader, writer, request_bytes(parts.netloc, body))
            if b'"ok"' not in answer:
                raise SystemExit(f"write failed: {answer!r}")
            done += 1
        writer.close()
        counts.append(done)

    started = time.monotonic()
    await asyncio.gather(*(one_connection(alias) for alias in aliases))
    return sum(counts), time.monotonic() - started


def writer_process(url, cik, aliases, seconds, results):
    results.put(asyncio.run(_writers(url, cik, aliases, seconds)))


def rpc(url, cik, procedure, *arguments):
    async def go():
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        body = orjson.dumps({"auth": {"cik": cik}, "calls": [{"id": 1, "procedure": procedure,
                                                               "arguments": list(arguments)}]})
        answer = await exchange(reader, writer, request_bytes(parts.netloc, body))
        writer.close()
        return orjson.loads(answer)[0]
    return asyncio.run(go())


def timed_post(url, body):
    async def go():
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        data = request_bytes(parts.netloc, body)
        started = time.perf_counter()
        answer = await exchange(reader, writer, data)
        elapsed = time.perf_counter() - started
        writer.close()
        return answer, elapsed
    return asyncio.run(go())


def recordbatch_body(cik, rid, first, n):
    entries = [[t, t * 0.5] for t in range(first, first + n)]
    return orjson.dumps({"auth": {"cik": cik}, "calls": [{"id": 1, "procedure": "recordbatch",
                                                           "arguments": [rid, entries]}]})


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rss-points", type=int, default=10_000_000)
    parser.add_argument("--same-alias", action="store_true", help="every connection writes alias x")
    parser.add_argument("--only", default="writes,batch,rss", help="comma-separated parts to run")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    with tempfile.TemporaryDirectory() as tmp:
        if "writes" in parts:
            single_call_writes(args, os.path.join(tmp, "writes.db"))
        if "batch" in parts:
            one_recordbatch(args, os.path.join(tmp, "batch.db"))
        if "rss" in parts:
            peak_rss(args, os.path.join(tmp, "rss.db"))
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


def single_call_writes(args, db):
    with spawn(db=db) as server:
        cik = server.root_cik
        aliases = ["x"] * args.connections if args.same_alias else [f"x{i}" for i in range(args.connections)]
        for alias in sorted(set(aliases)):
            rid = rpc(server.url, cik, "create", "dataport", {"format": "float"})["result"]
            rpc(server.url, cik, "map", "alias", rid, alias)
        results = multiprocessing.Queue()
        client = multiprocessing.Process(target=writer_process,
                                         args=(server.url, cik, aliases, args.seconds, results))
        client.start()
        writes, elapsed = results.get()
        client.join()
        print(f"single-call writes, {args.connections} keep-alive connections, "
              f"{'one dataport' if args.same_alias else 'a dataport each'}, durable: "
              f"{writes / elapsed:,.0f} writes/s ({writes} in {elapsed:.1f} s)")


def one_recordbatch(args, db):
    with spawn(db=db) as server:
        cik = server.root_cik
        rid = rpc(server.url, cik, "create", "dataport", {"format": "float"})["result"]
        body = recordbatch_body(cik, rid, 1, args.points)
        answer, elapsed = timed_post(server.url, body)
        if b'"ok"' not in answer:
            raise SystemExit(f"recordbatch failed: {answer[:200]!r}")
        print(f"recordbatch of {args.points:,} points ({len(body) / 1e6:.1f} MB), durable: {elapsed:.3f} s "
              f"= {args.points / elapsed:,.0f} points/s")
        for sort in ("desc", "asc"):
            read = orjson.dumps({"auth": {"cik": cik}, "calls": [
                {"id": 1, "procedure": "read", "arguments": [rid, {"limit": args.points, "sort": sort}]}]})
            answer, elapsed = timed_post(server.url, read)
            if len(orjson.loads(answer)[0]["result"]) != args.points:
                raise SystemExit(f"read failed: {answer[:200]!r}")
            print(f"read of {args.points:,} points, sort {sort} ({len(answer) / 1e6:.1f} MB): {elapsed:.3f} s")


def peak_rss(args, db):
    with spawn(db=db) as server:
        cik = server.root_cik
        rid = rpc(server.url, cik, "create", "dataport", {"format": "float"})["result"]
        per_request = 1_000_000
        started = time.perf_counter()
        in_requests = 0.0
        for first in range(1, args.rss_points + 1, per_request):
            n = min(per_request, args.rss_points + 1 - first)
            answer, elapsed = timed_post(server.url, recordbatch_body(cik, rid, first, n))
            if b'"ok"' not in answer:
                raise SystemExit(f"recordbatch failed: {answer[:200]!r}")
            in_requests += elapsed
        elapsed = time.perf_counter() - started
        count = rpc(server.url, cik, "info", rid, {"storage": True})["result"]["storage"]["count"]
        print(f"ingested {count:,} points in {elapsed:.1f} s incl. client-side encoding, {in_requests:.1f} s in "
              f"requests = {count / in_requests:,.0f} points/s sustained; "
              f"server peak RSS (VmHWM) {peak_rss_kib(server.pid) / 1024:,.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
