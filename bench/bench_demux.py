"""A 10,000-call round of the RPC client: assembling the request body, and
demultiplexing the response back onto the calls.

    python bench/bench_demux.py
    python bench/bench_demux.py --calls 20000 --repeat 20

Request: 10,000 deferred `read` calls (arguments already encoded, as the
client queues them) assembled into one body by our Batch (C, Python twin),
against json.dumps (what pyonep sends: default separators) and orjson.dumps
of the equivalent dict.

Response: one entry per call, {"id":..,"status":"ok","result":[[t, v]]},
in shuffled order. Ours (C, Python twin): demux() alone, then demux() plus
mapping every call to (isok, value) as the client returns them. Against:
json.loads/orjson.loads plus a dict from id to call, and pyonep 0.13.8's
matcher (json.loads, then for each entry a scan of every call, O(n*m); run
once, it takes seconds).

Prints milliseconds (best of --repeat) and ratios; asserts nothing.
"""
import argparse
import json
import os
import random
import sys

import orjson

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyonep_fast._core.batch import CBatch, PyBatch  # noqa: E402
from pyonep_fast._core.demux import OK, CDemux, PyDemux  # noqa: E402
from timing import best  # noqa: E402

AUTH = {"cik": "5de0cfcf7b5bed2ea7a8aa00112233445566778f"}
FIRST_ID = 1000


def report(title, rows, reference):
    print(f"\n{title}")
    base = dict(rows)[reference]
    for name, seconds in rows:
        print(f"  {name:<48} {seconds * 1e3:10.2f} ms   {seconds / base:8.2f}x {reference}")


def calls_of(n):
    return [("read", [{"alias": f"sensor{k % 500}"}, {"limit": 1, "sort": "desc"}]) for k in range(n)]


def response_of(n, rng):
    entries = [{"id": FIRST_ID + k, "status": "ok", "result": [[1421906172 + k, round(rng.uniform(0, 100), 2)]]}
               for k in range(n)]
    rng.shuffle(entries)
    return orjson.dumps(entries)


def bench_batch(n, repeat):
    calls = calls_of(n)
    encoded = [(procedure, orjson.dumps(arguments)) for procedure, arguments in calls]
    auth_json = orjson.dumps(AUTH)
    batches = {}
    for name, cls in (("ours C", CBatch), ("ours Python", PyBatch)):
        batch = cls()
        for procedure, arguments in encoded:
            batch.add(procedure, arguments)
        batches[name] = batch
    def encode(name):      # one body for all calls (past the default 5,000 per body)
        return batches[name].encode(auth_json, FIRST_ID, max_calls=n)[0]

    body = encode("ours C")
    assert body == encode("ours Python")
    as_dict = {"auth": AUTH, "calls": [{"id": FIRST_ID + k, "procedure": p, "arguments": a}
                                       for k, (p, a) in enumerate(calls)]}
    assert orjson.loads(body) == as_dict

    def queue(cls):
        batch = cls()
        for procedure, arguments in encoded:
            batch.add(procedure, arguments)

    rows = [
        ("ours C: encode() the queued batch", best(lambda: encode("ours C"), repeat)),
        ("ours Python: encode() the queued batch", best(lambda: encode("ours Python"), repeat)),
        ("json.dumps of the equivalent dict (pyonep)", best(lambda: json.dumps(as_dict), repeat)),
        ("orjson.dumps of the equivalent dict", best(lambda: orjson.dumps(as_dict), repeat)),
        ("ours C: add() the calls (once per call, for scale)", best(lambda: queue(CBatch), repeat)),
    ]
    report(f"Assembling the body of a {n:,}-call batch ({len(body):,} bytes)", rows,
           "orjson.dumps of the equivalent dict")
    return calls


def outcomes(answer):
    """(isok, value) per call, as the client returns them, with the bulk
    accessors (one orjson call for all results)."""
    return [(True, result) if state == OK else (False, answer.status(k))
            for k, (state, result) in enumerate(zip(answer.states(), answer.results()))]


def outcomes_one_by_one(answer):
    """The same through the per-call accessors."""
    return [(True, answer.result(k)) if state == OK else (False, answer.status(k))
            for k, state in enumerate(answer.states())]


def by_id(decoded, calls):
    call_of = {FIRST_ID + k: call for k, call in enumerate(calls)}
    return [(call_of.get(entry["id"]), entry["status"] == "ok", entry.get("result")) for entry in decoded]


def pyonep_match(body, calls):
    """pyonep 0.13.8's _callJsonRPC: every response entry scans every call."""
    requests = [{"id": FIRST_ID + k, "procedure": p, "arguments": a} for k, (p, a) in enumerate(calls)]
    results = []
    for response in json.loads(body):
        request = None
        for r in requests:
            if r["id"] == response["id"]:
                request = r
        if "status" in response:
            ok = response["status"] == "ok"
            results.append((request, ok, response.get("result", "ok") if ok else response["status"]))
    return results


def bench_demux(n, calls, repeat, pyonep_runs):
    body = response_of(n, random.Random(3))
    mapped = outcomes(CDemux(body, FIRST_ID, n))
    assert mapped == outcomes(PyDemux(body, FIRST_ID, n)) == outcomes_one_by_one(CDemux(body, FIRST_ID, n))
    assert sorted(map(repr, mapped)) == sorted(repr((ok, value)) for _, ok, value in by_id(orjson.loads(body), calls))
    rows = [
        ("ours C: demux()", best(lambda: CDemux(body, FIRST_ID, n), repeat)),
        ("ours C: demux() + (isok, value) for every call", best(lambda: outcomes(CDemux(body, FIRST_ID, n)), repeat)),
        ("ours C: the same with result(k) call by call",
         best(lambda: outcomes_one_by_one(CDemux(body, FIRST_ID, n)), repeat)),
        ("ours Python: demux()", best(lambda: PyDemux(body, FIRST_ID, n), max(1, repeat // 4))),
        ("ours Python: demux() + (isok, value) per call",
         best(lambda: outcomes(PyDemux(body, FIRST_ID, n)), max(1, repeat // 4))),
        ("orjson.loads + dict id -> call", best(lambda: by_id(orjson.loads(body), calls), repeat)),
        ("json.loads + dict id -> call", best(lambda: by_id(json.loads(body), calls), repeat)),
    ]
    if pyonep_runs:
        rows.append(("pyonep: json.loads + nested-loop matching", best(lambda: pyonep_match(body, calls), pyonep_runs)))
    report(f"Demultiplexing a {n:,}-entry response ({len(body):,} bytes, shuffled order)", rows,
           "ours C: demux()")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--pyonep-runs", type=int, default=1,
                        help="runs of the O(n*m) pyonep matcher (0 skips it)")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, orjson {orjson.__version__}, best of {args.repeat} "
          f"(machine shared with other jobs: compare ratios, not absolute times)")
    calls = bench_batch(args.calls, args.repeat)
    bench_demux(args.calls, calls, args.repeat, args.pyonep_runs)


if __name__ == "__main__":
    main()
