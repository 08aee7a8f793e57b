"""Bulk ingests on the server-activity page, followed through their
checkpoint files (pyonep_fast.ingest.checkpoint).

The server's operator names the files, or directories whose every
checkpoint is followed, new ones included (`EmbeddedServer(
ingest_checkpoints=[...])`, `pyonep-fast serve --ingest-progress PATH`); a
portal user never names a path. Files are looked at only while an activity
page asks: each is stat'ed at most once a POLL_SECONDS and read again only
when its mtime, size or inode changed, in a worker thread. A file that is
not a checkpoint this version of the package reads (not JSON, another
version, foreign JSON, too large) is listed by name with a one-line reason,
nothing of its contents. In a directory, hidden files (a checkpoint's
temporary file while it is written) and files that are not JSON objects
(the inputs themselves, say) are passed over without a line.

A checkpoint is shown to a session of the API it ingests into whose
credential may read the ingest's target: the API's portal module decides
(its `ingest_target`, the module's own access check; see the package's
docstring), nothing here knows an API. A target that is not on this server
is shown to no one; an API whose module has no `ingest_target` (EXP: it has
no bulk ingest) shows its sessions none; an ingest into an API this server
has no module for is listed with that reason.

Figures: points acknowledged (the low-water mark's and those acknowledged
ahead of it); the fraction of the input read, as the source's progress bar
counts it (the checkpoint's `progress`, from source.progress_at); the rate
in points/s over the readings of the last RATE_WINDOW seconds (file
mtimes); the ETA from the progress rate; refused points, input errors; and
the state: finished (complete), stalled (unchanged for STALLED_SECONDS:
stopped, failed or stuck), or running.
"""
import asyncio
import dataclasses
import json
import os
import stat
import time

from ...ingest.checkpoint import VERSION

POLL_SECONDS = 1.0        # between two looks at the files
STALLED_SECONDS = 30.0    # an unfinished checkpoint unchanged this long is stalled (retries pause up to 10 s)
RATE_WINDOW = 10.0        # seconds of readings the rate is taken over
MAX_BYTES = 64 << 20      # a larger file is not read (a checkpoint is kilobytes to a few megabytes)
PEEK_BYTES = 64           # read of a directory's file to tell a JSON object from anything else


class Unreadable(Exception):
    """args[0]: why a file is not a checkpoint shown here (one line)."""


@dataclasses.dataclass(frozen=True)
class Reading:
    at: float         # the file's mtime (seconds)
    points: int
    done: float | None


@dataclasses.dataclass(frozen=True)
class Watched:
    """One file as last read: `summary` (a checkpoint's figures) or
    `problem`; neither for a directory's file that is no JSON object."""

    path: str
    key: tuple | None           # (mtime_ns, size, inode) it was read at
    problem: str | None = None
    summary: dict | None = None
    readings: tuple = ()

    @property
    def shown(self):
        return self.problem is not None or self.summary is not None


def _field(mapping, name, kinds, optional=False):
    """mapping[name] if it is of `kinds` (True/False only where kinds is
    bool); None if optional and absent; Unreadable otherwise."""
    value = mapping.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, kinds) or isinstance(value, bool) != (kinds is bool):
        raise Unreadable(f"not an ingest checkpoint: {name!r} missing or malformed")
    return value


def _input_label(fingerprint_input):
    """The input's name: a file's basename, the name given for it, or what it is."""
    identity = fingerprint_input.get("identity")
    if isinstance(identity, dict):
        if isinstance(identity.get("path"), str):
            return os.path.basename(identity["path"])
        if isinstance(identity.get("name"), str):
            return identity["name"]
    source = fingerprint_input.get("source")
    return str(source) if isinstance(source, str) else "(unnamed input)"


def summary_of(state):
    """The figures of a decoded checkpoint; Unreadable says why it is not one."""
    if not isinstance(state, dict) or "fingerprint" not in state or "version" not in state:
        raise Unreadable("not an ingest checkpoint")
    if state["version"] != VERSION:
        raise Unreadable(f"checkpoint version {state['version']!r}, not {VERSION}: written by another pyonep-fast")
    fingerprint = _field(state, "fingerprint", dict)
    target = _field(fingerprint, "target", dict)
    api = _field(target, "api", str)
    ahead = list(_field(state, "acked", dict).values())     # [points, refused] of chunks acknowledged ahead
    if not all(isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int)
               and isinstance(entry[1], list) for entry in ahead):
        raise Unreadable("not an ingest checkpoint: 'acked' missing or malformed")
    progress = _field(state, "progress", dict, optional=True) or {}
    done = _field(progress, "done", (int, float), optional=True)
    total = _field(progress, "total", (int, float), optional=True)
    unit = _field(progress, "unit", str, optional=True)
    return {"api": api, "target": target, "input": _input_label(_field(fingerprint, "input", dict)),
            "fingerprint": fingerprint,
            "points": _field(state, "points", int) + sum(entry[0] for entry in ahead),
            "refused": len(_field(state, "refused", list)) + sum(len(entry[1]) for entry in ahead),
            "errors": _field(state, "error_count", int), "complete": _field(state, "complete", bool),
            "done": done, "total": total, "unit": unit}


def _read(path, st, member):
    """The summary of the file at path (stat st); None for a directory's
    file that is no JSON object; Unreadable otherwise."""
    if st.st_size > MAX_BYTES:
        raise Unreadable(f"{st.st_size / (1 << 20):.0f} MiB: too large to be a checkpoint followed here")
    try:
        with open(path, "rb") as f:
            if member and not f.read(PEEK_BYTES).lstrip().startswith(b"{"):
                return None
            f.seek(0)
            data = f.read()
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc.strerror or exc}") from None
    try:
        state = json.loads(data)
    except (ValueError, RecursionError) as exc:      # UnicodeDecodeError is a ValueError
        why = str(exc).partition("\n")[0][:120]
        raise Unreadable(f"not JSON ({why}): partly written, or not a checkpoint") from None
    return summary_of(state)


def _readings(before, summary, at):
    """The readings of a file after one more: those of the same ingest within
    RATE_WINDOW seconds of this one (the previous one always kept), or this
    one alone after another ingest took the file over or started over."""
    new = Reading(at, summary["points"], summary["done"])
    earlier = before.readings if before is not None and before.summary is not None else ()
    if not earlier or before.summary["fingerprint"] != summary["fingerprint"] or earlier[-1].points > new.points:
        return (new,)
    kept = [r for r in earlier[:-1] if r.at >= at - RATE_WINDOW] + [earlier[-1]]
    return (*kept, new)


def _watch(path, before, member):
    """The Watched of path now (before: as last read, reused while unchanged);
    None for a directory's file that is gone or no JSON object."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None if member else Watched(path, None, problem="no such file (yet)")
    except OSError as exc:
        return Watched(path, None, problem=f"cannot be read: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        return None if member else Watched(path, None, problem="not a regular file")
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    if before is not None and before.key == key:
        return before
    try:
        summary = _read(path, st, member)
    except Unreadable as exc:
        return Watched(path, key, problem=exc.args[0])
    if summary is None:
        return Watched(path, key)
    return Watched(path, key, summary=summary, readings=_readings(before, summary, st.st_mtime))


def scan(paths, previous):
    """{file: Watched} of the named paths now (a directory: its files),
    reusing `previous` for files that did not change. Blocking: run it in a
    thread."""
    found = {}
    for path in paths:
        if os.path.isdir(path):
            try:
                with os.scandir(path) as entries:
                    files = sorted(entry.path for entry in entries if not entry.name.startswith("."))
            except OSError as exc:
                found[path] = Watched(path, None, problem=f"cannot be listed: {exc.strerror or exc}")
                continue
            for file in files:
                watched = _watch(file, previous.get(file), member=True)
                if watched is not None:
                    found[file] = watched
        else:
            found[path] = _watch(path, previous.get(path), member=False)
    return found


class Ingests:
    """The followed checkpoint files of a server, and what each session sees of them."""

    def __init__(self, portal, clock=time.time):
        self.portal = portal
        self.clock = clock
        self.paths = ()
        self.watched = {}              # path -> Watched, as of the last look
        self.looked = None             # time.monotonic() of the last look
        self.looking = asyncio.Lock()

    def watch(self, paths):
        self.paths = tuple(os.path.abspath(os.fspath(path)) for path in paths)

    async def refresh(self):
        """Looks at the files again if POLL_SECONDS passed since the last look
        (one look serves every session asking meanwhile)."""
        if not self.paths:
            return
        async with self.looking:
            if self.looked is not None and time.monotonic() - self.looked < POLL_SECONDS:
                return
            self.watched = await asyncio.to_thread(scan, self.paths, self.watched)
            self.looked = time.monotonic()

    async def visible_to(self, session):
        """[row] of the followed files this session may see: a checkpoint's
        figures ({"checkpoint", "input", "api", "target", "points", "fraction",
        "done", "total", "unit", "rate", "eta", "refused", "errors", "state",
        "updated"}), or {"checkpoint", "problem"} for a file that is none."""
        now = self.clock()
        rows = []
        for watched in self.watched.values():
            name = os.path.basename(watched.path)
            summary, problem = watched.summary, watched.problem
            if summary is not None and summary["api"] not in self.portal.modules:
                problem = f"an ingest into {summary['api']!r}, which this server does not know"
            if problem is not None:
                rows.append({"checkpoint": name, "problem": problem})
                continue
            if summary is None or summary["api"] != session.api:
                continue
            check = getattr(self.portal.modules[session.api], "ingest_target", None)
            target = None if check is None else await check(self.portal, session, summary["target"])
            if target is not None:
                rows.append({"checkpoint": name, "input": summary["input"], "api": summary["api"], "target": target,
                             **_figures(summary, watched.readings, now)})
        return rows


def _figures(summary, readings, now):
    newest = readings[-1]
    done, total = summary["done"], summary["total"]
    fraction = min(max(done / total, 0.0), 1.0) if done is not None and total else None
    if summary["complete"]:
        state, fraction = "finished", 1.0
    elif now - newest.at > STALLED_SECONDS:
        state = "stalled"
    else:
        state = "running"
    rate = eta = None
    oldest = readings[0]
    if state == "running" and newest.at > oldest.at:
        span = newest.at - oldest.at
        rate = (newest.points - oldest.points) / span
        if total and done is not None and oldest.done is not None and done > oldest.done:
            eta = max(0.0, (total - done) / ((done - oldest.done) / span) - max(0.0, now - newest.at))
    return {"points": summary["points"], "fraction": fraction, "done": done, "total": total, "unit": summary["unit"],
            "rate": rate, "eta": eta, "refused": summary["refused"], "errors": summary["errors"], "state": state,
            "updated": newest.at}
