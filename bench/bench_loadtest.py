"""Load-generator capacity: single-call `write` requests per second per core
with pyonep_fast's OnepUser, beside Locust's FastHttpUser and HttpUser
posting the same JSON-RPC body built by hand.

One `pyonep-fast serve --null` (every call acknowledged, nothing stored)
serves every run. Each run is a fresh Locust process (one per user class,
alternating, several rounds) with --users users and no wait time for
--seconds; it reports requests, failures and its own CPU seconds (user +
system) over the run. Requests per CPU second is what one load-generator
core sustains; the machine is shared, so that figure, not the wall-clock
rate, is the one to compare.

    python bench/bench_loadtest.py                 # 3 rounds of 10 s, 50 users
    python bench/bench_loadtest.py --rounds 1 --seconds 5 --kinds OnepUser FastHttpUser
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CIK = "5de0cfcf7b5bed2ea7a8aa00112233445566778f"
RID = "0123456789abcdef0123456789abcdef01234567"
KINDS = ("OnepUser", "FastHttpUser", "HttpUser")


def child(kind, url, users, seconds):
    """One Locust run in this (fresh) process; prints its figures as JSON."""
    import itertools
    import random
    import resource

    import gevent
    from locust import constant, task
    from locust.contrib.fasthttp import FastHttpUser
    from locust.env import Environment
    from locust import HttpUser

    from pyonep_fast.loadtest import OnepUser

    ids = itertools.count()

    def body():
        # built by hand, as a Locust user without our client would
        return ('{"auth":{"cik":"%s"},"calls":[{"id":%d,"procedure":"write","arguments":["%s",%r]}]}'
                % (CIK, next(ids), RID, random.random()))

    headers = {"Content-Type": "application/json; charset=utf-8"}

    class Onep(OnepUser):
        wait_time = constant(0)

        @task
        def write(self):
            self.client.write(CIK, RID, random.random())

    class Fast(FastHttpUser):
        wait_time = constant(0)

        @task
        def write(self):
            self.client.post("/onep:v1/rpc/process", data=body(), headers=headers, name="write")

    class Http(HttpUser):
        wait_time = constant(0)

        @task
        def write(self):
            self.client.post("/onep:v1/rpc/process", data=body(), headers=headers, name="write")

    user_class = {"OnepUser": Onep, "FastHttpUser": Fast, "HttpUser": Http}[kind]
    environment = Environment(user_classes=[user_class], host=url)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=users * 10)
    gevent.sleep(1.0)  # users spawned, connections up
    environment.stats.reset_all()
    before = resource.getrusage(resource.RUSAGE_SELF)
    gevent.sleep(seconds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    total = environment.stats.total
    requests, failures = total.num_requests, total.num_failures
    runner.quit()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"kind": kind, "requests": requests, "failures": failures, "seconds": seconds,
                      "cpu": cpu}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=KINDS, help="user classes to run")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.url, args.users, args.seconds)

    from pyonep_fast.server import spawn

    kinds = args.kinds
    results = {kind: [] for kind in kinds}
    with spawn(db=":memory:", null=True) as server:
        for round_number in range(args.rounds):
            for kind in kinds:
                done = subprocess.run(
                    [sys.executable, os.path.abspath(__file__), "--child", kind, "--url", server.url,
                     "--users", str(args.users), "--seconds", str(args.seconds)],
                    capture_output=True, text=True, timeout=args.seconds + 120)
                if done.returncode != 0:
                    sys.exit(f"{kind} run failed:\n{done.stderr}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                results[kind].append(result)
                print(f"round {round_number + 1} {kind:13s} {result['requests'] / result['seconds']:8.0f} req/s  "
                      f"{result['requests'] / result['cpu']:8.0f} req/CPU-s  failures {result['failures']}",
                      flush=True)
    print(f"\nmedian of {args.rounds} rounds, {args.users} users, {args.seconds:g} s each, "
          f"single-call write to `pyonep-fast serve --null`:")
    per_core = {}
    for kind in kinds:
        runs = results[kind]
        per_core[kind] = statistics.median(r["requests"] / r["cpu"] for r in runs)
        rate = statistics.median(r["requests"] / r["seconds"] for r in runs)
        print(f"  {kind:13s} {rate:8.0f} req/s wall  {per_core[kind]:8.0f} req/s per core  "
              f"{1e6 / per_core[kind]:6.0f} us CPU per request")
    for other in ("FastHttpUser", "HttpUser"):
        if "OnepUser" in per_core and other in per_core:
            print(f"  OnepUser / {other}: {per_core['OnepUser'] / per_core[other]:.2f}x per core")


if __name__ == "__main__":
    main()
