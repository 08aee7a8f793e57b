"""M2X on the embedded server, server side only: how fast it stores and
reads stream values, from a client that sends pre-encoded bodies over one
keep-alive connection (http.client), so the figures are the server's.

    python bench/bench_m2x_server.py [--values 1000000] [--per-request 100000] [--repeat 3]
                                     [--streams 10] [--micros] [--in-process] [--only post,updates,reads]

The server is a `pyonep-fast serve` subprocess on a temporary database file
(WAL, durable: a 202 is sent once the values are committed); --in-process
runs it in this process instead (for profilers). Prints, each beside its
target (issue 13):
  post   POST .../streams/{name}/values: --values values in requests of
         --per-request (within the server's limit), one stream; values/s
         from the first request sent to the last 202 (best of --repeat, a
         fresh stream each run)
  updates POST .../devices/{id}/updates: the same values spread over
         --streams streams per request
  reads  stats and sampling over the --values values, the newest 10,000
         values, and all of them read back page by page (median of --repeat)
"""
import argparse
import datetime
import http.client
import os
import statistics
import sys
import tempfile
import time
from urllib.parse import urlsplit

import orjson

from pyonep_fast.server import EmbeddedServer, spawn

KEY = "bench-m2x-server-key"
START = datetime.datetime(2016, 1, 1, tzinfo=datetime.timezone.utc)
TARGET_VALUES_PER_SECOND = 1_000_000
TARGET_STATS_MS = 50.0


class Connection:
    """One keep-alive connection that sends JSON and checks the status."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.http = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)

    def call(self, method, path, body=None, expect=(200,)):
        headers = {"X-M2X-KEY": KEY, "Content-Type": "application/json"}
        self.http.request(method, "/v2" + path, body=body, headers=headers)
        response = self.http.getresponse()
        data = response.read()
        if response.status not in expect:
            raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
        return data

    def json(self, method, path, body=None, expect=(200,)):
        return orjson.loads(self.call(method, path, body, expect))


def iso(ms):
    moment = START + datetime.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def value_items(first, count, micros=False):
    """[{"timestamp", "value"}] of `count` values, one per millisecond from
    `first`; timestamps as the server writes them (3 fraction digits) or, with
    micros, as m2x 5.5.0 sends them (6 digits)."""
    base = START + datetime.timedelta(milliseconds=first)
    out = []
    for i in range(count):
        moment = base + datetime.timedelta(milliseconds=i)
        fraction = f"{moment.microsecond:06d}" if micros else f"{moment.microsecond // 1000:03d}"
        out.append({"timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z", "value": (first + i) * 0.25})
    return out


def timed_posts(connection, requests):
    """Wall seconds from the first request sent to the last answer."""
    started = time.perf_counter()
    for path, body in requests:
        connection.call("POST", path, body, expect=(202,))
    return time.perf_counter() - started


def bench_post(connection, device, args):
    chunks = [value_items(first, min(args.per_request, args.values - first), args.micros)
              for first in range(0, args.values, args.per_request)]
    bodies = [orjson.dumps({"values": items}) for items in chunks]
    walls = []
    for run in range(args.repeat):
        path = f"/devices/{device}/streams/post{run}/values"
        connection.call("PUT", f"/devices/{device}/streams/post{run}", b'{"type":"numeric"}', expect=(200, 201))
        walls.append(timed_posts(connection, [(path, body) for body in bodies]))
        count = connection.json("GET", f"/devices/{device}/streams/post{run}/stats")["stats"]["count"]
        assert count == args.values, count
    return args.values / min(walls), sum(map(len, bodies)) / len(bodies)


def bench_updates(connection, device, args):
    per_stream = args.per_request // args.streams
    requests = []
    for first in range(0, args.values // args.streams, per_stream):
        items = value_items(first, per_stream, args.micros)
        requests.append(orjson.dumps({"values": {f"s{k}": items for k in range(args.streams)}}))
    walls = []
    for run in range(args.repeat):
        other = connection.json("POST", "/devices", orjson.dumps({"name": f"updates{run}", "visibility": "private"}),
                                expect=(201,))["id"]
        walls.append(timed_posts(connection, [(f"/devices/{other}/updates", body) for body in requests]))
    return per_stream * args.streams * len(requests) / min(walls)


def median_ms(function, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def bench_reads(connection, device, args):
    stream = f"/devices/{device}/streams/post0"
    rows = []

    def stats():
        assert connection.json("GET", stream + "/stats")["stats"]["count"] == args.values

    rows.append((f"stats over {args.values:,} values", median_ms(stats, args.repeat), f"<= {TARGET_STATS_MS:.0f} ms"))
    for interval in (1, 3600):
        rows.append((f"sampling avg, {interval} s buckets, limit 1000",
                     median_ms(lambda: connection.call("GET", f"{stream}/sampling?interval={interval}&limit=1000"),
                               args.repeat), ""))
    rows.append(("newest 10,000 values", median_ms(lambda: connection.call("GET", stream + "/values?limit=10000"),
                                                   args.repeat), ""))

    def read_all():
        end, total = None, 0
        while True:
            query = "limit=10000" + (f"&end={end}" if end else "")
            values = connection.json("GET", f"{stream}/values?{query}")["values"]
            total += len(values)
            if len(values) < 10000:
                break
            oldest = datetime.datetime.fromisoformat(values[-1]["timestamp"].replace("Z", "+00:00"))
            end = iso((oldest - START) // datetime.timedelta(milliseconds=1) - 1)
        assert total == args.values, total

    rows.append((f"all {args.values:,} values, pages of 10,000", median_ms(read_all, args.repeat), ""))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--per-request", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--micros", action="store_true", help="6-digit fractions, as m2x 5.5.0 sends them")
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--only", default="post,updates,reads")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as folder:
        db = os.path.join(folder, "bench.db")
        server = EmbeddedServer(db=db).start() if args.in_process else spawn(db=db)
        try:
            connection = Connection(server.url)
            device = connection.json("POST", "/devices", b'{"name":"bench","visibility":"private"}',
                                     expect=(201,))["id"]
            target = f">= {TARGET_VALUES_PER_SECOND:,}/s"
            if "post" in only or "reads" in only:
                rate, body = bench_post(connection, device, args)
                print(f"{'post_values, ' + f'{args.values:,} values in bodies of {body / 1e6:.1f} MB':58} "
                      f"{rate:>12,.0f} values/s   target {target}", flush=True)
            if "updates" in only:
                rate = bench_updates(connection, device, args)
                print(f"{'post_updates, ' + f'{args.values:,} values, {args.streams} streams per request':58} "
                      f"{rate:>12,.0f} values/s   target {target}", flush=True)
            if "reads" in only:
                for label, ms, goal in bench_reads(connection, device, args):
                    print(f"{label:58} {ms:>12.1f} ms         {('target ' + goal) if goal else ''}", flush=True)
        finally:
            if args.in_process:
                server.stop()
            else:
                server.terminate()
                server.wait(60)


if __name__ == "__main__":
    sys.exit(main())
