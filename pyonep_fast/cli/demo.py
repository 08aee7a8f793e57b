"""`pyonep-fast demo`: a million points of sensor history into the embedded
server, read back, compared, and timed beside a plain requests + json client.

Steps: start `pyonep-fast serve` on a free port with a temporary database;
get a client from the CIK fountain; create its dataports; generate months
of deterministic multi-sensor history (temperatures and humidities with
daily cycles and noise every minute, a door counter every five minutes, a
pump status string every hour); ingest it (pyonep_fast.ingest, with a
checkpoint the server's portal follows on its server-activity page); read every
dataport back and check each point; then write the same points again, into
a second client, the way a pyonep program would: one recordbatch request at
a time, json.dumps, a new requests.Session per call.
"""
import math
import os
import random
import shutil
import tempfile
import time
from array import array

import orjson
import urllib3

from . import int_between

RPC_PATH = "/onep:v1/rpc/process"
DAY = 86400
START = 1_420_070_400            # 2015-01-01T00:00:00Z
SEED = 20150101
BASELINE_SECONDS = 15.0          # the baseline runs this long at most, then extrapolates
READ_PAGE = 250_000
MAX_POINTS = 100_000_000         # the history is generated in memory: ~16 bytes a point

# alias, format, seconds between points
SENSORS = (
    ("greenhouse.temperature", "float", 60),
    ("greenhouse.humidity", "float", 60),
    ("outdoor.temperature", "float", 60),
    ("outdoor.humidity", "float", 60),
    ("door.count", "integer", 300),
    ("pump.status", "string", 3600),
)
PUMP_STATES = ("idle", "pumping", "idle", "fault", "maintenance")


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="ingest a million points of sensor history into the embedded server and time it",
        description=__doc__.split("\n\n")[1])
    parser.add_argument("--points", type=int_between(len(SENSORS), MAX_POINTS), default=1_000_000,
                        help=f"points to generate, {len(SENSORS)} to {MAX_POINTS:,} (default 1,000,000)")
    parser.add_argument("--db", help="database file for the server (default: a temporary file)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary database (a --db file is always kept)")
    parser.add_argument("--connections", type=int_between(1, 64), default=4, help="connections of the ingest")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--keep-serving", action="store_true",
                        help="keep the server up at the end, to look at the data in its web portal, until Ctrl-C")
    parser.set_defaults(func=run)


# --- data ------------------------------------------------------------------------
def point_counts(total):
    """Points per sensor so that they cover the same months and add up to total."""
    rates = [1 / step for _, _, step in SENSORS]
    counts = [int(total * rate / sum(rates)) for rate in rates]
    counts[0] += total - sum(counts)
    return counts


def generate(total, seed=SEED):
    """{alias: (timestamps array('q'), values array('q'/'d') or list of str)}."""
    rng = random.Random(seed)
    history = {}
    for (alias, fmt, step), count in zip(SENSORS, point_counts(total)):
        ts = array("q", range(START, START + count * step, step))
        if alias.endswith("temperature"):
            base, swing = (24.0, 4.0) if alias.startswith("greenhouse") else (8.0, 7.0)
            values = array("d", (round(base + swing * math.sin(2 * math.pi * ((t % DAY) / DAY - 0.375))
                                       + 3.0 * math.sin(2 * math.pi * (t - START) / (365 * DAY))
                                       + rng.gauss(0, 0.4), 2) for t in ts))
        elif alias.endswith("humidity"):
            base = 70.0 if alias.startswith("greenhouse") else 60.0
            values = array("d", (round(min(100.0, max(0.0, base - 15 * math.sin(
                2 * math.pi * ((t % DAY) / DAY - 0.375)) + rng.gauss(0, 2.0))), 1) for t in ts))
        elif fmt == "integer":
            total_opened = 0
            values = array("q")
            for t in ts:
                hour = (t % DAY) // 3600
                total_opened += rng.randint(0, 6 if 7 <= hour < 19 else 1)
                values.append(total_opened)
        else:
            state, values = 0, []
            for _ in ts:
                if rng.random() < 0.1:
                    state = rng.randrange(len(PUMP_STATES))
                values.append(PUMP_STATES[state])
        history[alias] = (ts, values)
    return history


# --- server side -----------------------------------------------------------------
def fountain_client(http, url):
    """A new client from the CIK fountain: its CIK."""
    response = http.request("GET", url + "/api/create?vendor")
    if response.status != 200:
        raise RuntimeError(f"CIK fountain answered HTTP {response.status}")
    return orjson.loads(response.data)["cik"]


def create_dataports(client, cik, specs):
    """Creates and aliases a dataport for each (alias, format), as `ingest --create` does."""
    from ..ingest.rules import FORMAT_KINDS
    from ..ingest.sinks import create_dataport

    for alias, fmt in specs:
        create_dataport(client, cik, alias, FORMAT_KINDS[fmt])


def read_all(client, cik, alias):
    """Every point of alias, oldest first."""
    points, start = [], 0
    while True:
        ok, page = client.read(cik, {"alias": alias}, {"starttime": start, "endtime": 2**62, "sort": "asc",
                                                         "limit": READ_PAGE})
        if not ok:
            raise RuntimeError(f"read {alias}: {page}")
        points += page
        if len(page) < READ_PAGE:
            return points
        start = page[-1][0] + 1


def compare(history, client, cik):
    """The aliases whose stored points differ from the generated ones."""
    different = []
    for alias, (ts, values) in history.items():
        stored = read_all(client, cik, alias)
        if [t for t, _ in stored] != list(ts) or [v for _, v in stored] != list(values):
            different.append(alias)
    return different


# --- the baseline: what a pyonep program does ------------------------------------
def baseline_chunks(history, chunk_points):
    """(alias, entries as lists) in the order the ingest sends them."""
    for alias, (ts, values) in history.items():
        for a in range(0, len(ts), chunk_points):
            yield alias, [[t, v] for t, v in zip(ts[a:a + chunk_points], values[a:a + chunk_points])]


def baseline_send(url, cik, chunks, time_limit):
    """Sends each chunk as one recordbatch, one request at a time, with
    json.dumps and a new requests.Session per call, until the chunks run
    out or time_limit seconds have passed. Returns (points, seconds, client
    CPU seconds)."""
    import json

    import requests

    points, started, cpu, call_id = 0, time.perf_counter(), time.process_time(), 0
    for alias, entries in chunks:
        body = json.dumps({"auth": {"cik": cik}, "calls": [
            {"id": call_id, "procedure": "recordbatch", "arguments": [{"alias": alias}, entries]}]})
        call_id += 1
        with requests.Session() as session:
            response = session.post(url + RPC_PATH, data=body,
                                    headers={"Content-Type": "application/json; charset=utf-8"}, timeout=60)
        answer = json.loads(response.text)
        if not (isinstance(answer, list) and answer and answer[0].get("status") == "ok"):
            raise RuntimeError(f"baseline recordbatch {alias}: {response.text[:200]}")
        points += len(entries)
        if time.perf_counter() - started > time_limit:
            break
    return points, time.perf_counter() - started, time.process_time() - cpu


# --- the command -----------------------------------------------------------------
def print_portal_hint(args, db, url, cik):
    """How to see the data just ingested in the server's web portal."""
    if args.keep or args.db:
        print(f"web portal: pyonep-fast serve --db {db} --port 8080, then open http://127.0.0.1:8080/portal/ "
              f"and sign in with One Platform CIK {cik}")
    else:
        print(f"web portal: {url}/portal/ (CIK {cik}) served this data until the server stopped; "
              f"--keep-serving keeps it up, --keep keeps the database")


def serve_portal(server, cik):
    """Keeps the server up until Ctrl-C (or until it stops), its portal URL shown."""
    try:   # entered before the line is printed: whoever reads it may press Ctrl-C at once
        print(f"\nportal: {server.url}/portal/  (sign in with One Platform CIK {cik}); Ctrl-C stops the server",
              flush=True)
        server.wait()
    except KeyboardInterrupt:
        print("")


def run(args):
    from ..ingest import DEFAULT_CHUNK_POINTS, ingest
    from ..onep import OnepV1
    from ..server import spawn
    from .ingest import hold_freed_memory

    hold_freed_memory()   # as `pyonep-fast ingest` does (the baseline runs under it too)
    workdir = tempfile.mkdtemp(prefix="pyonep-fast-demo-")
    db = args.db or os.path.join(workdir, "demo.db")
    print(f"generating {args.points:,} points of sensor history (seed {SEED}) ...")
    started = time.perf_counter()
    history = generate(args.points)
    print(f"  {len(SENSORS)} sensors, {point_counts(args.points)} points each, "
        f"{(max(ts[-1] for ts, _ in history.values()) - START) / DAY:.0f} days, "
        f"{time.perf_counter() - started:.1f} s")
    checkpoint = os.path.join(workdir, "demo-ingest.ckpt")
    server = spawn(db=db, extra_args=["--ingest-progress", checkpoint])
    cik = None
    try:
        print(f"embedded server {server.url} (pid {server.pid}, database {db})")
        host, port = server.url.rsplit("/", 1)[1].rsplit(":", 1)
        client = OnepV1(host=host.strip("[]"), port=port, https=False)
        with urllib3.PoolManager() as http:
            cik = fountain_client(http, server.url)
            baseline_cik = fountain_client(http, server.url)
        specs = [(alias, fmt) for alias, fmt, _ in SENSORS]
        create_dataports(client, cik, specs)
        create_dataports(client, baseline_cik, specs)

        cpu = time.process_time()   # this process's threads only: the server runs in its own
        report = ingest(cik, history, client=client, connections=args.connections, checkpoint=checkpoint,
                        input_name=f"sensor history (seed {SEED}, {args.points:,} points)",
                        progress=False if args.quiet else None)
        ours_cpu = (time.process_time() - cpu) / report.sent_points
        print(report.summary())
        if not report.ok:
            return 1
        print("reading everything back ...")
        started = time.perf_counter()
        different = compare(history, client, cik)
        print(f"  {'MISMATCH in ' + ', '.join(different) if different else 'every point equal'} "
            f"({time.perf_counter() - started:.1f} s)")

        try:
            import requests  # noqa: F401
        except ImportError:
            print("baseline skipped: it needs requests (pip install requests)")
            return 1 if different else 0
        print("baseline: the same recordbatch calls with requests + json, one at a time, new Session each ...")
        points, seconds, cpu = baseline_send(server.url, baseline_cik,
                                             baseline_chunks(history, DEFAULT_CHUNK_POINTS), BASELINE_SECONDS)
        finished = points == args.points
        baseline_rate, baseline_cpu = points / seconds, cpu / points
        ours = report.points_per_second
        print("")
        print(f"{'':28}{'points/s':>12}{'seconds for all':>17}{'client CPU us/point':>21}")
        print(f"{'pyonep_fast ingest':28}{ours:>12,.0f}{report.duration:>17.2f}{ours_cpu * 1e6:>21.2f}")
        print(f"{'requests + json baseline':28}{baseline_rate:>12,.0f}{args.points / baseline_rate:>17.2f}"
              f"{baseline_cpu * 1e6:>21.2f}" + ("" if finished else "  (extrapolated)"))
        print(f"speed-up: {ours / baseline_rate:.1f}x in points/s (one server process on {os.cpu_count()} shared "
              f"cores bounds both), {baseline_cpu / ours_cpu:.1f}x less client CPU per point")
        if not finished:
            print(f"(the baseline ran {seconds:.1f} s on the first {points:,} points; all {args.points:,} would "
                  f"take ~{args.points / baseline_rate:.0f} s)")
        if args.keep_serving:
            serve_portal(server, cik)
        return 1 if different else 0
    finally:
        server.terminate()
        server.wait(30)
        if args.keep or args.db:
            print(f"database kept: {db}")
        if cik and not args.keep_serving:
            print_portal_hint(args, db, server.url, cik)
        if not args.keep:  # the temporary database lives there; a --db file does not
            shutil.rmtree(workdir, ignore_errors=True)
