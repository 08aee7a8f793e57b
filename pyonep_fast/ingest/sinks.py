"""Where bulk ingest sends points: One Platform dataports or M2X streams.

The pipeline (ingest.pipeline) reads, chunks, orders, checkpoints and
verifies; a sink is the API-specific rest, five things:

  * `NOUN`: what its targets are called in a report;
  * `identity()`: what the target is, for the checkpoint (JSON; no
    credential in clear);
  * `kinds(targets, create)`: the value kind ("int", "float", "string") of
    each target, creating missing ones when `create` gives their kinds;
    returns (kinds, created); IngestError names a target that cannot be
    written;
  * `prepare(parts, kinds)`: a chunk's columns encoded for sending (once:
    retries send the same bytes), with `.size` in bytes;
  * `send(prepared)`: the points the server refused one by one, [(target
    index, t, status)]; raises Retry for what is worth sending again
    (transport, overload) and Refused for what is not (auth, bad target);
  * `read(index, kind, lo, hi)`: pages of (timestamps, values) stored in
    lo..hi (seconds), for verify, in any order.
"""
import hashlib

import numpy as np
import orjson

from .._core.series import Series
from .._onep_engine import call_encoded
from ..exceptions import HTTPError, IngestError, JsonRPCRequestException, OnePlatformException, TransportError
from .columns import COLUMNS
from .rules import FORMAT_KINDS, iso_ms, kind_of_info
from .sources import resource_of

VERIFY_PAGE = 200_000        # points per One Platform read when verifying
DATAPORT_FORMATS = {kind: fmt for fmt, kind in FORMAT_KINDS.items()}


class Retry(Exception):
    """A request that may succeed when sent again; args[0] says why not now."""


class Refused(Exception):
    """A request that would fail again; args[0] says why."""


class _Prepared:
    __slots__ = ("payload", "size")

    def __init__(self, payload, size):
        self.payload = payload
        self.size = size


# ------------------------------------------------------------ One Platform

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


class OnepSink:
    """Dataports of the client a CIK (or pyonep auth dict) names: a
    `recordbatch` call per dataport and chunk, in one request."""

    NOUN = "dataports"

    def __init__(self, client, auth, targets):
        self.client = client
        self.auth = auth
        self.targets = targets
        self.resources = [orjson.dumps(resource_of(t)) for t in targets]

    def identity(self):
        """The RID of the auth's client and of each dataport (None: no such
        alias yet). The same server moved to another address is the same
        target; another server, CIK or dataport is not."""
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

    def kinds(self, targets, create=None):
        if create is None:
            return dataport_kinds(self.client, self.auth, targets), []
        return dataport_kinds(self.client, self.auth, targets, create)

    def prepare(self, parts, kinds):
        calls = []
        for part in parts:
            series = Series(kinds[part.target])
            series.append(part.ts, part.values)
            calls.append((b"[" + self.resources[part.target] + b"," + series.encode_entries() + b"]", part.target))
        return _Prepared(calls, sum(len(args) for args, _ in calls))

    def send(self, prepared):
        try:
            results = call_encoded(self.client, self.auth, [("recordbatch", args) for args, _ in prepared.payload])
        except JsonRPCRequestException as exc:
            raise Retry(f"transport: {exc}") from None
        except OnePlatformException as exc:
            if exc.code in (400, 401):
                raise Refused(f"server: {exc}") from None
            raise Retry(f"server: {exc}") from None
        refused = []
        for (_, target), (isok, status) in zip(prepared.payload, results):
            if isok:
                continue
            if not isinstance(status, list):
                raise Refused(f"{self.targets[target]}: recordbatch answered {status!r}")
            refused += [(target, entry[0], entry[1]) for entry in status]
        return refused

    def read(self, index, kind, lo, hi):
        resource = resource_of(self.targets[index])
        start = lo
        while start <= hi:
            ok, points = self.client.read(self.auth, resource, {"starttime": start, "endtime": hi, "sort": "asc",
                                                                 "limit": VERIFY_PAGE})
            if not ok:
                raise Refused(f"read of t={lo}..{hi} answered {points}")
            if not points:
                return
            yield COLUMNS.timestamps([p[0] for p in points]), COLUMNS.values([p[1] for p in points], kind)
            if len(points) < VERIFY_PAGE:
                return
            start = points[-1][0] + 1


# ------------------------------------------------------------ M2X

#: An M2X stream's type -> the value kind its values are read as (numbers are doubles there).
M2X_STREAM_KINDS = {"numeric": "float", "alphanumeric": "string"}
M2X_READ_PAGE = 10_000   # the most values one M2X read returns


def key_identity(key):
    """What identifies an API key in a checkpoint, without the key: a
    digest of it (distinct keys, distinct digests; the key cannot be read
    back from it)."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16, person=b"pyonep-fast-key").hexdigest()


def _m2x_message(error):
    """M2X's words for an HTTPError (m2x.errors.message, imported only on an error)."""
    from ..m2x.errors import message

    return message(error)


class M2XSink:
    """Streams of one M2X device, a stream per target: each chunk is one
    POST devices/{id}/updates of every stream's values (the M2X client's C
    encoding, split into requests within the server's limits)."""

    NOUN = "streams"

    def __init__(self, client, key, device, targets):
        from ..m2x import values

        self.values = values
        self.client = client
        self.api = client.api
        self.key = key
        self.device = device
        self.targets = targets
        self.device_path = f"devices/{device}"

    def _get(self, path, **params):
        """GET path: (status, JSON) with 404 as (404, None); other HTTP errors raise IngestError."""
        try:
            return 200, self.api.get(path, params=params or None)
        except HTTPError as error:
            if error.response.status_code == 404:
                return 404, None
            raise IngestError(_m2x_message(error)) from None
        except TransportError as error:
            raise IngestError(f"cannot reach the server: {error}") from None

    def _stream_path(self, name):
        return f"{self.device_path}/streams/{name}"

    def identity(self):
        """The server's URL, the key (as key_identity), the device and the
        streams: a checkpoint is resumed only for the same of each."""
        return {"api": "m2x", "url": self.client.endpoint, "key": key_identity(self.key), "device": self.device,
                "streams": list(self.targets)}

    def kinds(self, targets, create=None):
        status, _ = self._get(self.device_path)
        if status == 404:
            raise IngestError(f"device {self.device!r} not found (or not visible to this key)")
        kinds, created = [], []
        for name in targets:
            if not name or "/" in name:
                raise IngestError(f"{name!r} cannot be an M2X stream name")
            status, stream = self._get(self._stream_path(name))
            if status == 404:
                if not create or name not in create:
                    raise IngestError(f"stream {name!r} of device {self.device!r} does not exist "
                                      "(create it first, or give --create)")
                kind = "alphanumeric" if create[name] == "string" else "numeric"
                try:
                    stream = self.api.put(self._stream_path(name), data={"type": kind})
                except HTTPError as error:
                    raise IngestError(f"cannot create stream {name!r}: {_m2x_message(error)}") from None
                created.append(name)
            kind = M2X_STREAM_KINDS.get(stream.get("type") if isinstance(stream, dict) else None)
            if kind is None:
                raise IngestError(f"stream {name!r} has type {stream.get('type')!r}, not numeric or alphanumeric")
            kinds.append(kind)
        return kinds, created

    def prepare(self, parts, kinds):
        lists = {}
        for part in parts:
            stamps = np.asarray(part.ts, dtype=np.int64).astype("datetime64[s]")
            lists[self.targets[part.target]] = (stamps, np.asarray(part.values, dtype=np.float64)
                                                if kinds[part.target] != "string" else np.array(part.values))
        bodies = self.values.updates_bodies(self.api, {"values": lists})
        return _Prepared(bodies, sum(len(body) for body, _, _ in bodies))

    def send(self, prepared):
        url = self.api.url(f"{self.device_path}/updates")
        for body, _, _ in prepared.payload:
            try:
                self.api.send("POST", url, body)
            except HTTPError as error:
                status = error.response.status_code
                if status == 429 or status >= 500:
                    raise Retry(f"server: {_m2x_message(error)}") from None
                raise Refused(f"server: {_m2x_message(error)}") from None
            except TransportError as error:
                raise Retry(f"transport: {error}") from None
        return []   # M2X accepts or refuses a request whole

    def read(self, index, kind, lo, hi):
        """Newest first, a page at a time; only points at whole seconds
        (the ones an ingest sends) are given."""
        path = f"{self._stream_path(self.targets[index])}/values"
        end = hi * 1000
        while True:
            try:
                page = self.api.get(path, params={"start": iso_ms(lo * 1000), "end": iso_ms(end),
                                                  "limit": M2X_READ_PAGE})
            except HTTPError as error:
                raise Refused(f"read of t={lo}..{hi} answered {_m2x_message(error)}") from None
            except TransportError as error:
                raise Refused(f"read of t={lo}..{hi} failed: {error}") from None
            points = page.get("values") or []
            if not points:
                return
            ms = np.array([p["timestamp"].rstrip("Z") for p in points], dtype="datetime64[ms]").view(np.int64)
            whole = ms % 1000 == 0
            ts = ms[whole] // 1000
            values = [p["value"] for p, keep in zip(points, whole.tolist()) if keep]
            yield COLUMNS.timestamps(ts), COLUMNS.values(values, kind)
            if len(points) < M2X_READ_PAGE:
                return
            end = int(ms[-1]) - 1


def m2x_client_for_url(key, url=None, timeout=None):
    """An M2XClient for a key and the server at url (None: $PYONEP_FAST_URL,
    else where `pyonep-fast serve` listens)."""
    from ..compat import server_url
    from ..m2x.client import M2XClient

    return M2XClient(key, endpoint=server_url(url), timeout=timeout)
