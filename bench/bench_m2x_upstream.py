"""M2X: our client against the REAL m2x 5.5.0 (with requests), same run,
same embedded server (a `pyonep-fast serve` subprocess, temporary database,
durable commits).

    python bench/bench_m2x_upstream.py [--values 1000000] [--single 1000]

m2x 5.5.0 is installed from the package registry into its own venv,
bench/.bench-venv-m2x (`pip install m2x==5.5.0 requests`; created by this
script when missing), and runs there as a subprocess (this same file with
--upstream) that reports its own CPU time: it is never imported through
pyonep_fast.compat. It talks to the embedded server through its
constructor's endpoint argument (spec m2x.md §2.1).

Both clients get the same input, built before timing: a list of N
{"timestamp": datetime, "value": float} dicts. Rows (client CPU = the
client process's CPU time; the server runs in its own process):
  post N values to one stream   ours: one post_values call (it splits the
                                list within the server's limits); m2x:
                                post_values of 100,000-value slices (the
                                server refuses more per request, as the
                                hosted API refused large bodies)
  read the N values back        10,000 per request, newest first
  stats, sampling               over the N values (sampling: 1 h buckets)
  add_value x --single          one value per call, CPU per call
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM_VENV = os.path.join(HERE, ".bench-venv-m2x")
UPSTREAM_REQUIREMENTS = ["m2x==5.5.0", "requests"]
SERVER_SLICE = 100_000   # the embedded server's most values per request
READ_PAGE = 10_000       # the most values one read returns
START = datetime.datetime(2016, 1, 1)


def points(n):
    """The input of both clients: n values 10 ms apart."""
    step = datetime.timedelta(milliseconds=10)
    return [{"timestamp": START + i * step, "value": i * 0.5} for i in range(n)]


def timed(function):
    """(result, wall seconds, CPU seconds of this process) of function()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def read_all(stream, n):
    """Every value of the stream, READ_PAGE per request, newest first; how many."""
    got, end = 0, None
    while True:
        params = {"limit": READ_PAGE}
        if end:
            params["end"] = end
        page = stream.values(**params)["values"]
        got += len(page)
        if len(page) < READ_PAGE:
            return got
        oldest = datetime.datetime.strptime(page[-1]["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        end = (oldest - datetime.timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def run_client(client, stream_name, n, single, post):
    """The rows of one client (the same code for both); post(stream, values)."""
    values = points(n)
    device = client.create_device(name=f"bench-{stream_name}", visibility="private")
    stream = device.create_stream(stream_name)
    rows = {}
    _, rows["post"], rows["post_cpu"] = timed(lambda: post(stream, values))
    count, rows["read"], rows["read_cpu"] = timed(lambda: read_all(stream, n))
    assert count == n, (stream_name, count)
    stats, rows["stats"], rows["stats_cpu"] = timed(stream.stats)
    assert stats["stats"]["count"] == n, stats
    _, rows["sampling"], rows["sampling_cpu"] = timed(lambda: stream.sampling(3600, type="avg", limit=1000))
    single_stream = device.create_stream(f"{stream_name}_single")
    _, rows["single"], rows["single_cpu"] = timed(lambda: [single_stream.add_value(i * 0.5) for i in range(single)])
    return rows


def upstream_main(url, key, n, single):
    """In the m2x 5.5.0 venv: the real client's rows, as one JSON line."""
    from m2x.client import M2XClient

    import m2x
    assert m2x.version == "5.5.0" and "pyonep_fast" not in sys.modules

    def post(stream, values):
        for first in range(0, len(values), SERVER_SLICE):
            stream.post_values(values[first:first + SERVER_SLICE])

    rows = run_client(M2XClient(key, endpoint=url), "upstream", n, single, post)
    print(json.dumps(rows))


def ensure_upstream_venv():
    """bench/.bench-venv-m2x's python, with m2x 5.5.0 and requests from the registry."""
    python = os.path.join(UPSTREAM_VENV, "bin", "python")
    check = [python, "-c", "import m2x, requests; assert m2x.version == '5.5.0'"]
    if os.path.exists(python) and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing m2x 5.5.0 and requests into {UPSTREAM_VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", UPSTREAM_VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *UPSTREAM_REQUIREMENTS], check=True)
    subprocess.run(check, check=True)
    return python


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=1000)
    parser.add_argument("--upstream", nargs=2, metavar=("URL", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["TZ"] = "UTC"   # both clients read naive datetimes as local time (m2x's to_utc)
    time.tzset()
    if args.upstream:
        return upstream_main(*args.upstream, args.values, args.single)

    import urllib3

    from pyonep_fast.m2x.client import M2XClient
    from pyonep_fast.server import spawn

    python = ensure_upstream_venv()
    n = args.values
    with tempfile.TemporaryDirectory() as folder, spawn(db=os.path.join(folder, "bench.db")) as server:
        key = json.loads(urllib3.PoolManager().request("POST", server.url + "/_fixtures/m2x/accounts").data)["key"]
        ours_client = M2XClient(key, endpoint=server.url)
        ours = run_client(ours_client, "ours", n, args.single, lambda stream, values: stream.post_values(values))
        ours_client.api.close()
        answer = subprocess.run([python, os.path.abspath(__file__), "--values", str(n), "--single", str(args.single),
                                 "--upstream", server.url, key], capture_output=True, text=True, env=os.environ)
        if answer.returncode:
            sys.exit(f"m2x 5.5.0 run failed:\n{answer.stderr}")
        upstream = json.loads(answer.stdout.splitlines()[-1])

    print(f"M2X client, ours vs m2x 5.5.0 (requests), {n:,} values, same embedded server, same run")
    print(f"{'':34} {'ours wall':>10} {'ours CPU':>10} {'m2x wall':>10} {'m2x CPU':>10} {'CPU ratio':>10} "
          f"{'wall ratio':>11}")
    labels = {"post": f"post {n:,} values", "read": f"read {n:,} back ({READ_PAGE:,}/request)",
              "stats": f"stats over {n:,}", "sampling": f"sampling over {n:,} (1 h)",
              "single": f"add_value x {args.single:,}, per call"}
    for row, label in labels.items():
        per = args.single if row == "single" else 1
        unit, scale = ("us", 1e6) if row == "single" else ("ms", 1e3)
        figures = [ours[row], ours[f"{row}_cpu"], upstream[row], upstream[f"{row}_cpu"]]
        shown = " ".join(f"{value / per * scale:7.1f} {unit}" for value in figures)
        cpu_ratio = upstream[f"{row}_cpu"] / ours[f"{row}_cpu"] if ours[f"{row}_cpu"] else float("inf")
        print(f"{label:34} {shown} {cpu_ratio:9.1f}x {upstream[row] / ours[row]:10.1f}x")


if __name__ == "__main__":
    main()
