"""kill -9 under load (issue 9): a mixed workload against a `pyonep-fast
serve` subprocess, killed at seeded moments, with an acknowledgement log.

Each round starts the server on the same database, lets worker threads run
the workload until a seeded number of operations has been acknowledged,
kills the process with SIGKILL at once (other workers are mid-request), runs
`PRAGMA integrity_check` on the file, restarts, and checks the log against
what the server now serves:

- lost: something acknowledged is missing or different;
- phantoms: something is stored that no request ever sent, or only part
  of a request that was cut off (a call changes all it should or nothing).

Operations: dataports of each format created and aliased; numeric `record`s
of 1 to 50,000 points; `record`s of string points up to 64 KB each; `write`
(stamped by the server, at most one per second per port, so every
acknowledged write stays its own point); clone of a client holding a dataport
with history; drop; provisioning content created and uploaded (blobs up to
1 MB, re-uploads included). Values are derived from seeds, so the log stays
small in a long run.

Used by tests/server/test_faults.py (a few kills) and bench/bench_faults.py
(a long run printing kills, acknowledged operations and lost).
"""
import os
import random
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import orjson
import urllib3

from pyonep_fast.server import spawn

RPC = "/onep:v1/rpc/process"
JSON = {"Content-Type": "application/json; charset=utf-8"}
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
MODEL = "faults"
WRITE_EPOCH = 10 ** 9          # record timestamps stay below this; `write` stamps with the clock, above it
PAGE = 10000                   # points per read while verifying
STRING_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789é€"


class ServerGone(Exception):
    """The server stopped answering: the request's outcome is unknown."""


class Refused(Exception):
    """The server refused an operation the workload only sends when it is valid."""


def string_value(t, length):
    """The string point recorded at t with this length (regenerated when verifying)."""
    head = f"{t}:"
    body = STRING_ALPHABET * (length // len(STRING_ALPHABET) + 1)
    return (head + body[t % len(STRING_ALPHABET):])[:max(length, len(head))]


def blob(seed, size):
    return random.Random(seed).randbytes(size)


@dataclass
class Port:
    rid: str
    alias: str
    fmt: str
    next_t: int = 1
    acked: dict = field(default_factory=dict)        # t -> value (strings: their length)
    sent: dict = field(default_factory=dict)         # t -> value, every point ever sent
    in_flight: list = field(default_factory=list)    # (first t, last t) of records sent, not acknowledged
    writes_acked: list = field(default_factory=list)  # (earliest t, latest t, value) of `write`s
    writes_sent: list = field(default_factory=list)   # values
    last_write_second: int = 0
    dropped: bool = False      # None: a drop was sent and its outcome is unknown


@dataclass
class Clone:
    rid: str
    points: list               # [[t, v]] of the source dataport when cloned


@dataclass
class Content:
    cid: str
    acked: tuple = None        # (seed, size) of the acknowledged blob
    sent: list = field(default_factory=list)


class Session:
    """One thread's requests to the current server."""

    def __init__(self, url, tenant):
        self.url = url
        self.tenant = tenant
        self.pool = urllib3.PoolManager(maxsize=1, retries=False, timeout=urllib3.Timeout(connect=10, read=300))

    def http(self, method, path, body=None, headers=None):
        try:
            return self.pool.request(method, self.url + path, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise ServerGone(str(exc)) from None

    def answer(self, *calls):
        """Entries of one request, one [procedure, *arguments] per call."""
        body = orjson.dumps({"auth": {"cik": self.tenant["cik"]}, "calls": [
            {"id": i, "procedure": call[0], "arguments": list(call[1:])} for i, call in enumerate(calls)]})
        response = self.http("POST", RPC, body, JSON)
        entries = orjson.loads(response.data) if response.data else None
        if response.status != 200 or not isinstance(entries, list):
            raise Refused(f"{calls[0][0]}: HTTP {response.status} {response.data[:200]!r}")
        return entries

    def call(self, procedure, *arguments, expect="ok"):
        entry, = self.answer([procedure, *arguments])
        if entry["status"] != expect:
            raise Refused(f"{procedure}: {entry}")
        return entry.get("result")

    def status(self, procedure, *arguments):
        entry, = self.answer([procedure, *arguments])
        return entry["status"]

    def provision(self, method, path, body=b"", headers=None):
        response = self.http(method, "/provision/manage" + path, body,
                             {"X-Exosite-Token": self.tenant["vendortoken"], **(headers or FORM)})
        return response

    def read_all(self, rid):
        """Every point of a dataport, oldest first, read page by page."""
        points, start = [], 0
        while True:
            page = self.call("read", rid, {"starttime": start, "limit": PAGE, "sort": "asc"})
            points.extend(page)
            if len(page) < PAGE:
                return points
            start = page[-1][0] + 1

    def close(self):
        self.pool.clear()


class Ledger:
    """The acknowledgement log, shared by the workers of a run."""

    def __init__(self):
        self.condition = threading.Condition()
        self.acknowledged = 0
        self.refusals = []

    def acknowledge(self):
        with self.condition:
            self.acknowledged += 1
            self.condition.notify_all()

    def refused(self, reason):
        with self.condition:
            self.refusals.append(reason)

    def wait_for(self, count, deadline):
        with self.condition:
            return self.condition.wait_for(lambda: self.acknowledged >= count, max(0.0, deadline - time.monotonic()))


class Worker:
    """One thread of the workload, owning its own dataports, clones and content."""

    def __init__(self, index, seed, ledger, big_points):
        self.index = index
        self.rng = random.Random(seed)
        self.ledger = ledger
        self.big_points = big_points
        self.ports = []
        self.clones = []
        self.contents = []
        self.made = 0

    def name(self, kind):
        self.made += 1
        return f"w{self.index}-{kind}{self.made}"

    # --- one round -----------------------------------------------------------------------
    def run(self, url, tenant, stop):
        session = Session(url, tenant)
        try:
            while not stop.is_set():
                self.step(session)
        except ServerGone:
            pass
        except Refused as exc:
            self.ledger.refused(str(exc))
        finally:
            session.close()

    def step(self, session):
        live = [p for p in self.ports if p.dropped is False]
        if len(live) < 4:
            return self.create_port(session, self.rng.choice(("integer", "float", "string")))
        choice = self.rng.random()
        if choice < 0.30:
            self.record_numbers(session, self.rng.choice([p for p in live if p.fmt != "string"] or live))
        elif choice < 0.45:
            self.record_strings(session, self.rng.choice([p for p in live if p.fmt == "string"] or live))
        elif choice < 0.60:
            self.write(session, self.rng.choice(live))
        elif choice < 0.70:
            self.upload(session)
        elif choice < 0.76:
            self.clone(session)
        elif choice < 0.92:                        # ports come and go: the data verified stays bounded
            self.drop(session, self.rng.choice(live))
        else:
            self.create_port(session, self.rng.choice(("integer", "float", "string")))

    def number(self, fmt):
        return self.rng.randrange(-10 ** 12, 10 ** 12) if fmt == "integer" else self.rng.uniform(-1e9, 1e9)

    def value_of(self, port, t, value):
        """The point a port reads back for what the log holds."""
        return string_value(t, value) if port.fmt == "string" else value

    # --- operations ---------------------------------------------------------------------------
    def create_port(self, session, fmt):
        alias = self.name("port")
        rid = session.call("create", "dataport", {"format": fmt, "name": alias,
                                                  "retention": {"count": "infinity", "duration": "infinity"}})
        session.call("map", "alias", rid, alias)
        self.ports.append(Port(rid, alias, fmt))
        self.ledger.acknowledge()

    def record(self, session, port, values):
        entries = []
        for value in values:
            t = port.next_t
            port.next_t += 1
            port.sent[t] = value
            entries.append([t, self.value_of(port, t, value)])
        batch = (entries[0][0], entries[-1][0])
        port.in_flight.append(batch)
        session.call("record", port.rid, entries, {})
        port.in_flight.remove(batch)
        port.acked.update((t, port.sent[t]) for t, _ in entries)
        self.ledger.acknowledge()

    def record_numbers(self, session, port):
        count = self.rng.choice((1, 1, 1, 10, 10, 100, 100, 2000, 2000, self.big_points))
        if port.fmt == "string":
            return self.record(session, port, [self.rng.randrange(1, 100) for _ in range(count)])
        self.record(session, port, [self.number(port.fmt) for _ in range(count)])

    def record_strings(self, session, port):
        if port.fmt != "string":
            return self.record_numbers(session, port)
        lengths = [self.rng.choice((1, 100, 4000, 60000)) for _ in range(self.rng.randrange(1, 24))]
        self.record(session, port, lengths)

    def write(self, session, port):
        second = int(time.time())
        if second <= port.last_write_second:      # one write per second per port: each its own point
            return self.record_numbers(session, port)
        value = str(self.rng.randrange(10 ** 9)) if port.fmt == "string" else self.number(port.fmt)
        port.writes_sent.append(value)
        port.last_write_second = second
        session.call("write", port.rid, value, {})
        port.last_write_second = int(time.time())
        port.writes_acked.append((second, port.last_write_second, value))
        self.ledger.acknowledge()

    def clone(self, session):
        """A client holding a dataport with history, cloned whole."""
        source = session.call("create", "client", {"limits": {"client": "inherit", "dataport": "inherit"}})
        inner = session.call("create", source, "dataport", {"format": "integer"})
        points = [[t, self.rng.randrange(10 ** 9)] for t in range(1, self.rng.choice((2, 50, 3000)))]
        session.call("record", inner, points, {})
        copy = session.call("create", "clone", {"rid": source})
        self.clones.append(Clone(copy, points))
        self.ledger.acknowledge()

    def drop(self, session, port):
        port.dropped = None
        session.call("drop", port.rid)
        port.dropped = True
        self.ledger.acknowledge()

    def upload(self, session):
        if not self.contents or self.rng.random() < 0.5:
            content = Content(self.name("blob"))
            response = session.provision("POST", f"/content/{MODEL}/", f"id={content.cid}&meta=faults".encode())
            if response.status != 205:
                raise Refused(f"content create: HTTP {response.status} {response.data[:200]!r}")
            self.contents.append(content)
        content = self.rng.choice(self.contents)
        version = (self.rng.randrange(2 ** 32), self.rng.choice((0, 10, 70000, 1 << 20)))
        content.sent.append(version)
        response = session.provision("POST", f"/content/{MODEL}/{content.cid}", blob(*version),
                                     {"Content-Type": "application/octet-stream"})
        if response.status != 205:
            raise Refused(f"content upload: HTTP {response.status} {response.data[:200]!r}")
        content.acked = version
        self.ledger.acknowledge()

    # --- after a restart ---------------------------------------------------------------------
    def verify(self, session, lost, phantoms):
        """Checks the log against the server; then takes what it serves (all of
        it acknowledged or sent) as the log's new state."""
        for port in self.ports:
            self.verify_port(session, port, lost, phantoms)
        for clone in self.clones:
            inner = session.call("listing", clone.rid, ["dataport"], {})["dataport"]
            if len(inner) != 1 or session.read_all(inner[0]) != clone.points:
                lost.append(f"clone {clone.rid}: {inner}")
        for content in self.contents:
            self.verify_content(session, content, lost, phantoms)

    def verify_port(self, session, port, lost, phantoms):
        if port.dropped is not False:
            gone = session.status("read", port.rid, {}) == "restricted"   # a dropped RID is unreachable (spec 2.1)
            if port.dropped and not gone:
                lost.append(f"drop of {port.alias}")
            if gone:
                if session.status("lookup", "alias", port.alias) != "invalid":
                    lost.append(f"alias of dropped {port.alias}")
                port.dropped = True
                return
            port.dropped = False
        if session.call("lookup", "alias", port.alias) != port.rid:
            lost.append(f"alias {port.alias}")
        stored = session.read_all(port.rid)
        recorded = {t: v for t, v in stored if t < WRITE_EPOCH}
        written = [(t, v) for t, v in stored if t >= WRITE_EPOCH]
        for t, value in port.acked.items():
            if recorded.get(t) != self.value_of(port, t, value):
                lost.append(f"{port.alias} t={t}: {recorded.get(t)!r:.40}")
        for t, v in recorded.items():
            if t not in port.sent or self.value_of(port, t, port.sent[t]) != v:
                phantoms.append(f"{port.alias} t={t}: {v!r:.40}")
        for first, last in port.in_flight:
            present = sum(first <= t <= last for t in recorded)
            if 0 < present < last - first + 1:
                phantoms.append(f"{port.alias} record cut off: {present} of {last - first + 1} points")
        for low, high, value in port.writes_acked:
            if not any(low <= t <= high and v == value for t, v in written):
                lost.append(f"{port.alias} write {value!r} in [{low}, {high}]")
        phantoms.extend(f"{port.alias} write {v!r:.40}" for _, v in written if v not in port.writes_sent)
        port.acked = {t: port.sent[t] for t in recorded if t in port.sent}
        port.sent = dict(port.acked)
        port.in_flight = []
        port.writes_acked = [(t, t, v) for t, v in written]
        port.writes_sent = [v for _, v in written]
        port.last_write_second = int(time.time())   # an unanswered write was stamped before this

    def verify_content(self, session, content, lost, phantoms):
        response = session.provision("GET", f"/content/{MODEL}/{content.cid}?download=true", None, {})
        if response.status != 200:
            if content.acked is not None:
                lost.append(f"content {content.cid}: HTTP {response.status}")
            return
        served = [version for version in content.sent if blob(*version) == response.data]
        if not served and content.acked is None and response.data == b"":
            return                                  # created, never uploaded
        if not served:
            (lost if content.acked is not None else phantoms).append(f"content {content.cid}: {len(response.data)} B")
            return
        if content.acked is not None and content.sent.index(served[-1]) < content.sent.index(content.acked):
            lost.append(f"content {content.cid}: an older upload is served")
        content.acked = served[-1]
        content.sent = [served[-1]]


@dataclass
class Outcome:
    kills: int = 0
    acknowledged: int = 0
    lost: list = field(default_factory=list)
    phantoms: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    integrity: list = field(default_factory=list)    # integrity_check answers other than "ok"


def integrity(db):
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("PRAGMA integrity_check")]


def prepare(url):
    """A fountain tenant, and a provisioning model of its own for content."""
    pool = urllib3.PoolManager(retries=False)
    tenant = orjson.loads(pool.request("GET", url + "/api/create?vendor").data)
    session = Session(url, tenant)
    template = session.call("create", "client", {})
    response = session.provision("POST", "/model/", f"model={MODEL}&rid={template}".encode())
    assert response.status == 205, (response.status, response.data)
    session.close()
    return tenant


def run(db, seed, kills, workers=3, acks_per_round=(20, 120), big_points=50000, round_seconds=60.0, report=None):
    """kills rounds of workload and kill -9 on db; returns an Outcome.
    report(round, outcome) is called after each round's verification."""
    rng = random.Random(seed)
    ledger = Ledger()
    outcome = Outcome()
    team = [Worker(i, rng.randrange(2 ** 32), ledger, big_points) for i in range(workers)]
    tenant = None
    for round_number in range(kills):
        server = spawn(db=db)
        try:
            if tenant is None:
                tenant = prepare(server.url)
            stop = threading.Event()
            threads = [threading.Thread(target=w.run, args=(server.url, tenant, stop), daemon=True) for w in team]
            for thread in threads:
                thread.start()
            ledger.wait_for(ledger.acknowledged + rng.randint(*acks_per_round), time.monotonic() + round_seconds)
        finally:
            os.kill(server.pid, signal.SIGKILL)
            server.wait(60)
        stop.set()
        for thread in threads:
            thread.join(300)
        outcome.kills += 1
        outcome.integrity.extend(answer for answer in integrity(db) if answer != "ok")
        with spawn(db=db) as restarted:
            session = Session(restarted.url, tenant)
            try:
                for worker in team:
                    worker.verify(session, outcome.lost, outcome.phantoms)
            except Refused as exc:                  # the tenant or a dataport itself is gone
                outcome.lost.append(f"after restart: {exc}")
            session.close()
        outcome.acknowledged = ledger.acknowledged
        outcome.refusals = list(ledger.refusals)
        if report is not None:
            report(round_number + 1, outcome)
    return outcome
