"""Buffered reads and writes over the One Platform: pyonep.datastore's surface.

    from pyonep_fast.datastore import Datastore, transport_config
    with Datastore(cik, 1, transport=dict(transport_config, host="127.0.0.1", port="8080")) as store:
        store.start()
        store.write("temperature", 21.5)                 # the live value: last one per interval
        store.record("temperature", [[1421906172, 20.0]])  # history, absolute times
    # leaving the block flushed everything, or raised NotStoredError naming each point not stored

Points wait in the C SeriesBuffer (one column pair per alias) and go out as
`recordbatch` calls: at every `interval`, and as soon as half of
`write_buffer_size` points are waiting. `write` keeps pyonep's live-value
semantics: only the last value written to an alias during an interval is
sent, stamped with the time of that interval's flush. A point leaves the
buffer only when the server has answered for it: stored, or refused (then
it goes to the report of points not stored, `failures()`, with the status
the server gave). Transport failures keep the points for the next flush.
`stop()`, `close()` and leaving a `with` block flush everything first.
config["log_level"] is accepted and left alone: logging (handlers, levels)
belongs to the application; this module logs to `pyonep_fast.datastore`.

Upstream bugs fixed here (pyonep 0.13.8, spec §5), all of which lost data
or crashed:
  * a refused `record` whose message contained "datapoint" called the
    misspelled `log.excption`, whose AttributeError killed the worker
    thread: every later value was silently never sent. The worker here logs
    each failed flush and carries on; refused points are reported.
  * values for a dataport that did not exist at flush time were silently
    dropped (and the record counter never decreased). Here they are
    reported in `failures()` with the server's status.
  * `stop(force=True)` emptied the live buffer unsent. Here a forced stop
    makes one last flush attempt without retries, and whatever it could not
    store is reported.
  * `stop()` returned at once and the worker (a daemon thread when
    start(daemon=True)) could die with the process before flushing. Here
    stop() waits for the final flush, bounded by config["flush_timeout"]
    seconds (default 30; points still unsent then are reported).
  * the `transport` dict passed in (the module default included) had its
    "https" key forced to False in place; here it is copied and its "https"
    setting honoured.
  * `comment` called `OnepV1.comment`, which does not exist
    (AttributeError); here it sends the RPC `comment` call [rid, visibility,
    text] and returns (isok, response) (the comments show in info).
  * offset-mode times (negative, relative to the server's clock when the
    request arrives) made a retried record land at another time; here a
    negative time given to `record` is resolved against the clock when
    `record` is called, and every point is sent with its absolute time, so a
    retry stores the same point again.
  * `record` did not count towards `write_buffer_size`; here it does.
  * one module-wide lock was shared by every instance; each Datastore has
    its own.
  * createDataport's default retention {count: 0, duration: 0} would keep
    no point at all (spec §1.8: count 0 is never stored); 0 now means
    "infinity", which is what the default was meant to do.
  * `start()` slept a second and `read()` slept a second before querying;
    here `read` first flushes the points buffered for that alias instead.
  * `write`/`record` to an alias with no dataport (autocreate off, or its
    creation refused) dropped the points silently; here they go to
    `failures()` with the reason.

`autocreate` is falsy, a dict of createDataport options (format, name,
preprocess, count, duration, visibility), or True: create missing dataports
with a format chosen by the first value given (an int: integer, another
number: float, text: string). Anything else is refused by the constructor.
"""
import logging
import numbers
import threading
import time
from collections.abc import Sequence
from typing import Any, Literal

import orjson

from ._core.series import SeriesBuffer
from ._onep_engine import call_encoded
from .exceptions import JsonRPCRequestException, NotStoredError, OnePlatformException
from .ingest.rules import FORMAT_KINDS, check_timestamp, coerce_value, kind_of_info
from .onep import OnepV1

log = logging.getLogger(__name__)

transport_config = {
    "host": "m2.exosite.com",
    "port": "80",
    "url": "/onep:v1/rpc/process",
    "https": False,
    "timeout": 3,
}

datastore_config = {
    "write_buffer_size": 1024,
    "read_cache_size": 1024,
    "read_cache_expire_time": 5,
    "log_level": "debug",
}

DEFAULT_FLUSH_TIMEOUT = 30.0
NOT_SENT = "not sent"
_NO_SAMPLE = object()  # _resolve: look the alias up, create nothing
#: The keys of an autocreate dict: createDataport's options.
AUTOCREATE_OPTIONS = frozenset(("format", "name", "preprocess", "count", "duration", "visibility"))


def autocreate_options(autocreate: object) -> dict[str, Any] | None:
    """The createDataport options autocreate asks for ({} for True: the
    format is chosen per value), or None when it is off. ValueError says
    what is wrong with any other value."""
    if not autocreate:
        return None
    if autocreate is True:
        return {}
    if not isinstance(autocreate, dict):
        raise ValueError("autocreate must be False, True or a dict of createDataport options "
                         f"({', '.join(sorted(AUTOCREATE_OPTIONS))}), not {autocreate!r}")
    unknown = sorted(set(autocreate) - AUTOCREATE_OPTIONS)
    if unknown:
        raise ValueError(f"autocreate: unknown option(s) {', '.join(map(repr, unknown))}; "
                         f"createDataport takes {', '.join(sorted(AUTOCREATE_OPTIONS))}")
    if "format" in autocreate and autocreate["format"] not in FORMAT_KINDS:
        raise ValueError(f"autocreate: format must be one of {', '.join(FORMAT_KINDS)}, "
                         f"not {autocreate['format']!r}")
    return dict(autocreate)


def format_for(value: object) -> str | None:
    """The dataport format that stores `value` as given, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return "integer"
    if isinstance(value, numbers.Real):
        return "float"
    return "string" if isinstance(value, str) else None


class Datastore:
    def __init__(self, cik: str, interval: float, autocreate: bool | dict[str, Any] = False,
                 config: dict[str, Any] = datastore_config,
                 transport: dict[str, Any] = transport_config) -> None:
        transport = dict(transport_config, **transport)
        self._cik = cik
        self._interval = max(1, interval)
        self._autocreate = autocreate_options(autocreate)
        self._config = dict(datastore_config, **config)
        self._onep = OnepV1(transport["host"], transport["port"], transport["url"], transport["https"],
                            transport["timeout"])
        size = self._config["write_buffer_size"]
        self._buffer = SeriesBuffer(kind_of=self._kind_of, max_points=max(1, size // 2), max_age=self._interval)
        self._lock = threading.Lock()          # the dicts below
        self._flush_lock = threading.Lock()    # one flusher at a time (take/ack pairs)
        self._live: dict[str, Any] = {}                      # alias -> last value written in this interval
        self._rids: dict[str, str] = {}                      # alias -> rid of an existing dataport
        self._kinds: dict[str, str] = {}                     # alias -> "int" | "float" | "string"
        self._cache: dict[str, dict[str, Any]] = {}          # alias -> {"data": [...], "time": t}
        self._failures: dict[str, list[tuple[int, Any, str]]] = {}  # alias -> [(t, value, status), ...]
        self._last_error: dict[str, str] = {}                # alias -> why its last flush failed
        self._wake = threading.Event()
        self._stopping = False
        self._force = False
        self._final = True
        self._thread = None

    # --- pyonep's public surface ------------------------------------------
    def write(self, alias: str, value: Any) -> bool:
        """Sets the live value of alias for this interval: True if alias had
        none yet, False if this replaced one (only the last is sent), False
        if the buffer is full or alias is no dataport (and autocreate is off
        or could not create it: the value is then in failures())."""
        if self._full():
            return False
        if not self._resolve(alias, value):
            self._refuse(alias, [(int(time.time()), value)], self._missing(alias))
            return False
        try:
            value = coerce_value(value, self._kinds[alias])
        except ValueError as exc:
            self._refuse(alias, [(int(time.time()), value)], f"invalid: {exc}")
            return False
        with self._lock:
            new = alias not in self._live
            self._live[alias] = value
        return new

    def record(self, alias: str, entries: Sequence[Sequence[Any]]) -> Literal[False] | None:
        """Buffers [[t, value], ...] for alias (t < 0: seconds before now).
        None, or False if the buffer is full or alias is no dataport (the
        points are then in failures())."""
        if self._full():
            return False
        now = int(time.time())
        if not self._resolve(alias, entries[0][1] if entries else _NO_SAMPLE):
            if entries:
                self._refuse(alias, [(now + t if t < 0 else t, value) for t, value in entries],
                             self._missing(alias))
            return False
        kind = self._kinds[alias]
        ts, values = [], []
        for t, value in entries:
            try:
                t = check_timestamp(now + t if t < 0 else t, str(t))
                values.append(coerce_value(value, kind))
            except (ValueError, TypeError) as exc:
                self._refuse(alias, [(t, value)], f"invalid: {exc}")
                continue
            ts.append(t)
        if ts and self._buffer.append(alias, ts, values):
            self._wake.set()
        if self._full(half=True):
            self._wake.set()
        return None

    def read(self, alias, count=1, forcequery=False):
        """The newest count points of alias ([[t, v], ...], newest first),
        from the cache while it is fresh; False on error (logged)."""
        if not self._resolve(alias):
            log.error("read %s: no such dataport", alias)
            return False
        with self._lock:
            cached = self._cache.get(alias)
        expire = self._config["read_cache_expire_time"]
        if (not forcequery and cached is not None and time.time() - cached["time"] <= expire
                and len(cached["data"]) == count):
            return cached["data"]
        self._flush(only=alias)  # read your own buffered writes
        try:
            ok, data = self._onep.read(self._cik, self._rids[alias], {"limit": count, "sort": "desc"})
        except (JsonRPCRequestException, OnePlatformException) as exc:
            log.error("read %s: %s", alias, exc)
            return False
        if not ok:
            log.error("read %s: %s", alias, data)
            return False
        with self._lock:
            if len(self._cache) >= self._config["read_cache_size"]:
                self._cache.clear()
            self._cache[alias] = {"data": data, "time": time.time()}
        return data

    def createDataport(self, alias, format, name=None, preprocess=[], count=0, duration=0,  # noqa: N802,B006
                       visibility="public"):
        if self._lookup(alias):
            return False, "Alias already existed."
        description = {"format": format, "name": alias if name is None else name, "visibility": visibility,
                       "retention": {"count": count or "infinity", "duration": duration or "infinity"},
                       "preprocess": list(preprocess)}
        try:
            ok, rid = self._onep.create(self._cik, "dataport", description)
            if ok:
                mapped, status = self._onep.map(self._cik, rid, alias)
                if not mapped:
                    log.error("createDataport %s: map answered %s; dropping the new dataport", alias, status)
                    self._onep.drop(self._cik, rid)
                    ok = False
        except (JsonRPCRequestException, OnePlatformException) as exc:
            log.error("createDataport %s: %s", alias, exc)
            ok = False
        if not ok:
            return False, "Failed to create Dataport."
        with self._lock:
            self._rids[alias] = rid
            self._kinds[alias] = FORMAT_KINDS[format]
        return True, True

    def comment(self, alias, visibility, commentstr):
        if not self._resolve(alias):
            return False, "invalid"
        return self._onep._call("comment", self._cik, [self._rids[alias], visibility, commentstr], False)

    def start(self, daemon=False):
        if self.isThreadAlive():
            return
        self._stopping = self._force = False
        self._thread = threading.Thread(target=self._run, name="pyonep-fast-datastore", daemon=daemon)
        self._thread.start()

    def stop(self, force=False):
        """Flushes everything (force: one attempt, no retries) and stops the
        worker; points it could not store are then in failures()."""
        self._force = self._force or force
        self._halt(final=True)

    def restart(self):
        """Stops the worker after one flush attempt, keeping whatever is
        still buffered for the new worker, and starts it again."""
        self._halt(final=False)
        self.start()

    def isThreadAlive(self):  # noqa: N802
        return self._thread is not None and self._thread.is_alive()

    # --- ours: shutdown and the report of points not stored --------------
    def failures(self) -> dict[str, list[tuple[int, Any, str]]]:
        """{alias: [(timestamp, value, status), ...]} of every point that
        was not stored (refused by the server, or unsendable at shutdown)."""
        with self._lock:
            return {alias: list(points) for alias, points in self._failures.items()}

    def close(self) -> dict[str, list[tuple[int, Any, str]]]:
        """stop(), then a last flush of anything still buffered; returns
        failures() ({} when every point was stored)."""
        self.stop()
        self._finish()
        return self.failures()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        failures = self.close()
        if failures and exc_type is None:
            raise NotStoredError(failures)

    # --- internals -----------------------------------------------------------
    def _kind_of(self, alias):
        return self._kinds[alias]

    def _halt(self, final):
        self._final = final
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._thread = None

    def _full(self, half=False):
        limit = self._config["write_buffer_size"]
        with self._lock:
            live = len(self._live)
        return self._buffer.pending().points + live >= (limit // 2 if half else limit)

    def _lookup(self, alias):
        """The rid of alias, or None if there is no such alias."""
        try:
            ok, rid = self._onep.lookup(self._cik, "alias", alias)
            if not ok:
                return None
            ok, info = self._onep.info(self._cik, rid, {"description": True})
        except (JsonRPCRequestException, OnePlatformException) as exc:
            log.error("lookup %s: %s", alias, exc)
            return None
        kind = kind_of_info(info) if ok else None
        if kind is None:
            log.error("%s is not a dataport with a known format", alias)
            return None
        with self._lock:
            self._rids[alias] = rid
            self._kinds[alias] = kind
        return rid

    def _resolve(self, alias, sample=_NO_SAMPLE):
        """True if alias names a dataport, created now when autocreate is on
        and a `sample` value is given (the format autocreate names, else
        the one that stores the sample)."""
        if alias in self._rids or self._lookup(alias):
            return True
        if self._autocreate is None or sample is _NO_SAMPLE:
            return False
        options = dict(self._autocreate)
        format = options.pop("format", None) or format_for(sample)
        if format is None:
            return False
        ok, _ = self.createDataport(alias, format, **options)
        return ok

    def _missing(self, alias):
        """Why points for alias, which names no dataport, are not stored."""
        if self._autocreate is None:
            return f"not stored: no dataport with alias {alias!r} (autocreate is off)"
        return f"not stored: no dataport with alias {alias!r}, and autocreate could not create one"

    def _refuse(self, alias, points, status):
        log.error("%s: %d points not stored: %s", alias, len(points), status)
        with self._lock:
            self._failures.setdefault(alias, []).extend((t, v, status) for t, v in points)

    def _stamp_live(self):
        with self._lock:
            live, self._live = self._live, {}
        now = int(time.time())
        for alias, value in live.items():
            self._buffer.append(alias, [now], [value])

    def _run(self):
        next_tick = time.monotonic() + self._interval
        while not self._stopping:
            self._wake.wait(max(0.0, next_tick - time.monotonic()))
            self._wake.clear()
            everything = time.monotonic() >= next_tick
            if everything:
                self._stamp_live()
                next_tick = time.monotonic() + self._interval
            try:
                self._flush(everything=everything)
            except Exception:  # never let the worker die: the points stay buffered
                log.exception("datastore flush failed")
        if self._final:
            self._finish()
        else:
            try:
                self._flush(everything=True)
            except Exception:
                log.exception("datastore flush failed")

    def _finish(self):
        """The final flush: retried until flush_timeout unless forced;
        anything still unsent then goes to the report."""
        self._stamp_live()
        deadline = time.monotonic() + self._config.get("flush_timeout", DEFAULT_FLUSH_TIMEOUT)
        pause = 0.05
        while True:
            try:
                self._flush(everything=True)
            except Exception:
                log.exception("datastore flush failed")
            if not self._buffer.pending().points or self._force or time.monotonic() >= deadline:
                break
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)
        with self._flush_lock:
            for alias in list(self._kinds):
                while True:
                    body, count = self._buffer.take(alias)
                    if not count:
                        break
                    self._refuse(alias, orjson.loads(body), self._last_error.get(alias, NOT_SENT))
                    self._buffer.ack(alias, count)

    def _flush(self, everything=False, only=None):
        """Sends the buffered points (all of them, those of `only`, or of the
        aliases due by size or age) as recordbatch calls."""
        with self._flush_lock:
            if only is not None:
                aliases = [only]
            elif everything:
                aliases = list(self._kinds)
            else:
                aliases = self._buffer.due()
            for alias in aliases:
                while self._flush_one(alias):
                    pass

    def _flush_one(self, alias):
        """One recordbatch of alias's oldest points; True if it got an answer
        and more may be waiting."""
        body, count = self._buffer.take(alias)
        if not count:
            return False
        arguments = b"[" + orjson.dumps(self._rids[alias]) + b"," + body + b"]"
        try:
            [(ok, status)] = call_encoded(self._onep, self._cik, [("recordbatch", arguments)])
        except (JsonRPCRequestException, OnePlatformException) as exc:
            self._last_error[alias] = f"not sent: {exc}"
            log.warning("datastore: %d points of %s wait for the next flush: %s", count, alias, exc)
            return False
        self._last_error.pop(alias, None)
        if not ok:
            points = orjson.loads(body)
            if isinstance(status, list):  # the entries the server refused: [[t, status], ...]
                refused = dict(status)
                for t, value in points:
                    if t in refused:
                        self._refuse(alias, [(t, value)], refused[t])
            else:
                self._refuse(alias, points, status)
        self._buffer.ack(alias, count)
        return True
