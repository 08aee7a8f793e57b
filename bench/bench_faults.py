"""kill -9 at seeded moments of a mixed workload, run long (issue 9).

The harness is tests/fault_harness.py (tests/server/test_faults.py runs it
for three kills): worker threads create string and numeric dataports, record
points (up to 50,000 per call, strings up to 60,000 characters), write,
clone clients with history, drop, and upload provisioning content, while the
server (a `pyonep-fast serve` subprocess) is killed with SIGKILL after a
seeded number of acknowledged operations; after each restart every
acknowledged change must be served and `PRAGMA integrity_check` must be ok.

    python bench/bench_faults.py                 # 50 kills
    python bench/bench_faults.py --kills 200 --seed 7 --workers 4

Prints one line per kill and the totals: kills, acknowledged operations,
lost (must be 0), phantoms (stored but never sent, or half a call: must be 0).
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import fault_harness  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--big-points", type=int, default=50000, help="points in the largest record call")
    args = parser.parse_args()
    started = time.monotonic()

    def report(kill, outcome):
        print(f"kill {kill:4d}  acknowledged {outcome.acknowledged:7d}  lost {len(outcome.lost)}  "
              f"phantoms {len(outcome.phantoms)}  refused {len(outcome.refusals)}  "
              f"{time.monotonic() - started:7.1f} s", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        outcome = fault_harness.run(os.path.join(folder, "faults.db"), args.seed, args.kills, workers=args.workers,
                                    acks_per_round=(10, 400), big_points=args.big_points, report=report)
        size = sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))
    for kind in ("lost", "phantoms", "refusals", "integrity"):
        for line in getattr(outcome, kind)[:20]:
            print(f"{kind}: {line}")
    print(f"kills {outcome.kills}, acknowledged operations {outcome.acknowledged}, lost {len(outcome.lost)}, "
          f"phantoms {len(outcome.phantoms)}, refused {len(outcome.refusals)}, integrity_check not ok "
          f"{len(outcome.integrity)}; database {size / 1e6:.0f} MB; {time.monotonic() - started:.0f} s")
    return 1 if outcome.lost or outcome.phantoms or outcome.refusals or outcome.integrity else 0


if __name__ == "__main__":
    sys.exit(main())
