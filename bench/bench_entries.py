"""The server's ingest parser: a recordbatch entries array of 1,000,000
points [[ts, v], ...] into columns.

    python bench/bench_entries.py
    python bench/bench_entries.py --points 5000000 --repeat 3

Ours (C: parse alone, and parse + normalize for a float port; the Python
twin once) against orjson.loads and json.loads of the same bytes (which
only build Python lists, three objects per point, before any typing).
Values look like sensor readings (2 decimals); a second input has integer
values. Prints ms, points/s and the ratio to orjson.loads; asserts nothing.
"""
import argparse
import json
import os
import random
import sys

import orjson

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyonep_fast._core.entries import CEntries, PyEntries  # noqa: E402
from timing import best  # noqa: E402

START = 1_421_906_172


def run(title, text, points, port, repeat):
    c_entries = CEntries()

    def parse_and_normalize():
        c_entries.parse(text)
        c_entries.normalize(port, START + points)

    rows = [
        ("ours C: parse", best(lambda: c_entries.parse(text), repeat)),
        (f"ours C: parse + normalize ({port} port)", best(parse_and_normalize, repeat)),
        ("ours Python twin: parse", best(lambda: PyEntries().parse(text), 1)),
        ("orjson.loads", best(lambda: orjson.loads(text), max(1, repeat // 2))),
        ("json.loads", best(lambda: json.loads(text), 1)),
    ]
    assert len(c_entries) == points
    reference = dict(rows)["orjson.loads"]
    print(f"\n{title}: {points:,} points, {len(text) / 1e6:.1f} MB")
    for name, seconds in rows:
        print(f"  {name:<40} {seconds * 1e3:9.1f} ms  {points / seconds / 1e6:8.2f} M points/s  "
              f"{reference / seconds:7.2f}x orjson.loads")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, orjson {orjson.__version__}, best of {args.repeat} "
          f"(machine shared with other jobs: compare ratios, not absolute times)")
    rng = random.Random(7)
    floats = orjson.dumps([[START + k, round(rng.uniform(-40, 60), 2)] for k in range(args.points)])
    run("Float readings", floats, args.points, "float", args.repeat)
    ints = orjson.dumps([[START + k, rng.randrange(100000)] for k in range(args.points)])
    run("Integer readings", ints, args.points, "int", args.repeat)


if __name__ == "__main__":
    main()
