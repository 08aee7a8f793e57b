"""Bulk historical ingestion into One Platform dataports.

    from pyonep_fast.ingest import ingest
    report = ingest(cik, "history.csv", ["temperature", "humidity"], url="http://127.0.0.1:8080",
                    checkpoint="history.ckpt", verify=True)
    print(report.summary()); assert report.ok

Sources (pyonep_fast.ingest.sources): a CSV path/stream, a dict of NumPy
arrays (or array.array, or sequences), a pandas DataFrame, a dict of
iterables of (timestamp, value). Each is read as a stream of chunks (the
memory in use is a few chunks whatever the input size); each chunk becomes
one request of `recordbatch` calls (one per dataport) whose entries the C
Series encodes straight from the columns; `connections` requests are in
flight at once over pooled keep-alive connections.

Decisions worth knowing:
  * Timestamp rules (spec §2.3/§3.4-3.5) are applied before sending; see
    ingest.rules and ingest.sources. Rows or cells that break them are reported (CSV line
    numbers) and everything else is still stored.
  * Same-second duplicates: the later point in input order wins, as the
    server would do; each replaced point is counted in the report. Points
    are sorted by time within a chunk. Two chunks whose time ranges overlap
    on a dataport are never in flight together: the later one waits for the
    earlier to be acknowledged, so "later in the input wins" holds across
    chunks, retries and connections too.
  * Verify's expected counts and checksums are exact when each dataport's
    timestamps are in order in the input (ascending or descending, disorder
    within a chunk is fine). A dataport whose input jumps back into a time
    range sent before is still stored correctly, but duplicates across
    chunks cannot be counted without keeping the input: the report names
    it, and verify shows its figures as approximate and does not pass it.
  * Retries: a request that fails in transport, or gets an answer that is
    not a valid RPC response (overload, restart), is sent again after a
    growing pause, up to `retries` times; a recordbatch is idempotent, so a
    request that reached the server before the failure does no harm. A
    chunk refused for good (auth, unknown dataport, retries exhausted) stops
    the ingest; the checkpoint lets a later run resume (ingest.checkpoint).
  * A point the server refuses individually (recordbatch's status list)
    is reported with its timestamp; it is not retried.
"""
import dataclasses
import logging
import queue
import sys
import threading
import time
import urllib.parse

import orjson

from .._core.series import Series
from .._onep_engine import call_encoded
from ..exceptions import IngestError, JsonRPCRequestException, OnePlatformException
from .checkpoint import Checkpoint
from .columns import COLUMNS, MASK64, point_hash
from .rules import KINDS, kind_of_info
from .sources import resource_of, source_of

log = logging.getLogger(__name__)

DEFAULT_CHUNK_POINTS = 100_000   # points per request: larger costs memory, smaller costs CPU per point
DEFAULT_CONNECTIONS = 4
DEFAULT_RETRIES = 5
MAX_MESSAGES = 1000          # error messages kept for the report (all are counted)
CHECKPOINT_INTERVAL = 0.5    # seconds between checkpoint writes while running
VERIFY_PAGE = 200_000        # points per read when verifying


@dataclasses.dataclass
class Expected:
    """What the input holds for one dataport, as read so far."""

    count: int = 0
    checksum: int = 0
    first: int | None = None       # lowest timestamp, and its value
    first_value: object = None
    last: int | None = None        # highest timestamp, and its value
    last_value: object = None
    unordered: bool = False

    def add(self, ts, values, kind):
        """Folds in one chunk's points of this dataport (sorted, unique);
        returns the number of points replacing a point of earlier chunks."""
        lo, hi = int(ts[0]), int(ts[-1])
        replaced = 0
        if self.count:
            if lo == self.last:     # ascending input: the chunk starts at the second we ended on
                replaced, self.checksum = 1, self.checksum - point_hash(self.last, self.last_value, kind)
            elif hi == self.first:  # descending input, the same
                replaced, self.checksum = 1, self.checksum - point_hash(self.first, self.first_value, kind)
            elif not (lo > self.last or hi < self.first):
                self.unordered = True
        self.count += len(ts) - replaced
        self.checksum = (self.checksum + COLUMNS.checksum(ts, values, kind)) & MASK64
        if self.first is None or lo <= self.first:
            self.first, self.first_value = lo, _plain(values[0])
        if self.last is None or hi >= self.last:
            self.last, self.last_value = hi, _plain(values[-1])
        return replaced


def _plain(value):
    return value.item() if hasattr(value, "item") else value


@dataclasses.dataclass
class VerifyResult:
    target: str
    expected_count: int
    stored_count: int
    checksum_ok: bool
    note: str = ""

    @property
    def ok(self):
        return self.checksum_ok and self.expected_count == self.stored_count and not self.note


@dataclasses.dataclass
class IngestReport:
    """The outcome of an ingest (over every run that resumed it)."""

    points: int = 0                 # points the server acknowledged, all runs
    sent_points: int = 0            # points sent in this run
    bytes: int = 0                  # bytes of recordbatch arguments sent in this run
    duration: float = 0.0           # seconds, this run
    chunks: int = 0                 # chunks acknowledged in this run (sent or known done)
    retries: int = 0
    duplicates: int = 0             # points replaced by a later one at the same time
    error_count: int = 0            # input rows/cells that could not be sent
    errors: list = dataclasses.field(default_factory=list)          # their messages (first MAX_MESSAGES)
    refused: list = dataclasses.field(default_factory=list)         # (target, t, status) refused by the server
    failed_chunks: list = dataclasses.field(default_factory=list)   # (chunk label, reason)
    unordered: list = dataclasses.field(default_factory=list)       # targets whose input went back in time
    verify: list | None = None      # VerifyResult per target, if verified
    resumed: bool = False
    complete: bool = False          # the whole input was read and acknowledged

    @property
    def points_per_second(self):
        return self.sent_points / self.duration if self.duration > 0 else 0.0

    @property
    def ok(self):
        return (self.complete and not self.failed_chunks and not self.error_count and not self.refused
                and (self.verify is None or all(v.ok for v in self.verify)))

    def summary(self):
        lines = [f"{self.points:,} points stored" + (" (resumed)" if self.resumed else "")
                 + f"; this run: {self.sent_points:,} points, {self.bytes:,} bytes in {self.duration:.2f} s "
                 f"= {self.points_per_second:,.0f} points/s, {self.chunks:,} chunks, {self.retries} retries"]
        if self.duplicates:
            lines.append(f"{self.duplicates:,} points replaced by a later point at the same second (last wins)")
        if self.error_count:
            lines.append(f"{self.error_count:,} input rows/cells not sent:")
            lines += [f"  {m}" for m in self.errors]
            if self.error_count > len(self.errors):
                lines.append(f"  ... and {self.error_count - len(self.errors):,} more")
        if self.refused:
            lines.append(f"{len(self.refused):,} points refused by the server:")
            lines += [f"  {target} t={t}: {status}" for target, t, status in self.refused[:MAX_MESSAGES]]
        for label, reason in self.failed_chunks:
            lines.append(f"failed chunk ({label}): {reason}")
        if self.unordered:
            lines.append("input not in time order for: " + ", ".join(self.unordered)
                         + " (stored correctly; duplicates across chunks not counted)")
        if not self.complete and not self.failed_chunks:
            lines.append("incomplete: the ingest stopped before the end of the input")
        for v in self.verify or ():
            state = "ok" if v.ok else "MISMATCH"
            lines.append(f"verify {v.target}: {state}: expected {v.expected_count:,} points, "
                         f"stored {v.stored_count:,}, checksum {'equal' if v.checksum_ok else 'different'}"
                         + (f" ({v.note})" if v.note else ""))
        return "\n".join(lines)


def client_for_url(url, **options):
    """An OnepV1 for a base URL such as http://127.0.0.1:8080."""
    from ..onep import OnepV1

    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    return OnepV1(host=parts.hostname, port=str(parts.port or (443 if https else 80)), https=https, **options)


def dataport_kinds(client, auth, targets):
    """The value kind of each target, from its description; IngestError
    names a target that cannot be written."""
    kinds = []
    for target in targets:
        ok, result = client.info(auth, resource_of(target), {"description": True})
        if not ok:
            raise IngestError(f"dataport {target!r}: info answered {result!r} (alias or RID not found?)")
        kind = kind_of_info(result)
        if kind is None:
            raise IngestError(f"{target!r} is not a dataport with a known format: {result!r}")
        kinds.append(kind)
    return kinds


class _Job:
    __slots__ = ("seq", "chunk", "ranges", "after", "done", "points", "state", "errors")

    def __init__(self, seq, chunk, ranges, after, points, state, errors):
        self.seq = seq
        self.chunk = chunk
        self.ranges = ranges        # {target index: (lo, hi)}
        self.after = after          # done-events of earlier overlapping jobs
        self.done = threading.Event()
        self.points = points
        self.state = state          # the reader's state after this chunk
        self.errors = errors


class _Ingest:
    def __init__(self, client, auth, source, chunk_points, connections, checkpoint, retries, retry_delay,
                 progress, kinds):
        self.client = client
        self.auth = auth
        self.source = source
        self.chunk_points = chunk_points
        self.connections = connections
        self.checkpoint = Checkpoint(checkpoint) if checkpoint else None
        self.retries = retries
        self.retry_delay = retry_delay
        self.progress_wanted = progress
        self.given_kinds = kinds or {}
        self.targets = source.targets
        self.resources = [orjson.dumps(resource_of(t)) for t in self.targets]
        self.report = IngestReport()
        self.lock = threading.Lock()
        self.failed = threading.Event()
        self.inflight = {}          # seq -> job, until done
        self.completed = {}         # seq -> (points, refused) done out of order
        self.changed = threading.Event()    # the state moved since the checkpoint was written
        self.closing = threading.Event()
        self.run_errors = []

    # --- state at the low-water mark -------------------------------------
    def _fresh_state(self):
        return {"position": None, "next_seq": 0, "points": 0, "duplicates": 0, "error_count": 0,
                "errors": [], "refused": [], "expected": [dataclasses.asdict(Expected()) for _ in self.targets],
                "acked": {}, "complete": False}

    def run(self, verify):
        started = time.perf_counter()
        unknown = [t for t in self.targets if t not in self.given_kinds]
        found = dict(zip(unknown, dataport_kinds(self.client, self.auth, unknown)))
        self.kinds = [self.given_kinds.get(t) or found[t] for t in self.targets]
        self.fingerprint = self.source.fingerprint()
        saved = self.checkpoint.load(self.fingerprint, self.chunk_points) if self.checkpoint else None
        state = self.state = saved or self._fresh_state()
        report = self.report
        report.resumed = saved is not None
        report.points = state["points"] + sum(points for points, _ in state["acked"].values())
        report.refused = [tuple(r) for r in state["refused"]]
        report.refused += [tuple(r) for _, refused in state["acked"].values() for r in refused]
        earlier_errors = list(state["errors"])
        reader = {"duplicates": state["duplicates"], "error_count": state["error_count"],
                  "expected": [Expected(**e) for e in state["expected"]]}
        if not state["complete"]:
            self._pump(reader)
        report.complete = state["complete"]
        report.duplicates = reader["duplicates"]
        report.error_count = reader["error_count"]
        report.errors = (earlier_errors + self.run_errors)[:MAX_MESSAGES]
        report.unordered = [t for t, e in zip(self.targets, reader["expected"]) if e.unordered]
        report.duration = time.perf_counter() - started
        if verify and report.complete:
            report.verify = [self._verify(i, e) for i, e in enumerate(reader["expected"])]
        return report

    # --- reading and dispatching ------------------------------------------
    def _pump(self, reader):
        state = self.state
        acked_before = {int(seq) for seq in state["acked"]}
        jobs = queue.Queue(maxsize=self.connections)
        workers = [threading.Thread(target=self._work, args=(jobs,), name=f"ingest-{i}", daemon=True)
                   for i in range(self.connections)]
        writer = threading.Thread(target=self._write_checkpoints, name="ingest-checkpoint", daemon=True)
        for w in [*workers, writer]:
            w.start()
        total, unit = self.source.progress_total()
        self.bar = _progress_bar(self.progress_wanted, total, unit, self.source.progress_at(state["position"]))
        seq = state["next_seq"]
        read_all = False
        try:
            for chunk in self.source.chunks(self.kinds, self.chunk_points, state["position"]):
                if self.failed.is_set():
                    break
                job = self._prepare(seq, chunk, reader)
                seq += 1
                if job.seq in acked_before:
                    self._finish(job, state["acked"][str(job.seq)][1], known=True)
                    continue
                with self.lock:
                    self.inflight[job.seq] = job
                jobs.put(job)
            else:
                read_all = True
        finally:
            for _ in workers:
                jobs.put(None)
            for w in workers:
                w.join()
            self.closing.set()
            self.changed.set()
            writer.join()
            self.bar.close()
            state["complete"] = read_all and state["next_seq"] == seq
            if self.checkpoint:
                self.checkpoint.save(self._checkpoint_state())

    def _prepare(self, seq, chunk, reader):
        ranges = {}
        points = 0
        for part in chunk.parts:
            kind = self.kinds[part.target]
            if not COLUMNS.is_strictly_increasing(part.ts):
                part.ts, part.values, replaced = COLUMNS.sort_dedupe(part.ts, part.values)
                reader["duplicates"] += len(replaced)
            reader["duplicates"] += reader["expected"][part.target].add(part.ts, part.values, kind)
            ranges[part.target] = (int(part.ts[0]), int(part.ts[-1]))
            points += len(part.ts)
        reader["error_count"] += len(chunk.errors)
        self.run_errors += chunk.errors[:max(0, MAX_MESSAGES - len(self.run_errors))]
        with self.lock:
            after = [j.done for j in self.inflight.values()
                     if any(t in ranges and _overlap(ranges[t], r) for t, r in j.ranges.items())]
        return _Job(seq, chunk, ranges, after, points, _snapshot(reader), chunk.errors)

    # --- sending -----------------------------------------------------------
    def _work(self, jobs):
        while True:
            job = jobs.get()
            if job is None:
                return
            for event in job.after:
                event.wait()
            if self.failed.is_set():
                self._finish(job, None, sent=False)
                continue
            try:
                outcome = self._send(job)
            except Exception as exc:  # a bug must not hang the ingest: report the chunk
                log.exception("ingest: chunk %s", job.chunk.label)
                outcome = _Failure(f"{type(exc).__name__}: {exc}")
            if isinstance(outcome, _Failure):
                self._fail(job, outcome.reason)
            else:
                self._finish(job, outcome)

    def _calls(self, job):
        calls = []
        for part in job.chunk.parts:
            series = Series(self.kinds[part.target])
            series.append(part.ts, part.values)
            calls.append(("recordbatch", b"[" + self.resources[part.target] + b"," + series.encode_entries() + b"]",
                          part.target))
        return calls

    def _send(self, job):
        calls = self._calls(job)
        job.chunk.parts = ()  # encoded: the columns can go (the chunk waits for the low-water mark)
        size = sum(len(args) for _, args, _ in calls)
        reason = "nothing sent"
        for attempt in range(self.retries + 1):
            if attempt:
                with self.lock:
                    self.report.retries += 1
                time.sleep(min(self.retry_delay * 2 ** (attempt - 1), 10.0))
                if self.failed.is_set():
                    return _Failure(f"not retried after another chunk failed ({reason})")
            try:
                results = call_encoded(self.client, self.auth, [(p, a) for p, a, _ in calls])
            except JsonRPCRequestException as exc:
                reason = f"transport: {exc}"
                continue
            except OnePlatformException as exc:
                reason = f"server: {exc}"
                if _is_auth_error(exc):
                    return _Failure(reason)
                continue
            with self.lock:
                self.report.bytes += size
                self.report.sent_points += job.points
            refused = []
            for (_, _, target), (isok, status) in zip(calls, results):
                if isok:
                    continue
                if isinstance(status, list):
                    refused += [(self.targets[target], entry[0], entry[1]) for entry in status]
                else:
                    return _Failure(f"{self.targets[target]}: recordbatch answered {status!r}")
            return refused
        return _Failure(f"{reason} (after {self.retries} retries)")

    # --- acknowledgements -------------------------------------------------
    def _finish(self, job, refused, sent=True, known=False):
        """job acknowledged, refused listing the points the server refused
        (known: acknowledged in an earlier run); or with sent=False,
        abandoned after a failure elsewhere."""
        with self.lock:
            self.inflight.pop(job.seq, None)
            if sent:
                refused = [tuple(r) for r in refused]
                if not known:
                    self.report.points += job.points - len(refused)
                    self.report.refused += refused
                self.report.chunks += 1
                self.completed[job.seq] = (job, refused)
                self._advance()
                self.bar.update(job.chunk.progress)
            job.done.set()

    def _fail(self, job, reason):
        with self.lock:
            self.inflight.pop(job.seq, None)
            self.report.failed_chunks.append((job.chunk.label, reason))
            self.failed.set()
            job.done.set()

    def _advance(self):
        """Moves the low-water mark over the chunks acknowledged in order;
        the others are listed as acknowledged ahead of it."""
        state = self.state
        moved = False
        while state["next_seq"] in self.completed:
            job, refused = self.completed.pop(state["next_seq"])
            state["acked"].pop(str(job.seq), None)
            state["position"] = job.chunk.end
            state["next_seq"] += 1
            state["points"] += job.points - len(refused)
            state["refused"] += [list(r) for r in refused]
            state["errors"] = (state["errors"] + job.errors)[:MAX_MESSAGES]
            state.update(job.state)
            moved = True
        for job, refused in self.completed.values():
            state["acked"][str(job.seq)] = [job.points - len(refused), [list(r) for r in refused]]
        if moved or self.completed:
            self.changed.set()

    def _checkpoint_state(self):
        return dict(self.state, fingerprint=self.fingerprint, chunk_points=self.chunk_points)

    def _write_checkpoints(self):
        """Writes the checkpoint soon after each change, at most every
        CHECKPOINT_INTERVAL seconds, outside the lock (fsync takes a while)."""
        if not self.checkpoint:
            return
        while True:
            self.changed.wait()
            if self.closing.is_set():
                return  # the final state is written once the workers are done
            self.changed.clear()
            with self.lock:
                text = self.checkpoint.encode(self._checkpoint_state())
            try:
                self.checkpoint.write(text)
            except OSError:
                log.exception("ingest: cannot write the checkpoint %s", self.checkpoint.path)
            self.closing.wait(CHECKPOINT_INTERVAL)

    # --- verify -------------------------------------------------------------
    def _verify(self, index, expected):
        target, kind = self.targets[index], self.kinds[index]
        resource = resource_of(target)
        if not expected.count:
            return VerifyResult(target, 0, 0, True)
        stored, checksum, start = 0, 0, expected.first
        while True:
            ok, points = self.client.read(self.auth, resource, {"starttime": start, "endtime": expected.last,
                                                                 "sort": "asc", "limit": VERIFY_PAGE})
            if not ok:
                return VerifyResult(target, expected.count, stored, False, f"read answered {points!r}")
            if not points:
                break
            stored += len(points)
            ts = COLUMNS.timestamps([p[0] for p in points])
            values = COLUMNS.values([p[1] for p in points], kind)
            checksum = (checksum + COLUMNS.checksum(ts, values, kind)) & MASK64
            if len(points) < VERIFY_PAGE:
                break
            start = points[-1][0] + 1
        note = "input not in time order: expected count and checksum are approximate" if expected.unordered else ""
        return VerifyResult(target, expected.count, stored, checksum == expected.checksum, note)


class _Failure:
    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason


def _is_auth_error(exc):
    return exc.code in (400, 401)


def _overlap(a, b):
    return a[0] <= b[1] and b[0] <= a[1]


def _snapshot(reader):
    return {"duplicates": reader["duplicates"], "error_count": reader["error_count"],
            "expected": [dataclasses.asdict(e) for e in reader["expected"]]}


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(wanted, total, unit, initial):
    """tqdm on stderr when wanted (None: when stderr is a terminal)."""
    if wanted is None:
        wanted = sys.stderr.isatty()
    if not wanted:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit=unit, unit_scale=True, file=sys.stderr, desc="ingest",
                smoothing=0.1)


def ingest(auth, data, columns=None, *, client=None, url=None, chunk_size=DEFAULT_CHUNK_POINTS,
           connections=DEFAULT_CONNECTIONS, checkpoint=None, verify=False, progress=None,
           retries=DEFAULT_RETRIES, retry_delay=0.5, kinds=None, **source_options):
    """Stores the points of `data` into the dataports it names; returns an
    IngestReport (check `.ok`).

    auth: a CIK (or pyonep auth dict). data: see sources.source_of;
    columns and source_options (time_column, header, delimiter) go to the
    source. client: an OnepV1, or url: the server's base URL. chunk_size:
    points per request. connections: requests in flight at once.
    checkpoint: a file path; an existing checkpoint of the same input is
    resumed. verify: read everything back and compare counts and checksums.
    progress: a tqdm bar on stderr (None: only if stderr is a terminal).
    retries, retry_delay: re-sends of a failed request, the first pause
    (doubling). kinds: {target: "int"|"float"|"string"} to skip asking the
    server for those dataports' formats.
    """
    if chunk_size < 1 or connections < 1 or retries < 0:
        raise ValueError("chunk_size and connections must be at least 1, retries at least 0")
    source = source_of(data, columns, **source_options)
    if client is None:
        if url is None:
            raise ValueError("give client= (an OnepV1) or url= (the server's base URL)")
        client = client_for_url(url)
    bad = {k for k in (kinds or {}).values() if k not in KINDS}
    if bad:
        raise ValueError(f"kinds must be among {KINDS}, not {sorted(bad)}")
    return _Ingest(client, auth, source, chunk_size, connections, checkpoint, retries, retry_delay,
                   progress, kinds).run(verify)
