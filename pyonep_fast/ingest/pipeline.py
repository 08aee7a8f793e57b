"""Bulk historical ingestion into One Platform dataports or M2X streams.

    from pyonep_fast.ingest import ingest
    report = ingest(cik, "history.csv", ["temperature", "humidity"], url="http://127.0.0.1:8080",
                    checkpoint="history.ckpt", verify=True)
    print(report.summary()); assert report.ok

The API-specific part (what a target is, how a chunk is sent and read
back) is a sink (pyonep_fast.ingest.sinks); everything here serves both.

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
  * The checkpoint belongs to one target (One Platform: the RIDs of the
    CIK's client and of the dataports, so the server moved to another
    address is still the same target, another server or CIK is not; M2X:
    the server's URL, a digest of the key, the device and the streams)
    and one input (a file's path, size and modification time, a digest of
    arrays, or a name given for a stream): resuming it for another is
    refused (`restart=True` starts over). A stream without a name
    cannot be checkpointed: nothing would tell another stream from it.
  * A chunk with no storable point sends no request: its rows are reported
    at once. Timestamps after the year 3000 are a unit mistake: a chunk made
    only of them stops the ingest with the hint to give time_unit="ms"/"us".
  * Retries: a request that fails in transport, or gets an answer that is
    not a valid RPC response (overload, restart; M2X: 429 or 5xx), is sent again after a
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
import signal
import sys
import threading
import time

from ..exceptions import IngestError
from . import DEFAULT_CHUNK_POINTS, DEFAULT_CONNECTIONS, DEFAULT_RETRIES
from .checkpoint import Checkpoint
from .columns import COLUMNS, MASK64, point_hash
from .rules import KINDS
from .sinks import M2XSink, OnepSink, Refused, Retry, client_for_url, m2x_client_for_url
from .sources import source_of

log = logging.getLogger(__name__)

MAX_MESSAGES = 1000          # error messages kept for the report (all are counted)
CHECKPOINT_INTERVAL = 0.5    # seconds between checkpoint writes while running
MAX_RUNS = 10_000            # timestamp runs kept per dataport for verify (beyond: ranges compared whole)
MAX_RANGES = 1_000           # chunk ranges kept per dataport (beyond: neighbours merged)
INTERRUPT_POLL = 0.05        # seconds between looks at a Ctrl-C while waiting for a free worker
SUMMARY_MESSAGES = 20        # input errors listed in summary() (the report keeps MAX_MESSAGES)


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
    created: list = dataclasses.field(default_factory=list)         # dataports/streams created (create=True)
    target_noun: str = "dataports"  # what the targets are: "dataports" (One Platform) or "streams" (M2X)
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
            lines.append(f"created {self.target_noun}: " + ", ".join(self.created))
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


class _Interruption:
    """Ctrl-C during an ingest's pump, never lost. Python raises
    KeyboardInterrupt wherever the main thread is, and one raised in a
    finaliser (__del__, a gc callback) is printed and dropped, so the ingest
    would carry on; raised while the main thread updates the acknowledged
    state it would leave that state half done. Here SIGINT only sets
    `requested`, which the pump and its waits check; it raises at once only
    inside the input read (which may block on a pipe, and changes nothing
    of ours). Installed only where Python's default handler is in place, on
    the main thread."""

    def __init__(self):
        self.requested = False
        self._in_read = False
        self._previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame):
        self.requested = True
        if self._in_read:
            raise KeyboardInterrupt

    def check(self):
        if self.requested:
            raise KeyboardInterrupt

    def next_chunk(self, chunks):
        """next(chunks), None at the end; an interrupt raises."""
        self._in_read = True
        try:
            self.check()
            chunk = next(chunks, None)
        finally:
            self._in_read = False
        self.check()  # one dropped by a finaliser during the read
        return chunk


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
    def __init__(self, sink, source, chunk_points, connections, checkpoint, retries, retry_delay,
                 progress, kinds, restart=False, create=False):
        self.sink = sink
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
        self.report = IngestReport(target_noun=sink.NOUN)
        self.lock = threading.Lock()
        self.failed = threading.Event()
        self.inflight = {}          # seq -> job, until done
        self.completed = {}         # seq -> (points, refused) done out of order
        self.changed = threading.Event()    # the state moved since the checkpoint was written
        self.closing = threading.Event()
        self.run_errors = []
        self.progress_total = (None, None)   # the source's (total, unit), once the pump starts

    # --- state at the low-water mark -------------------------------------
    def _fresh_state(self):
        return {"position": None, "next_seq": 0, "points": 0, "duplicates": 0, "error_count": 0,
                "extra_fields": 0, "errors": [], "refused": [],
                "expected": [dataclasses.asdict(Expected()) for _ in self.targets], "acked": {}, "complete": False}

    def run(self, verify):
        started = time.perf_counter()
        # the target is asked of the server only for a checkpoint, which is all it serves
        self.fingerprint = {"target": self.sink.identity() if self.checkpoint else None,
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
            found, self.report.created = self.sink.kinds(unknown, {t: sampled[t] for t in unknown})
            if self.report.created and self.checkpoint:
                self.fingerprint["target"] = self.sink.identity()
        else:
            found, _ = self.sink.kinds(unknown)
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
            with _Interruption() as self.interruption:
                self._pump(reader)
            self.interruption.check()
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
        self.progress_total = self.source.progress_total()
        for w in [*workers, writer]:
            w.start()
        total, unit = self.progress_total
        self.bar = _progress_bar(self.progress_wanted, total, unit, self.source.progress_at(state["position"]))
        seq = state["next_seq"]
        read_all = False
        chunks = self.source.chunks(self.kinds, self.chunk_points, state["position"])
        interruption = self.interruption
        try:
            while (chunk := interruption.next_chunk(chunks)) is not None:
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
                while True:
                    try:
                        jobs.put(job, timeout=INTERRUPT_POLL)
                        break
                    except queue.Full:
                        interruption.check()
            else:
                read_all = True
        finally:
            chunks.close()
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
            if self.failed.is_set() or self.interruption.requested:
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

    def _send(self, job):
        prepared = self.sink.prepare(job.chunk.parts, self.kinds)
        job.chunk.parts = ()  # encoded: the columns can go (the chunk waits for the low-water mark)
        reason = "nothing sent"
        for attempt in range(self.retries + 1):
            if attempt:
                with self.lock:
                    self.report.retries += 1
                time.sleep(min(self.retry_delay * 2 ** (attempt - 1), 10.0))
                if self.failed.is_set():
                    return _Failure(f"not retried after another chunk failed ({reason})")
            try:
                refused = self.sink.send(prepared)
            except Retry as exc:
                reason = exc.args[0]
                continue
            except Refused as exc:
                return _Failure(exc.args[0])
            with self.lock:
                self.report.bytes += prepared.size
                self.report.sent_points += job.points
            return [(self.targets[target], t, status) for target, t, status in refused]
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
        """What the checkpoint file holds: the state, what it belongs to, and
        how far along the input the low-water mark is in the source's own
        units (read by the portal's server-activity page, not by a resume)."""
        total, unit = self.progress_total
        progress = {"done": self.source.progress_at(self.state["position"]), "total": total, "unit": unit}
        return dict(self.state, fingerprint=self.fingerprint, chunk_points=self.chunk_points, progress=progress)

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
        result = VerifyResult(target, 0, 0, True)
        untracked = False
        for lo, hi, count, checksum, runs in expected.verify_ranges():
            try:
                found, found_checksum = self._read_back(index, kind, lo, hi, runs)
            except Refused as exc:
                return VerifyResult(target, expected.count, result.stored_count, False, exc.args[0])
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

    def _read_back(self, index, kind, lo, hi, runs):
        """(how many, checksum) of the points stored in lo..hi, only those at
        the timestamps of runs (all of them if runs is None)."""
        stored, checksum = 0, 0
        for ts, values in self.sink.read(index, kind, lo, hi):
            if runs is not None:
                mask = _selected(ts, runs)
                ts, values = _masked(ts, mask), _masked(values, mask)
            stored += len(ts)
            checksum = (checksum + COLUMNS.checksum(ts, values, kind)) & MASK64
        return stored, checksum


def _masked(seq, mask):
    if isinstance(seq, (list, array.array)):
        kept = [v for v, keep in zip(seq, mask) if keep]
        return kept if isinstance(seq, list) else array.array(seq.typecode, kept)
    return seq[mask]


class _Failure:
    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason


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
    source = source_of(data, columns, **source_options)
    sink = OnepSink(client if client is not None else client_for_url(url), auth, source.targets)
    return _run(sink, source, chunk_size, connections, checkpoint, verify, progress, retries, retry_delay, kinds,
                KINDS, restart, create)


def ingest_m2x(key, device, data, columns=None, *, client=None, url=None, chunk_size=DEFAULT_CHUNK_POINTS,
               connections=DEFAULT_CONNECTIONS, checkpoint=None, verify=False, progress=None,
               retries=DEFAULT_RETRIES, retry_delay=0.5, kinds=None, restart=False, create=False,
               **source_options):
    """ingest() into the streams of an M2X device: a stream per target
    (its name), values posted with the M2X client's C-encoded value lists
    (POST devices/{device}/updates, split within the server's limits).

    key: an M2X API key that may write the device; client: an M2XClient
    (or url, as for ingest). create: create the missing streams (numeric,
    or alphanumeric for text values). kinds: {stream: "float"|"string"}
    (M2X stores numbers as doubles). The checkpoint records the server's
    URL, the key's digest (never the key), the device, the streams and the
    input. Everything else is as for ingest().
    """
    source = source_of(data, columns, **source_options)
    if client is None:
        client = m2x_client_for_url(key, url)
    sink = M2XSink(client, key, device, source.targets)
    return _run(sink, source, chunk_size, connections, checkpoint, verify, progress, retries, retry_delay, kinds,
                ("float", "string"), restart, create)


def _run(sink, source, chunk_size, connections, checkpoint, verify, progress, retries, retry_delay, kinds, allowed,
         restart, create):
    if chunk_size < 1 or connections < 1 or retries < 0:
        raise ValueError("chunk_size and connections must be at least 1, retries at least 0")
    bad = {k for k in (kinds or {}).values() if k not in allowed}
    if bad:
        raise ValueError(f"kinds must be among {allowed}, not {sorted(bad)}")
    return _Ingest(sink, source, chunk_size, connections, checkpoint, retries, retry_delay,
                   progress, kinds, restart, create).run(verify)
