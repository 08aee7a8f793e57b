"""Encoding a recordbatch body `[[ts,v],...]`: stdlib json, orjson, our C Series, its Python twin.

    python bench/bench_encode.py [--points 1000000] [--repeat 5]

Prints points/s for each encoder (best of --repeat runs) and the ratio to
orjson, for two kinds of values: sensor-like decimals (two places) and
random full-precision doubles. json and orjson encode the points as Python
lists [[ts, v], ...] built beforehand (not timed); our C Series is timed
from int64 + float64 arrays (array.array and NumPy) to the finished bytes:
append + encode, what a caller pays. Every body is checked: equal bytes to
json.dumps (same float text: repr) and read back by orjson bit-exact.
Then format_double against repr: per call, and inside the encoder. No assertions on time: the
numbers depend on the machine (and on whatever else shares it).
"""
import argparse
import json
import math
import time
from array import array

import numpy as np
import orjson

from pyonep_fast._core.jsonw import c_format_double, py_format_double
from pyonep_fast._core.series import CSeries, PySeries


def best_times(functions, repeat):
    """The best time of each function; the runs take turns, so a busy
    spell on a shared machine hits all of them alike."""
    best = [math.inf] * len(functions)
    for _ in range(repeat):
        for index, function in enumerate(functions):
            start = time.perf_counter()
            function()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def make_values(kind, n, rng):
    if kind == "sensor":
        hours = np.arange(n) / 3600.0
        return np.round(20 + 5 * np.sin(hours) + rng.normal(0, 0.5, n), 2)
    return rng.random(n) * 100


def check_body(body, points, timestamps, values):
    assert body == json.dumps(points, separators=(",", ":")).encode(), "not the bytes json.dumps writes"
    decoded = np.array(orjson.loads(body), dtype=object)
    assert np.array_equal(decoded[:, 0].astype(np.int64), timestamps)
    read_back = decoded[:, 1].astype(np.float64)
    assert np.array_equal(read_back.view(np.uint64), values.view(np.uint64)), "floats not bit-exact"


def c_series(timestamps, values):
    series = CSeries("float")
    series.append(timestamps, values)
    return series.encode_entries()


def bench_values(kind, n, repeat, rng):
    timestamps = np.arange(1_420_000_000, 1_420_000_000 + n, dtype=np.int64)
    values = make_values(kind, n, rng)
    ts_array, value_array = array("q", timestamps.tobytes()), array("d", values.tobytes())
    points = [[t, v] for t, v in zip(timestamps.tolist(), values.tolist())]

    body = c_series(ts_array, value_array)
    check_body(body, points, timestamps, values)
    check_body(c_series(timestamps, values), points, timestamps, values)
    twin_n = max(1, n // 10)  # the twin is slow: time a tenth, report per point
    twin_body = _twin(ts_array[:twin_n], value_array[:twin_n])
    assert twin_body == json.dumps(points[:twin_n], separators=(",", ":")).encode()

    encoded = CSeries("float")
    encoded.append(ts_array, value_array)
    fast = [
        ("orjson.dumps (lists)", n, lambda: orjson.dumps(points)),
        ("C Series: array('q')+array('d')", n, lambda: c_series(ts_array, value_array)),
        ("C Series: NumPy int64+float64", n, lambda: c_series(timestamps, values)),
        ("C Series: encode only", n, encoded.encode_entries),
    ]
    slow = [  # seconds per run: timed once
        ("json.dumps (stdlib, lists)", n, lambda: json.dumps(points, separators=(",", ":"))),
        ("Python twin (PySeries)", twin_n, lambda: _twin(ts_array[:twin_n], value_array[:twin_n])),
    ]
    times = best_times([function for _, _, function in fast], repeat) + best_times([f for _, _, f in slow], 1)
    rows = [(name, count, seconds) for (name, count, _), seconds in zip(fast + slow, times)]
    orjson_rate = n / rows[0][2]
    print(f"\n{kind} values ({values[:3].tolist()} ...), {n:,} points, {len(body) / n:.1f} bytes/point")
    print(f"  {'encoder':36} {'M points/s':>11} {'vs orjson':>10}")
    for name, count, seconds in rows:
        rate = count / seconds
        print(f"  {name:36} {rate / 1e6:11.2f} {rate / orjson_rate:9.2f}x")


def _twin(timestamps, values):
    series = PySeries("float")
    series.append(timestamps, values)
    return series.encode_entries()


def bench_format_double(n, repeat, rng):
    for kind in ("sensor", "random"):
        values = make_values(kind, n, rng).tolist()
        rows = [("repr(float)", repr), ("format_double (C, per call)", c_format_double),
                ("format_double (Python twin)", py_format_double)]
        print(f"\nformatting {n:,} {kind} doubles, one per call:")
        times = best_times([lambda function=function: list(map(function, values)) for _, function in rows], repeat)
        for (name, _), seconds in zip(rows, times):
            print(f"  {name:36} {seconds / n * 1e9:8.1f} ns/value")
        # Inside the C encoder, without the per-call cost of crossing into C:
        # the same points with these values minus with int 0 values.
        timestamps = np.arange(n, dtype=np.int64) + 1_420_000_000
        floats, ints = CSeries("float"), CSeries("int")
        floats.append(timestamps, np.array(values))
        ints.append(timestamps, np.zeros(n, dtype=np.int64))
        float_time, int_time = best_times([floats.encode_entries, ints.encode_entries], repeat)
        per_double = (float_time - int_time) / n
        print(f"  {'C formatter inside the encoder':36} {per_double * 1e9:8.1f} ns/value"
              " (float body minus int body)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(2015)
    print("best of", args.repeat, "runs; the machine may be shared, so compare ratios from one run")
    for kind in ("sensor", "random"):
        bench_values(kind, args.points, args.repeat, rng)
    bench_format_double(min(args.points, 200_000), args.repeat, rng)


if __name__ == "__main__":
    main()
