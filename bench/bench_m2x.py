"""M2X: post_values of N values to one stream, ours against a requests +
json client that does what m2x 5.5.0 does (bench/baseline_m2x.py), in the
same run against one `pyonep-fast serve` subprocess (temporary database,
durable commits).

    python bench/bench_m2x.py [--values 100000] [--single 1000] [--repeat 3]

Rows (best of --repeat; client CPU = this process's CPU time, the server
runs in its own process):
  post_values, list of {"timestamp": datetime, "value": float}   both clients
  post_values, NumPy (datetime64, float64) arrays                 ours only
  single add_value calls, CPU per call                            both clients
  server: values stored per second (wall time of ours' post, NumPy input)
  reading back the newest 10,000; stats and sampling over all N
"""
import argparse
import datetime
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from baseline_m2x import BaselineM2X  # noqa: E402

from pyonep_fast.m2x.client import M2XClient  # noqa: E402
from pyonep_fast.server import spawn  # noqa: E402


def measure(function, repeat):
    """(best wall seconds, best client CPU seconds) of function(k), k the run."""
    walls, cpus = [], []
    for run in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        function(run)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.values
    start = datetime.datetime(2015, 1, 1)
    points = [{"timestamp": start + datetime.timedelta(milliseconds=i), "value": i * 0.5} for i in range(n)]
    stamps = np.datetime64("2016-01-01", "ms") + np.arange(n, dtype=np.int64) * np.timedelta64(1, "ms")
    numbers = np.arange(n, dtype=np.float64) * 0.5
    with tempfile.TemporaryDirectory() as folder, spawn(db=os.path.join(folder, "bench.db")) as server:
        ours = M2XClient("bench-key", endpoint=server.url)
        baseline = BaselineM2X("bench-key", server.url)
        device = ours.create_device(name="bench", visibility="private")
        # every run posts into a stream of its own: new values, not overwrites
        streams = {(kind, run): device.create_stream(f"{kind}{run}")
                   for kind in ("ours", "ours_np", "baseline") for run in range(args.repeat)}
        rows = []
        wall, cpu = measure(lambda run: streams["ours", run].post_values(points), args.repeat)
        base_wall, base_cpu = measure(lambda run: baseline.post_values(device.id, f"baseline{run}", points),
                                      args.repeat)
        rows.append((f"post_values {n:,} (list of dicts)", wall, cpu, base_wall, base_cpu))
        np_wall, np_cpu = measure(lambda run: streams["ours_np", run].post_values((stamps, numbers)), args.repeat)
        rows.append((f"post_values {n:,} (NumPy arrays)", np_wall, np_cpu, base_wall, base_cpu))
        single_stream = device.create_stream("single_ours")
        wall, cpu = measure(lambda run: [single_stream.add_value(i) for i in range(args.single)], 1)
        base_wall, base_cpu = measure(
            lambda run: [baseline.add_value(device.id, "single_baseline", i) for i in range(args.single)], 1)
        per = args.single
        rows.append((f"add_value x {per:,}, per call", wall / per, cpu / per, base_wall / per, base_cpu / per))

        print(f"{'':40} {'ours wall':>11} {'ours CPU':>11} {'m2x-like wall':>14} {'m2x-like CPU':>13} "
              f"{'CPU ratio':>10}")
        for label, wall, cpu, base_wall, base_cpu in rows:
            unit, scale = ("us", 1e6) if "per call" in label else ("ms", 1e3)
            print(f"{label:40} {wall * scale:8.1f} {unit} {cpu * scale:8.1f} {unit} {base_wall * scale:11.1f} {unit}"
                  f" {base_cpu * scale:10.1f} {unit} {base_cpu / cpu:9.1f}x")
        for (kind, run), stream in streams.items():
            count = stream.stats()["stats"]["count"]
            assert count == n, (kind, run, count)
        print(f"server: {n / np_wall:,.0f} values/s stored durably (ours, NumPy input, wall time of the post)")
        stream_np = streams["ours_np", 0]
        read_wall, _ = measure(lambda run: stream_np.values(limit=10_000), args.repeat)
        stats_wall, _ = measure(lambda run: stream_np.stats(), args.repeat)
        sampling_wall, _ = measure(lambda run: stream_np.sampling(1, type="avg", limit=1000), args.repeat)
        print(f"read newest 10,000: {read_wall * 1e3:.1f} ms; stats over {n:,}: {stats_wall * 1e3:.1f} ms; "
              f"sampling (1 s buckets) over {n:,}: {sampling_wall * 1e3:.1f} ms (wall, round trip)")
        baseline.close()
        ours.api.close()


if __name__ == "__main__":
    main()
