"""Cost of checking references when they are evaluated (issue 9 item 5).

    python bench/bench_references.py [--points 100000] [--repeat 3]

Prints the best time of one `recordbatch` of --points points into an integer
dataport whose preprocess adds another dataport's latest value (a reference)
and that one other dataport subscribes to (a second reference): both are
checked against the access rules on every batch. The server is an in-process
EmbeddedServer on an in-memory store.
"""
import argparse
import itertools

import orjson
import urllib3

from pyonep_fast.server import EmbeddedServer
from timing import best

RPC = "/onep:v1/rpc/process"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with EmbeddedServer(db=":memory:") as server, urllib3.PoolManager() as http:
        def call(procedure, *arguments):
            body = orjson.dumps({"auth": {"cik": cik}, "calls": [{"id": 1, "procedure": procedure,
                                                                   "arguments": list(arguments)}]})
            entry, = orjson.loads(http.request("POST", server.url + RPC, body=body,
                                               headers={"Content-Type": "application/json"}).data)
            assert entry["status"] == "ok", entry
            return entry.get("result")

        cik = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]
        operand = call("create", "dataport", {"format": "integer"})
        call("write", operand, 1, {})
        port = call("create", "dataport", {"format": "integer", "preprocess": [["add", operand]]})
        call("create", "dataport", {"format": "integer", "subscribe": port})
        batches = itertools.count(1)

        def one_batch():
            first = next(batches) * 10 * options.points
            call("recordbatch", port, [[first + i, i] for i in range(options.points)])

        took = best(one_batch, options.repeat)
    print(f"recordbatch of {options.points:,} points through a preprocess reference and a subscriber: "
          f"{took * 1000:.0f} ms ({options.points / took:,.0f} points/s)")


if __name__ == "__main__":
    main()
