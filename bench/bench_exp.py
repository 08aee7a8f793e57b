"""EXP figures (issue 14), the SDK against a `pyonep-fast serve` subprocess
(temporary database file) on loopback.

    python bench/bench_exp.py [--listeners 1,10,100] [--rounds 200] [--logins 1000]
                              [--devices 10000] [--gets 1000] [--only network|logins|rest]

network: N listening SDK instances (devices, their sockets on the SDK's one
    network thread, plus one responder thread each that waits on its
    listener and responds); a user instance broadcasts on their channel.
    Round trip of one broadcast = from the broadcast request's start until
    the last listener's respond() has returned, for every round (the
    request is held open long enough for the server to collect them all;
    rounds where it did not are counted, and their trips kept).
    p50/p99 over --rounds broadcasts, and the CPU time one broadcast costs
    the server process and this process (every SDK thread): on a loaded
    machine the latencies move with the load, the CPU much less.
logins: --logins device logins (JWT signed with the secret, POST
    /api/auth/login, a token back) on one instance's keep-alive connection;
    then as many full `start(enable_network=False)` + `stop()`.
rest: find_devices over --devices devices, and --gets get_device calls:
    wall time and client CPU (this thread's CPU time) per call.
"""
import argparse
import os
import sys
import tempfile
import threading
import time

import pyonep_fast.exp as exp_sdk
from pyonep_fast.server import spawn

DEVICE = {"uuid": "test-uuid", "secret": "test-secret"}
USER = {"username": "test@goexp.io", "password": "test-Password1", "organization": "scala"}


def process_cpu(pid):
    """CPU seconds process `pid` has run so far, all its threads, to the
    nanosecond (Linux /proc/PID/task/TID/schedstat; /proc/PID/stat counts
    in 10 ms ticks)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as schedstat:
                total += int(schedstat.read().split()[0])
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return total / 1e9


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bench_network(url, server_pid, listeners, rounds):
    instances = [exp_sdk.start(host=url, **DEVICE) for _ in range(listeners)]
    broadcaster = exp_sdk.start(host=url, enable_network=False, **USER)
    name = f"bench-{listeners}"
    queues = [instance.get_channel(name).listen("ping", timeout=30) for instance in instances]
    responded = threading.Condition()
    done_at = {}  # round -> [time each listener's respond() returned]
    stopping = threading.Event()

    def respond(index, listener):
        while not stopping.is_set():
            broadcast = listener.wait(0.2)
            if broadcast is not None:
                broadcast.respond(index)
                with responded:
                    done_at.setdefault(broadcast.payload, []).append(time.perf_counter())
                    responded.notify_all()

    threads = [threading.Thread(target=respond, args=(i, q), daemon=True) for i, q in enumerate(queues)]
    for thread in threads:
        thread.start()
    channel = broadcaster.get_channel(name)
    hold = max(0.1, 0.01 * listeners)  # seconds the server collects responses
    trips, late, lost = [], 0, 0
    try:
        channel.broadcast("ping", -1, timeout=hold)  # warm-up: connections, code paths
        server_cpu, own_cpu = process_cpu(server_pid), time.process_time()
        for round_ in range(rounds):
            started = time.perf_counter()
            collected = channel.broadcast("ping", round_, timeout=hold)
            late += len(collected) != listeners  # some respond() came after the hold
            # every round counts, late ones too: until the last respond() returned
            with responded:
                if responded.wait_for(lambda: len(done_at.get(round_, ())) == listeners, timeout=10):
                    trips.append(max(done_at.pop(round_)) - started)
                else:
                    lost += 1
        server_cpu, own_cpu = process_cpu(server_pid) - server_cpu, time.process_time() - own_cpu
    finally:
        stopping.set()
        for thread in threads:
            thread.join()
        exp_sdk.stop()
    ms = [trip * 1000 for trip in trips]
    print(f"network  {listeners:4d} listeners: round trip p50 {percentile(ms, 0.5):7.2f} ms  "
          f"p99 {percentile(ms, 0.99):7.2f} ms  ({len(ms)} rounds; {late} not all collected within the "
          f"{hold * 1000:.0f} ms hold, {lost} lost)")
    print(f"network  {listeners:4d} listeners: CPU per broadcast: server {server_cpu / rounds * 1e3:6.2f} ms, "
          f"SDK process {own_cpu / rounds * 1e3:6.2f} ms")


def bench_logins(url, count):
    exp = exp_sdk.start(host=url, enable_network=False, **DEVICE)
    login = exp._sdk.authenticator._login
    started = time.perf_counter()
    for _ in range(count):
        login()
    elapsed = time.perf_counter() - started
    exp.stop()
    print(f"logins   {count} device logins: {elapsed:.3f} s, {count / elapsed:,.0f} logins/s")
    started = time.perf_counter()
    for _ in range(count):
        exp_sdk.start(host=url, enable_network=False, **DEVICE).stop()
    elapsed = time.perf_counter() - started
    print(f"logins   {count} start(enable_network=False)+stop(): {elapsed:.3f} s, {count / elapsed:,.0f} starts/s")


def bench_rest(url, devices, gets):
    exp = exp_sdk.start(host=url, enable_network=False, **USER)
    existing = exp.find_devices({"limit": 0}).total
    for n in range(existing, devices):
        exp.create_device({"name": f"bench device {n}", "n": n})
    uuids = [device.uuid for device in exp.find_devices({"limit": gets})]
    for label, call, count in (
            (f"find_devices over {devices:,} devices", lambda: exp.find_devices(), 10),
            (f"get_device x {len(uuids):,}", None, len(uuids))):
        cpu, wall = time.thread_time(), time.perf_counter()
        if call is not None:
            for _ in range(count):
                found = call()
            assert found.total >= devices
        else:
            for uuid in uuids:
                exp.get_device(uuid)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        print(f"rest     {label}: {wall / count * 1e3:8.3f} ms wall, {cpu / count * 1e6:9.1f} us client CPU per call")
    exp.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listeners", default="1,10,100")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--gets", type=int, default=1000)
    parser.add_argument("--only", choices=("network", "logins", "rest"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, spawn(db=os.path.join(tmp, "bench.db")) as server:
        if args.only in (None, "network"):
            for listeners in (int(n) for n in args.listeners.split(",")):
                bench_network(server.url, server.process.pid, listeners, args.rounds)
        if args.only in (None, "logins"):
            bench_logins(server.url, args.logins)
        if args.only in (None, "rest"):
            bench_rest(server.url, args.devices, args.gets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
