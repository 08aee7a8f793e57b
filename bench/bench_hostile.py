"""Hostile requests against the embedded server (issue 9, item 7's table).

Each row starts a fresh `pyonep-fast serve` subprocess (so its peak RSS,
VmHWM in /proc, belongs to that row alone), sends one hostile request, and
meanwhile probes the server with a small RPC `read` (one point) in a loop:
the probe's worst latency is the event-loop stall the hostile request caused.

    python bench/bench_hostile.py                  # every row
    python bench/bench_hostile.py --only calls write
    python bench/bench_hostile.py --timeout 120    # give up on a request after 120 s

Rows:
  calls     1,000,000 calls {"id": N} in one 13 MB body
  write     a `write` whose value is a 200 MB string
  window    `read` selection givenwindow with limit 10**7 (on 10,000 points)
  serials   a 57 MB provisioning form adding serial numbers (sn[]=...)
  read      `read` of limit 10**7 over a 2,000,000-point series
  reads     one request of 12 reads of 100,000 string points of 1 KB each (1.2 GB of results)
  answer    one request of 2 reads of 1,000,000 float points each (a 60 MB answer)
  hdi       an HTTP Data Interface read of 1,000 aliases whose values quote to 60 KB each (60 MB)
  headers   500 connections that send part of their headers and then nothing;
            "open" is how many the server still holds after --hold seconds
  body      100 connections that send a provisioning form body a byte per second

Columns: time (until the answer, or until the server closed the slow
connections), worst and median probe latency while it ran, the server's peak
RSS, and the answer (HTTP status and the first bytes of the body).
"""
import argparse
import http.client
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

import orjson

from pyonep_fast.server import spawn

RPC = "/onep:v1/rpc/process"
JSON = {"Content-Type": "application/json; charset=utf-8"}
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
MODEL = "hostile"


class Target:
    """The spawned server, a tenant with one small dataport, and its vendor token."""

    def __init__(self, server):
        self.server = server
        parts = urlsplit(server.url)
        self.host, self.port = parts.hostname, parts.port
        status, body = self.request("GET", "/api/create?vendor")
        made = orjson.loads(body)
        self.cik, self.vendortoken = made["cik"], made["vendortoken"]
        self.dataport = self.call("create", "dataport", {"format": "integer"})
        self.call("record", self.dataport, [[t, t] for t in range(1, 10001)], {})

    def connection(self, timeout):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=600, whole=False):
        """(status, the body's first 200 bytes, after its size when longer; all of it when whole)."""
        connection = self.connection(timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            if whole:
                return response.status, response.read()
            head = response.read(200)
            size = len(head)
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                size += len(block)
            return response.status, head if size <= 200 else f"{size:,} bytes: ".encode() + head
        finally:
            connection.close()

    def rpc_body(self, calls):
        return orjson.dumps({"auth": {"cik": self.cik}, "calls": calls})

    def call(self, procedure, *arguments):
        result, = self.calls([(procedure, *arguments)])
        return result

    def calls(self, calls):
        """The results of [(procedure, *arguments)], run in one request."""
        status, body = self.request("POST", RPC, self.rpc_body([
            {"id": n, "procedure": procedure, "arguments": list(arguments)}
            for n, (procedure, *arguments) in enumerate(calls)]), JSON, whole=True)
        entries = orjson.loads(body)
        assert all(entry["status"] == "ok" for entry in entries), entries[:3]
        return [entry.get("result") for entry in entries]

    def peak_rss(self):
        with open(f"/proc/{self.server.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM")


class Probe:
    """Small requests in a loop on a keep-alive connection; their latencies."""

    def __init__(self, target):
        self.target = target
        self.body = target.rpc_body([{"id": 1, "procedure": "read", "arguments": [target.dataport, {}]}])
        self.latencies = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        connection = self.target.connection(timeout=3600)
        while not self.stop.is_set():
            started = time.perf_counter()
            connection.request("POST", RPC, body=self.body, headers=JSON)
            connection.getresponse().read()
            self.latencies.append(time.perf_counter() - started)
        connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


# --- the hostile requests: each returns (answer text) -------------------------------------
# Bodies are built by the row's preparation, before it is timed: building them
# holds this process's GIL, which would stall the probe thread here and be
# counted as the server's stall.
def many_calls_body(target):
    return target.rpc_body([{"id": n} for n in range(1_000_000)])


def big_write_body(target):
    return target.rpc_body([{"id": 1, "procedure": "write", "arguments": [target.dataport, "x" * 200_000_000, {}]}])


def rpc_post(target, timeout, hold, body):
    return target.request("POST", RPC, body, JSON, timeout)


def wide_window(target, timeout, hold, prepared):
    body = target.rpc_body([{"id": 1, "procedure": "read", "arguments": [
        target.dataport, {"starttime": 0, "endtime": 10 ** 7, "limit": 10 ** 7, "selection": "givenwindow"}]}])
    return target.request("POST", RPC, body, JSON, timeout)


def serial_form_body(target):
    """The hostile model made, and the form adding 2,850,000 serial numbers to it."""
    template = target.call("create", "client", {})
    headers = {"X-Exosite-Token": target.vendortoken, **FORM}
    status, body = target.request("POST", "/provision/manage/model/", f"model={MODEL}&rid={template}", headers)
    assert status == 205, (status, body)
    return ("add=true&" + "&".join(f"sn%5B%5D=sn{n:08d}" for n in range(57_000_000 // 20))).encode()


def serial_form(target, timeout, hold, body):
    headers = {"X-Exosite-Token": target.vendortoken, **FORM}
    return target.request("POST", f"/provision/manage/model/{MODEL}/", body, headers, timeout)


def series_of(target, kind, points, value, per_call):
    """A new dataport of `points` points (value(t) each), recorded before the row is timed."""
    port = target.call("create", "dataport", {"format": kind})
    for start in range(0, points, per_call):
        target.call("record", port, [[t, value(t)] for t in range(start + 1, start + per_call + 1)], {})
    return port


def big_read(target, timeout, hold, port):
    body = target.rpc_body([{"id": 1, "procedure": "read", "arguments": [
        port, {"starttime": 0, "limit": 10 ** 7, "sort": "asc"}]}])
    return target.request("POST", RPC, body, JSON, timeout)


def many_reads(target, timeout, hold, port):
    body = target.rpc_body([{"id": n, "procedure": "read", "arguments": [port, {"starttime": 0, "limit": 100_000}]}
                            for n in range(12)])
    return target.request("POST", RPC, body, JSON, timeout)


ANSWER_READS = 2
ANSWER_POINTS = 1_000_000                     # points_per_read
ANSWER_T0 = 1_420_070_400


def answer_series(target):
    """A float dataport whose 1,000,000 points read as about 30 MB of JSON
    (`[1420070400,0.14285714285714285],`), recorded before the row is timed."""
    port = target.call("create", "dataport", {"format": "float"})
    for start in range(0, ANSWER_POINTS, 250_000):
        target.call("record", port, [[ANSWER_T0 + t, t / 7] for t in range(start + 1, start + 250_001)], {})
    return port


def large_answer(target, timeout, hold, port):
    body = target.rpc_body([{"id": n, "procedure": "read", "arguments": [
        port, {"starttime": 0, "limit": ANSWER_POINTS, "sort": "asc"}]} for n in range(ANSWER_READS)])
    return target.request("POST", RPC, body, JSON, timeout)


HDI_ALIASES = 1000
HDI_VALUE = "a " * 15_000       # 30,000 characters, quoted `a%20` each pair: 60 KB


def hdi_aliases(target):
    """The query of a read of HDI_ALIASES aliases, each holding HDI_VALUE."""
    rids = target.calls([("create", "dataport", {"format": "string"})] * HDI_ALIASES)
    target.calls([("map", "alias", rid, f"a{n}") for n, rid in enumerate(rids)])
    target.calls([("write", rid, HDI_VALUE, {}) for rid in rids])
    return "?" + "&".join(f"a{n}" for n in range(HDI_ALIASES))


def hdi_read(target, timeout, hold, query):
    return target.request("GET", "/onep:v1/stack/alias" + query, headers={"X-Exosite-CIK": target.cik},
                          timeout=timeout)


def held(sockets, hold, trickle=None):
    """Watches sockets for `hold` seconds (sending a byte of `trickle` on
    each every second); what the server did with them."""
    count = len(sockets)
    for sock in sockets:
        sock.setblocking(False)
    started = time.monotonic()
    deadline = started + hold
    open_ones = list(sockets)
    answers = {}
    last_byte = started
    while open_ones and time.monotonic() < deadline:
        still = []
        for sock in open_ones:
            try:
                data = sock.recv(4096)
                if data == b"":      # closed by the server
                    continue
                answers.setdefault(data.split(b"\r\n", 1)[0], 0)
                answers[data.split(b"\r\n", 1)[0]] += 1
            except BlockingIOError:
                pass
            except OSError:
                continue
            still.append(sock)
        open_ones = still
        if trickle and time.monotonic() - last_byte >= 1:
            last_byte = time.monotonic()
            for sock in open_ones:
                try:
                    sock.send(trickle)
                except OSError:
                    pass
        if open_ones:
            time.sleep(0.05)
    elapsed = time.monotonic() - started
    for sock in sockets:
        sock.close()
    shown = ", ".join(f"{n} answered {line.decode()!r}" for line, n in answers.items())
    if open_ones:
        return None, f"{len(open_ones)} of {count} open after {hold:.0f} s {shown}".encode()
    return None, f"all {count} closed by the server within {elapsed:.1f} s {shown}".encode()


def slow_headers(target, timeout, hold, prepared):
    sockets = []
    for _ in range(500):
        sock = socket.create_connection((target.host, target.port), timeout=10)
        sock.sendall(b"POST " + RPC.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        sockets.append(sock)
    return held(sockets, hold)


def slow_body(target, timeout, hold, prepared):
    sockets = []
    for _ in range(100):
        sock = socket.create_connection((target.host, target.port), timeout=10)
        sock.sendall(b"POST /provision/manage/model/ HTTP/1.1\r\nHost: x\r\nX-Exosite-Token: "
                     + target.vendortoken.encode() + b"\r\nContent-Type: application/x-www-form-urlencoded"
                     b"\r\nContent-Length: 100000\r\n\r\nmodel=")
        sockets.append(sock)
    return held(sockets, hold, trickle=b"m")


ROWS = {
    # name: (label, the request, what it needs made before it is timed)
    "calls": ("1,000,000 calls {id: N} (13 MB body)", rpc_post, many_calls_body),
    "write": ("write of a 200 MB value", rpc_post, big_write_body),
    "window": ("read givenwindow, limit 10**7", wide_window, None),
    "serials": ("57 MB serial-number form", serial_form, serial_form_body),
    "read": ("read limit 10**7 of 2,000,000 points", big_read,
             lambda target: series_of(target, "integer", 2_000_000, int, 500_000)),
    "reads": ("12 reads of 100 MB each in one request", many_reads,
              lambda target: series_of(target, "string", 100_000, lambda t: "v" * 1000, 20_000)),
    "answer": ("2 reads of 1,000,000 points, 60 MB answer", large_answer, answer_series),
    "hdi": ("HDI read of 1,000 aliases, 60 MB", hdi_read, hdi_aliases),
    "headers": ("500 slow-header connections", slow_headers, None),
    "body": ("100 slow-body provisioning requests", slow_body, None),
}


def run_row(name, timeout, hold):
    label, send, prepare = ROWS[name]
    with spawn(db=":memory:") as server:
        target = Target(server)
        prepared = prepare(target) if prepare else None
        baseline = target.peak_rss()
        with Probe(target) as probe:
            while not probe.latencies:           # the probe is running before the request starts
                time.sleep(0.01)
            first = len(probe.latencies)
            started = time.perf_counter()
            try:
                status, answer = send(target, timeout, hold, prepared)
            except (socket.timeout, TimeoutError):
                status, answer = None, f"no answer within {timeout} s".encode()
            except (ConnectionError, http.client.HTTPException) as exc:
                status, answer = None, f"connection: {exc!r}".encode()
            elapsed = time.perf_counter() - started
        during = probe.latencies[first:]         # with the probe in flight when the request ended
        peak = target.peak_rss()
        if server.process.poll() is not None:
            answer += f" [server exited {server.process.returncode}]".encode()
    shown = answer.decode("utf-8", "replace").replace("\n", " ")[:90]
    print(f"{label:40s} {elapsed:8.2f} s {max(during) * 1000:9.0f} ms {statistics.median(during) * 1000:7.1f} ms "
          f"{peak / 2**20:8.0f} MB (idle {baseline / 2**20:.0f})  {status or '-'} {shown}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(ROWS), help="rows to run (default: all)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for an answer")
    parser.add_argument("--hold", type=float, default=60, help="seconds to watch the slow-header and slow-body connections")
    args = parser.parse_args()
    print(f"{'hostile request':40s} {'time':>10s} {'worst probe':>12s} {'median':>10s} {'peak RSS':>11s}  answer")
    for name in args.only or ROWS:
        run_row(name, args.timeout, args.hold)


if __name__ == "__main__":
    main()
