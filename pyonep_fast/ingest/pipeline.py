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
  * Verify compares exactly the points this ingest sent, so points already
    stored between them do not count: per dataport it keeps each chunk's
    time range, count and checksum and the set of its timestamps as
    arithmetic runs (start, step, count; a handful for regular series), and
    reads each range back keeping only those timestamps. A failure names the
    dataport, the range and how many points are missing or differ. Past
    MAX_RUNS runs (very irregular timestamps) the set is not kept and a
    range is compared whole, which the report says. Counts and checksums are
    exact when each dataport's timestamps are in order in the input
    (ascending or descending, disorder within a chunk is fine). A dataport
    whose input jumps back into a time range sent before is still stored
    correctly, but duplicates across chunks cannot be counted without
    keeping the input: the report names it, and verify shows its figures as
    approximate and does not pass it.
  * The checkpoint belongs to one target (the RIDs of the CIK's client and
    of the dataports: the server moved to another address is still the
    same target, another server or CIK is not) and one input (a file's path, size and modification time,
    a digest of arrays, or a name given for a stream): resuming it for
    another is refused (`restart=True` starts over). A stream without a name
    cannot be checkpointed: nothing would tell another stream from it.
  * A chunk with no storable point sends no request: its rows are reported
    at once. Timestamps after the year 3000 are a unit mistake: a chunk made
    only of them stops the ingest with the hint to give time_unit="ms"/"us".
  * Retries: a request that fails in transport, or gets an answer that is
    not a valid RPC response (overload, restart), is sent again after a
    growing pause, up to `retries` times; a recordbatch is idempotent, so a
    request that reached the server before the failure does no harm. A
    chunk refused for good (auth, unknown dataport, retries exhausted) stops
    the ingest; the checkpoint lets a later run resume (ingest.checkpoint).
  * A point the server refuses individually (recordbatch's status list)
    is reported with its timestamp; it is not retried.
"""
import array
import dataclasses
import logging
import queue
import sys
import threading
import time

import orjson

from .._core.series import Series
from .._onep_engine import call_encoded
from ..exceptions import IngestError, JsonRPCRequestException, OnePlatformException
from . import DEFAULT_CHUNK_POINTS, DEFAULT_CONNECTIONS, DEFAULT_RETRIES
from .checkpoint import Checkpoint
from .columns import COLUMNS, MASK64, point_hash
from .rules import FORMAT_KINDS, KINDS, kind_of_info
from .sources import resource_of, source_of

log = logging.getLogger(__name__)

MAX_MESSAGES = 1000          # error messages kept for the report (all are counted)
CHECKPOINT_INTERVAL = 0.5    # seconds between checkpoint writes while running
VERIFY_PAGE = 200_000        # points per read when verifying
MAX_RUNS = 10_000            # timestamp runs kept per dataport for verify (beyond: ranges compared whole)
MAX_RANGES = 1_000           # chunk ranges kept per dataport (beyond: neighbours merged)
SUMMARY_MESSAGES = 20        # input errors listed in summary() (the report keeps MAX_MESSAGES)
DATAPORT_FORMATS = {kind: fmt for fmt, kind in FORMAT_KINDS.items()}


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
    #: [lo, hi, count, checksum, runs] per chunk sent, runs [[start, step, count], ...] or None (not kept)
    ranges: list = dataclasses.field(default_factory=list)
    runs: int = 0                  # runs kept over all ranges; -1 once past MAX_RUNS (no longer kept)

    def add(self, ts, values, kind):
        """Folds in one chunk's points of this dataport (sorted, unique);
        returns the number of points replacing a point of earlier chunks."""
        lo, hi = int(ts[0]), int(ts[-1])
        replaced = 0
        if self.count:
            if lo == self.last:     # ascending input: the chunk starts at the second we ended on
                replaced, self.checksum = 1, self.checksum - point_hash(self.last, self.last_value, kind)
                self._release(self.last, point_hash(self.last, self.last_value, kind))
            elif hi == self.first:  # descending input, the same
                replaced, self.checksum = 1, self.checksum - point_hash(self.first, self.first_value, kind)
                self._release(self.first, point_hash(self.first, self.first_value, kind))
            elif not (lo > self.last or hi < self.first):
                self.unordered = True
        self.count += len(ts) - replaced
        checksum = COLUMNS.checksum(ts, values, kind)
        self.checksum = (self.checksum + checksum) & MASK64
        runs = None
        if self.runs >= 0:
            runs = _runs(ts)
            self.runs += len(runs)
            if self.runs > MAX_RUNS:
                self.runs, runs = -1, None
                for entry in self.ranges:
                    entry[4] = None
        self.ranges.append([lo, hi, len(ts), checksum, runs])
        if len(self.ranges) > MAX_RANGES:
            self.ranges = [_merged(*self.ranges[i:i + 2]) for i in range(0, len(self.ranges), 2)]
        if self.first is None or lo <= self.first:
            self.first, self.first_value = lo, _plain(values[0])
        if self.last is None or hi >= self.last:
            self.last, self.last_value = hi, _plain(values[-1])
        return replaced

    def _release(self, t, hashed):
        """The point at t, first or last of the range that holds it, is
        replaced by a later chunk's: it leaves that range."""
        entry = next(e for e in reversed(self.ranges) if e[0] == t or e[1] == t)
        entry[2] -= 1
        entry[3] = (entry[3] - hashed) & MASK64
        runs = entry[4]
        if entry[1] == t:
            entry[1] = t - 1 if entry[0] < t else t
            if runs:
                runs[-1][2] -= 1
                if not runs[-1][2]:
                    runs.pop()
        else:
            entry[0] = t + 1
            if runs:
                runs[0][0] += runs[0][1]
                runs[0][2] -= 1
                if not runs[0][2]:
                    runs.pop(0)

    def verify_ranges(self):
        """The ranges to read back: as sent, or one over everything for an
        input that went back in time (its ranges overlap)."""
        if not self.unordered:
            return [e for e in self.ranges if e[2]]
        runs = None if self.runs < 0 else [r for e in self.ranges for r in e[4]]
        return [[self.first, self.last, self.count, self.checksum, runs]]


def _runs(ts):
    """The timestamps of a sorted chunk as arithmetic runs [start, step,
    count]; consecutive runs share their boundary point."""
    n = len(ts)
    if n == 1:
        return [[int(ts[0]), 0, 1]]
    np = getattr(COLUMNS, "np", None)
    if np is not None:
        d = np.diff(ts)
        bounds = [0, *(np.flatnonzero(d[1:] != d[:-1]) + 1).tolist(), len(d)]
        starts, steps = ts[bounds[:-1]].tolist(), d[bounds[:-1]].tolist()
    else:
        d = [b - a for a, b in zip(ts, ts[1:])]
        bounds = [0, *(i for i in range(1, len(d)) if d[i] != d[i - 1]), len(d)]
        starts, steps = [ts[i] for i in bounds[:-1]], [d[i] for i in bounds[:-1]]
    return [[start, step, b - a + 1] for start, step, a, b in zip(starts, steps, bounds, bounds[1:])]


def _selected(ts, runs):
    """Which of the timestamps ts (sorted) are among those of runs: a mask
    (NumPy) or a list of bools."""
    np = getattr(COLUMNS, "np", None)
    if np is not None:
        wanted = np.concatenate([start + step * np.arange(count, dtype=np.int64) for start, step, count in runs])
        return np.isin(ts, wanted)
    wanted = {start + step * k for start, step, count in runs for k in range(count)}
    return [t in wanted for t in ts]


def _merged(a, b=None):
    """Two neighbouring ranges as one (MAX_RANGES)."""
    if b is None:
        return a
    runs = a[4] + b[4] if a[4] is not None and b[4] is not None else None
    return [min(a[0], b[0]), max(a[1], b[1]), a[2] + b[2], (a[3] + b[3]) & MASK64, runs]


def _plain(value):
    return value.item() if hasattr(value, "item") else value


@dataclasses.dataclass
class VerifyResult:
    """expected_count points sent, stored_count of them found; differing:
    [lo, hi, points sent there, how many missing, whether values differ] per
    range that does not match."""

    target: str
    expected_count: int
    stored_count: int
    checksum_ok: bool
    note: str = ""
    differing: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        return self.checksum_ok and self.expected_count == self.stored_count and not self.note

    def describe(self):
        if self.ok:
            return f"verify {self.target}: ok: {self.stored_count:,} points"
        parts = [f"verify {self.target}: MISMATCH: {self.expected_count:,} points sent, "
                 f"{self.stored_count:,} of them stored"]
        for lo, hi, sent, missing, changed in self.differing[:SUMMARY_MESSAGES]:
            what = [f"{missing:,} of {sent:,} missing"] if missing else []
            what += ["values differ"] if changed else []
            parts.append(f"t={lo}..{hi}: {', '.join(what)}")
        if len(self.differing) > SUMMARY_MESSAGES:
            parts.append(f"and {len(self.differing) - SUMMARY_MESSAGES} more ranges")
        return "; ".join(parts) + (f" ({self.note})" if self.note else "")


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
    unused_columns: list = dataclasses.field(default_factory=list)  # input columns that feed no dataport
    extra_fields: int = 0           # rows with more fields than the input's columns (extra fields not used)
    created: list = dataclasses.field(default_factory=list)         # dataports created (create=True)
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
        if self.resumed and self.complete and not self.sent_points:
            lines.append("the checkpoint says this input was already stored: nothing sent (restart to send again)")
        if self.created:
            lines.append("created dataports: " + ", ".join(self.created))
        if self.unused_columns:
            lines.append("columns not ingested (no dataport given for them): " + ", ".join(self.unused_columns))
        if self.extra_fields:
            lines.append(f"{self.extra_fields:,} rows have more fields than the input's columns: "
                         "their extra fields were not ingested")
        if self.duplicates:
            lines.append(f"{self.duplicates:,} points replaced by a later point at the same second (last wins)")
        if self.error_count:
            lines.append(f"{self.error_count:,} input rows/cells not sent:")
            lines += [f"  {m}" for m in self.errors[:SUMMARY_MESSAGES]]
            if self.error_count > SUMMARY_MESSAGES:
                lines.append(f"  ... and {self.error_count - SUMMARY_MESSAGES:,} more")
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
        lines += [v.describe() for v in self.verify or ()]
        return "\n".join(lines)


def client_for_url(url=None, **options):
    """An OnepV1 for a base URL such as http://127.0.0.1:8080 (None:
    $PYONEP_FAST_URL, else where `pyonep-fast serve` listens)."""
    from ..onep import OnepV1

    return OnepV1.from_url(url, **options)


def dataport_kinds(client, auth, targets, create=None):
    """The value kind of each target, from its description; IngestError
    names a target that cannot be written. create: {alias: kind} of aliases
    to create as dataports (with that format, named after the alias,
    retention unlimited) when the client has no such alias; returns
    (kinds, created aliases) then."""
    kinds, created = [], []
    for target in targets:
        ok, result = client.info(auth, resource_of(target), {"description": True})
        if not ok and create and target in create and _alias_missing(client, auth, target):
            create_dataport(client, auth, target, create[target])
            created.append(target)
            ok, result = client.info(auth, resource_of(target), {"description": True})
        if not ok:
            found = "" if isinstance(resource_of(target), str) or not _alias_missing(client, auth, target) else \
                " (create it first, or give --create)"
            raise IngestError(f"dataport {target!r} cannot be read: {result}"
                              + (f": alias {target!r} not found under this client{found}" if found else ""))
        kind = kind_of_info(result)
        if kind is None:
            raise IngestError(f"{target!r} is not a dataport with a known format")
        kinds.append(kind)
    return (kinds, created) if create is not None else kinds


def _alias_missing(client, auth, target):
    resource = resource_of(target)
    return isinstance(resource, dict) and not client.lookup(auth, "alias", resource["alias"])[0]


def create_dataport(client, auth, alias, kind):
    """Create a dataport of value kind `kind` named and aliased `alias`."""
    ok, rid = client.create(auth, "dataport", {"format": DATAPORT_FORMATS[kind], "name": alias,
                                               "retention": {"count": "infinity", "duration": "infinity"}})
    if not ok:
        raise IngestError(f"cannot create dataport {alias!r}: {rid}")
    ok, status = client.map(auth, rid, alias)
    if not ok:
        raise IngestError(f"cannot map alias {alias!r} to the new dataport: {status}")
    return rid


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
                 progress, kinds, restart=False, create=False):
        self.client = client
        self.auth = auth
        self.source = source
        self.chunk_points = chunk_points
        self.connections = connections
        self.checkpoint = Checkpoint(checkpoint) if checkpoint else None
        self.restart = restart
        self.create = create
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
                "extra_fields": 0, "errors": [], "refused": [],
                "expected": [dataclasses.asdict(Expected()) for _ in self.targets], "acked": {}, "complete": False}

    def _target(self):
        """Where the points go, as the server names it: the RID of the
        auth's client and of each dataport (None: no such alias yet). The
        same server moved to another address is the same target; another
        server, CIK or dataport is not. (No credential goes in the file.)"""
        self.client.lookup(self.auth, "alias", "", defer=True)
        for target in self.targets:
            resource = resource_of(target)
            if isinstance(resource, dict):
                self.client.lookup(self.auth, "alias", resource["alias"], defer=True)
        answers = iter(self.client.send_deferred(self.auth))
        _, ok, me = next(answers)
        if not ok:
            raise IngestError(f"the CIK cannot be used: {me}")
        rids = [target if not isinstance(resource_of(target), dict) else (lambda ok, rid: rid if ok else None)(
            *next(answers)[1:]) for target in self.targets]
        return {"api": "onep", "client": me, "dataports": rids}

    def run(self, verify):
        started = time.perf_counter()
        # the target is asked of the server only for a checkpoint, which is all it serves
        self.fingerprint = {"target": self._target() if self.checkpoint else None,
                            "input": self.source.fingerprint()}
        if self.checkpoint and self.fingerprint["input"]["identity"] is None:
            raise IngestError("an input read from a stream (stdin) is checkpointed only with a name for it "
                              "(--input-name NAME, input_name=...): nothing else tells another stream from it")
        saved = None
        if self.checkpoint and not self.restart:
            saved = self.checkpoint.load(self.fingerprint, self.chunk_points)
        unknown = [t for t in self.targets if t not in self.given_kinds]
        if self.create:
            sampled = dict(zip(self.source.targets, self.source.sample_kinds()))
            found, self.report.created = dataport_kinds(self.client, self.auth, unknown,
                                                        {t: sampled[t] for t in unknown})
            if self.report.created and self.checkpoint:
                self.fingerprint["target"] = self._target()
        else:
            found = dataport_kinds(self.client, self.auth, unknown)
        found = dict(zip(unknown, found))
        self.kinds = [self.given_kinds.get(t) or found[t] for t in self.targets]
        state = self.state = saved or self._fresh_state()
        report = self.report
        report.resumed = saved is not None
        report.unused_columns = list(getattr(self.source, "unused_columns", ()))
        report.points = state["points"] + sum(points for points, _ in state["acked"].values())
        report.refused = [tuple(r) for r in state["refused"]]
        report.refused += [tuple(r) for _, refused in state["acked"].values() for r in refused]
        earlier_errors = list(state["errors"])
        reader = {"duplicates": state["duplicates"], "error_count": state["error_count"],
                  "extra_fields": state["extra_fields"], "expected": [Expected(**e) for e in state["expected"]]}
        if not state["complete"]:
            self._pump(reader)
        report.complete = state["complete"]
        report.duplicates = reader["duplicates"]
        report.error_count = reader["error_count"]
        report.extra_fields = reader["extra_fields"]
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
                if not job.points:  # nothing storable: its rows are reported, no request is made
                    if chunk.late and chunk.late == len(chunk.errors):
                        raise IngestError(f"{chunk.errors[0]} (and every other row of {chunk.label}: "
                                          "nothing of them was sent)")
                    self._finish(job, [])
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
        reader["extra_fields"] += chunk.extra
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
        result = VerifyResult(target, 0, 0, True)
        untracked = False
        for lo, hi, count, checksum, runs in expected.verify_ranges():
            try:
                found, found_checksum = self._read_back(resource, kind, lo, hi, runs)
            except _ReadFailed as exc:
                return VerifyResult(target, expected.count, result.stored_count, False,
                                    f"read of t={lo}..{hi} answered {exc.args[0]}")
            result.expected_count += count
            result.stored_count += found
            if found != count or found_checksum != checksum:
                result.checksum_ok = False
                result.differing.append([lo, hi, count, count - found, found == count])
                untracked = untracked or runs is None
        if expected.unordered:
            result.note = "input not in time order: expected count and checksum are approximate"
        elif untracked:
            result.note = ("timestamps too irregular to keep: these ranges were compared whole, points in them "
                           "that this ingest did not send count too")
        return result

    def _read_back(self, resource, kind, lo, hi, runs):
        """(how many, checksum) of the points stored in lo..hi, only those at
        the timestamps of runs (all of them if runs is None)."""
        stored, checksum, start = 0, 0, lo
        while start <= hi:
            ok, points = self.client.read(self.auth, resource, {"starttime": start, "endtime": hi, "sort": "asc",
                                                                 "limit": VERIFY_PAGE})
            if not ok:
                raise _ReadFailed(points)
            if not points:
                break
            ts = COLUMNS.timestamps([p[0] for p in points])
            values = COLUMNS.values([p[1] for p in points], kind)
            if runs is not None:
                mask = _selected(ts, runs)
                ts, values = _masked(ts, mask), _masked(values, mask)
            stored += len(ts)
            checksum = (checksum + COLUMNS.checksum(ts, values, kind)) & MASK64
            if len(points) < VERIFY_PAGE:
                break
            start = points[-1][0] + 1
        return stored, checksum


class _ReadFailed(Exception):
    pass


def _masked(seq, mask):
    if isinstance(seq, (list, array.array)):
        kept = [v for v, keep in zip(seq, mask) if keep]
        return kept if isinstance(seq, list) else array.array(seq.typecode, kept)
    return seq[mask]


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
            "extra_fields": reader["extra_fields"], "expected": [dataclasses.asdict(e) for e in reader["expected"]]}


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
           retries=DEFAULT_RETRIES, retry_delay=0.5, kinds=None, restart=False, create=False, **source_options):
    """Stores the points of `data` into the dataports it names; returns an
    IngestReport (check `.ok`).

    auth: a CIK (or pyonep auth dict). data: see sources.source_of;
    columns and source_options (time_column, header, delimiter, time_unit
    "s"/"ms"/"us", input_name: what identifies a stream in the checkpoint)
    go to the source. client: an OnepV1, or url: the server's base URL
    (default: $PYONEP_FAST_URL, else http://127.0.0.1:8080). chunk_size:
    points per request. connections: requests in flight at once.
    checkpoint: a file path; an existing checkpoint of the same input and
    target is resumed, one of another is refused (IngestError) unless
    restart=True, which starts over. verify: read back exactly the points
    sent and compare counts and checksums. create: create the dataports
    whose aliases are missing, with the format the input's values have.
    progress: a tqdm bar on stderr (None: only if stderr is a terminal).
    retries, retry_delay: re-sends of a failed request, the first pause
    (doubling). kinds: {target: "int"|"float"|"string"} to skip asking the
    server for those dataports' formats.
    """
    if chunk_size < 1 or connections < 1 or retries < 0:
        raise ValueError("chunk_size and connections must be at least 1, retries at least 0")
    source = source_of(data, columns, **source_options)
    if client is None:
        client = client_for_url(url)
    bad = {k for k in (kinds or {}).values() if k not in KINDS}
    if bad:
        raise ValueError(f"kinds must be among {KINDS}, not {sorted(bad)}")
    return _Ingest(client, auth, source, chunk_size, connections, checkpoint, retries, retry_delay,
                   progress, kinds, restart, create).run(verify)
