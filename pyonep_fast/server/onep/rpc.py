"""The One Platform JSON-RPC engine (spec sections 1-3, 8, 9).

`Engine.answer(envelope)` authenticates a decoded request envelope, runs
its calls one after another and returns the response body as a list of
pieces in order (none when no call had an id): the entries are never copied
into one body, which the endpoint writes a piece at a time
(http.body_response); `Engine.process` returns it joined (bytes). Statuses other than "ok" travel as CallRefused; an
argument list of the wrong shape is the per-call 501 error. Each call runs
in `store.atomic()`: one that raises (a refusal or an internal error) is
rolled back; a handler returns a CallRefused instead when the changes made
stand (recordbatch's partial success).

Budgets (issue 9; their values in server/limits.py): a request holds at
most `calls_per_request` calls (more: the whole-request error 413, context
"calls", and none runs); its calls run in slices of at most SLICE_SECONDS
of the event loop, so a long request never holds up the others for longer.
A `read` that would return more than `points_per_read` points is refused
`{"status": "fail", "error": {"code": 413, "message": "Request Entity Too
Large", "context": "points"}}`, before any point is loaded; a call whose
result would take the response's results past `response_bytes` is refused
the same way with context "response" (reads are estimated before they run,
every entry is counted as built), and later calls still run. A recordbatch
whose status list would pass either budget is refused whole, nothing stored.
"""
import asyncio
import contextlib
import logging
import re
import sqlite3
import time
from inspect import iscoroutine

import orjson

from ..._core.entries import INT64_MAX, INVALID
from ..limits import DEFAULT
from . import descriptions
from .access import FULL, READ, Principal, live_subscribers, references, token_covers
from .descriptions import COUNT_KEYS, ENTITY_LIMITS, TYPES
from .errors import CallRefused, fail, over_budget, refused, request_error
from .entries import entries_columns, off_loop
from .limits import check_room, owned_count
from .points import apply_retention, ingest_pairs, store_columns, typed_value
from .rules import SCRIPT_ACTIVITY, SCRIPT_STATUS, is_script
from .state import ACTIVATED, EXPIRED, NOTACTIVATED, now

log = logging.getLogger(__name__)

HEX40 = re.compile(r"[0-9a-f]{40}\Z")
WAIT_DEFAULT_MS = 30000
WAIT_MAX_MS = 300000
MAX_ID_LENGTH = 40
SLICE_SECONDS = 0.02
NO_RESULT = object()
POINT_JSON_BYTES = 24      # a point's JSON besides its value's: `[1420070400,` ... `],`

INFO_KEYS = ("aliases", "basic", "comments", "counts", "description", "key", "shares", "storage", "subscribers",
             "tagged", "tags", "usage")
LISTING_TYPES = TYPES + ("token",)
USAGE_ENTITIES = ("client", "dataport", "datarule", "dispatch")
USAGE_CONSUMABLES = ("share", "email", "http", "sms", "xmpp")


def _int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _args(args, low, high=None):
    """Checks the argument count (per-call 501 otherwise)."""
    if not low <= len(args) <= (low if high is None else high):
        raise fail()
    return args


def _invalid_admitter(call, partial):
    """entries_columns' check on the number of invalid entries, before their
    list is built: a record with any is `invalid`; a recordbatch whose status
    list the request's budgets cannot carry is refused whole (none stored)."""
    def admit(count):
        if count and not partial:
            raise refused("invalid")
        call.within_budget(count, POINT_JSON_BYTES * count)
    return admit


def _stores_columns(res):
    """Entries for res are stored as parsed (no preprocess, no rule)."""
    return res.type == "dataport" and not res.desc["preprocess"]


def _options(value):
    if not isinstance(value, dict):
        raise fail()
    return value


class Call(Principal):
    """One request's view of the world: the calling client, its rights, and
    the credential (CIK or token) it authenticated with."""

    __slots__ = ("store", "credential", "now", "procedure", "limits", "response_room")

    def __init__(self, store, caller, token, credential, limits=DEFAULT):
        super().__init__(caller, token)
        self.store = store
        self.credential = credential
        self.now = now()
        self.procedure = None
        self.limits = limits
        self.response_room = limits.response_bytes   # bytes of results this response may still carry

    def within_budget(self, points, nbytes):
        """Refuses (over_budget) a result of `points` points and about
        `nbytes` bytes that the request's budgets cannot carry."""
        if points > self.limits.points_per_read:
            raise over_budget("points")
        if nbytes > self.response_room:
            raise over_budget("response")

    def charged(self, call, entry):
        """entry, counted against the response budget; the call's refusal in
        its place when it would pass it (only reads come near it, and they
        change nothing)."""
        if entry is None:
            return None
        if len(entry) > self.response_room:
            return _refusal_entry(True, call.get("id"), over_budget("response"))
        self.response_room -= len(entry)
        return entry

    def resolve(self, ident, level=FULL, procedure=None):
        """The Resource a ResourceID names, checked for access (spec 2.1, 2.4):
        a malformed one or an alias not found is invalid; an RID the caller
        cannot reach is restricted whether it exists elsewhere, was dropped
        or never existed (a client cannot tell those apart)."""
        store = self.store
        if isinstance(ident, str) and HEX40.match(ident):
            res = store.get(ident)
            if res is None:
                raise refused("restricted")
        elif isinstance(ident, dict) and isinstance(ident.get("alias"), str) and len(ident) == 1:
            alias = ident["alias"]
            res = self.caller if alias == "" else store.get(self.caller.aliases.get(alias))
            if res is None:
                raise refused("invalid")
        else:
            raise refused("invalid")
        self.check(res, level, procedure)
        return res

    def check(self, res, level=FULL, procedure=None):
        """restricted unless the call's procedure (or `procedure`) may act on res."""
        if not self.allows(procedure or self.procedure, res, level):
            raise refused("restricted")

    def client(self, ident):
        res = self.resolve(ident)
        if not res.is_client:
            raise refused("invalid")
        return res

    def data_resource(self, ident, level=FULL, procedure=None):
        res = self.resolve(ident, level, procedure)
        if res.is_client:
            raise refused("invalid")
        return res

    def caller_checked(self):
        self.check(self.caller)
        return self.caller


async def next_point(store, res, since, timeout, still_allowed):
    """The first point stored in res after `since` (the first to arrive when
    None) within timeout seconds, or None. Access is checked again when a
    point arrives: refused("restricted") if still_allowed() no longer holds."""
    arrived = asyncio.get_running_loop().create_future()

    def on_points(columns):
        if arrived.done():
            return
        with store.lock:
            allowed = still_allowed()
        if not allowed:
            arrived.set_exception(refused("restricted"))
            return
        view = columns.view()
        for i in range(len(view)):
            if since is None or view.ts[i] > since:
                arrived.set_result(view.point(i))
                return

    cancel = store.watch(res.rid, on_points)
    try:
        return await asyncio.wait_for(arrived, timeout)
    except asyncio.TimeoutError:
        return None
    finally:
        cancel()


def _result_entry(has_id, call_id, result):
    if not has_id:
        return None
    if result is NO_RESULT:
        return orjson.dumps({"id": call_id, "status": "ok"})
    return orjson.dumps({"id": call_id, "status": "ok", "result": result})


def _entry(has_id, call_id, result):
    """The entry of a call that returned: a CallRefused returned, not raised,
    is a status whose changes stand (recordbatch's partial success)."""
    if isinstance(result, CallRefused):
        return _refusal_entry(has_id, call_id, result)
    return _result_entry(has_id, call_id, result)


def envelope_error(envelope, limits):
    """The whole-request error of a decoded envelope whose shape or number
    of calls is refused (None when it is not): --null mode answers these too."""
    if not isinstance(envelope, dict) or "auth" not in envelope:
        return request_error(400, "auth")
    calls = envelope.get("calls")
    if not isinstance(calls, list):
        return request_error(400, "calls")
    if len(calls) > limits.calls_per_request:     # before any per-call work on the loop
        return request_error(413, "calls")
    if not all(isinstance(c, dict) for c in calls):
        return request_error(400, "calls")
    return None


def _refusal_entry(has_id, call_id, refusal):
    if not has_id:
        return None
    entry = {"id": call_id, "status": refusal.status}
    if refusal.result is not None:
        entry["result"] = refusal.result
    if refusal.error is not None:
        entry["error"] = refusal.error
    return orjson.dumps(entry)


def _array(entries):
    """The pieces of the JSON array of the encoded entries (none without an entry)."""
    if not entries:
        return []
    pieces = [b"["]
    for entry in entries:
        pieces += (entry, b",")
    pieces[-1] = b"]"
    return pieces


async def _after_a_pause(entry):
    """entry, once the event loop has had a turn."""
    await asyncio.sleep(0)
    return entry


class Engine:
    def __init__(self, store):
        self.store = store
        self.procedures = {
            name[5:]: getattr(self, name) for name in dir(self) if name.startswith("proc_")
        }

    # --- envelope --------------------------------------------------------
    def authenticate(self, auth, limits=DEFAULT):
        """(Call, None) or (None, error body) for the auth member."""
        if not isinstance(auth, dict):
            return None, request_error(400, "auth")
        store = self.store
        token = None
        credential = auth.get("cik")
        if "token" in auth:
            token = store.tokens.get(auth["token"]) if isinstance(auth["token"], str) else None
            if token is None or token.expired(now()):
                return None, request_error(401, "auth")
            res = store.get(token.rid)
            if res is None:
                return None, request_error(401, "auth")
            caller = res if res.is_client else res.owner
            credential = token.token
        else:
            caller = store.client_by_cik(auth.get("cik"))
            if caller is None or caller.status != ACTIVATED:
                return None, request_error(401, "auth")
            if "client_id" in auth or "resource_id" in auth:
                key = "client_id" if "client_id" in auth else "resource_id"
                target = store.get(auth[key])
                if target is None or not target.is_within(caller):
                    return None, request_error(401, "auth")
                if key == "client_id":
                    if not target.is_client:
                        return None, request_error(401, "auth")
                    caller = target
                elif target.owner is not None and target is not caller:
                    caller = target.owner
        return Call(store, caller, token, credential, limits), None

    def begin(self, envelope, limits=DEFAULT):
        """Runs a decoded request's calls as far as they go without waiting.

        Returns the response body's pieces (a list; the caller answers once
        `store.durable` says the changes are committed), or, when a call
        waits (`wait`), a coroutine that runs the rest and returns the
        pieces after its own commit.
        """
        error = envelope_error(envelope, limits)
        if error is not None:
            return [error]
        calls = envelope["calls"]
        entries = []
        try:
            with self.store.lock:
                context, error = self.authenticate(envelope["auth"], limits)
            if error is not None:
                return [error]
            slice_ends = time.monotonic() + SLICE_SECONDS
            for index, call in enumerate(calls):
                entry = self.run_call(context, call)
                if not iscoroutine(entry) and index + 1 < len(calls) and time.monotonic() > slice_ends:
                    entry = _after_a_pause(entry)   # the rest runs after the loop served the others
                if iscoroutine(entry):
                    return self._finish(context, calls, index, entry, entries)
                entry = context.charged(call, entry)
                if entry is not None:
                    entries.append(entry)
        except Exception:
            log.exception("internal error while running calls")
            return [request_error(500, "calls")]
        return _array(entries)

    async def _finish(self, context, calls, index, waiting, entries):
        """The rest of a request from the call at index, whose entry is the
        coroutine `waiting`; returns the body's pieces once it is all durable."""
        try:
            entry = await waiting
            slice_ends = time.monotonic() + SLICE_SECONDS
            while True:
                entry = context.charged(calls[index], entry)
                if entry is not None:
                    entries.append(entry)
                index += 1
                if index == len(calls):
                    break
                if time.monotonic() > slice_ends:
                    await asyncio.sleep(0)
                    slice_ends = time.monotonic() + SLICE_SECONDS
                entry = self.run_call(context, calls[index])
                if iscoroutine(entry):
                    entry = await entry
            pieces = _array(entries)
        except Exception:
            log.exception("internal error while running calls")
            pieces = [request_error(500, "calls")]
        return await self._durable(pieces)

    async def _durable(self, pieces):
        """pieces once the changes are committed; the 500 error if that failed."""
        try:
            await self.store.durable()
        except sqlite3.Error:          # logged by the store
            return [request_error(500, "calls")]
        return pieces

    async def answer(self, envelope, limits=DEFAULT):
        """The response body's pieces for a decoded request envelope, once durable."""
        outcome = self.begin(envelope, limits)
        return await self._durable(outcome) if isinstance(outcome, list) else await outcome

    async def process(self, envelope, limits=DEFAULT):
        """The response body (bytes) for a decoded request envelope, once durable."""
        return b"".join(await self.answer(envelope, limits))

    def run_call(self, context, call):
        """Runs one call; returns its encoded response entry (None without
        id), or a coroutine giving it when the procedure has to wait."""
        has_id = "id" in call and call["id"] is not None
        call_id = call.get("id")
        if has_id and not (isinstance(call_id, (int, float, str, orjson.Fragment)) and not isinstance(call_id, bool)):
            return orjson.dumps({"id": call_id, "status": "fail",
                                 "error": {"code": 400, "message": "Bad Request", "context": "calls"}})
        if isinstance(call_id, str) and len(call_id) > MAX_ID_LENGTH:
            return orjson.dumps({"id": call_id, "status": "fail",
                                 "error": {"code": 400, "message": "Bad Request", "context": "calls"}})
        procedure = call.get("procedure")
        arguments = call.get("arguments", [])
        handler = self.procedures.get(procedure) if isinstance(procedure, str) else None
        try:
            if context.caller.desc.get("locked"):
                raise refused("locked")
            if handler is None:
                raise fail("procedure")
            if not isinstance(arguments, list):
                raise fail()
            context.procedure = procedure
            context.now = now()         # stamped when it runs: a wait before it may have taken minutes
            with self.store.atomic():   # a call that raises changes nothing
                result = handler(context, arguments)
        except CallRefused as refusal:
            return _refusal_entry(has_id, call_id, refusal)
        if iscoroutine(result):
            return self._entry_when_done(has_id, call_id, result)
        return _entry(has_id, call_id, result)

    async def _entry_when_done(self, has_id, call_id, waiting):
        try:
            result = await waiting
        except CallRefused as refusal:
            return _refusal_entry(has_id, call_id, refusal)
        return _entry(has_id, call_id, result)

    # --- time series -------------------------------------------------------
    def proc_read(self, call, args):
        _args(args, 1, 2)
        options = _options(args[1]) if len(args) > 1 else {}
        res = call.data_resource(args[0], READ)
        start = options.get("starttime", 0)
        end = options.get("endtime", call.now)
        limit = options.get("limit", 1)
        sort = options.get("sort", "desc")
        selection = options.get("selection", "all")
        if not (_number(start) and _number(end) and _int(limit)) or start < 0 or end < 0 or limit < 0:
            raise refused("invalid")
        if sort not in ("asc", "desc") or selection not in ("all", "givenwindow", "autowindow"):
            raise refused("invalid")
        apply_retention(res, call.now)
        points, value_bytes = res.series.extent(int(start), int(end), limit)
        call.within_budget(points, value_bytes + POINT_JSON_BYTES * points)
        return res.series.read(int(start), int(end), sort == "desc", limit, selection)

    def _write_now(self, call, targets):
        for res, value in targets:
            ingest_pairs(self.store, res, [(call.now, value)], call.now)
        return NO_RESULT

    def _typed(self, call, ident, value):
        res = call.data_resource(ident)
        typed = typed_value(res, value)
        if typed is INVALID:
            raise refused("invalid")
        return res, typed

    def proc_write(self, call, args):
        _args(args, 2, 3)
        return self._write_now(call, [self._typed(call, args[0], args[1])])

    def proc_writegroup(self, call, args):
        _args(args, 1)
        pairs = args[0]
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise fail()
        return self._write_now(call, [self._typed(call, ident, value) for ident, value in pairs])

    def _record(self, call, args, partial):
        res = call.data_resource(args[0])
        if off_loop(args[1]):
            return self._record_off_loop(call, args, res, partial)
        columns, invalid = entries_columns(res.series.kind, args[1], call.now, _invalid_admitter(call, partial))
        return self._store_record(call, res, columns, invalid)

    async def _record_off_loop(self, call, args, res, partial):
        """Large entries are parsed in a worker thread (the C parser releases
        the GIL) before the store lock is taken; other requests run
        meanwhile, so the target is resolved again (dropped, remapped or no
        longer accessible: the call is refused as if that came first). A
        bulk append's chunk rows are then inserted in slices between other
        requests (Storage.staged) and published by the atomic block."""
        columns, invalid = await asyncio.get_running_loop().run_in_executor(
            None, entries_columns, res.series.kind, args[1], call.now, _invalid_admitter(call, partial))
        if not _stores_columns(res):
            staging = contextlib.nullcontext(columns)
        else:   # a bulk append is inserted in slices between other requests first (storage.staged)
            staging = self.store.storage.staged(res.series, columns)
        async with staging as columns:
            with self.store.atomic():   # as run_call's: a failure changes nothing
                if call.data_resource(args[0]) is not res:
                    raise refused("invalid")
                return self._store_record(call, res, columns, invalid)

    def _store_record(self, call, res, columns, invalid):
        if not _stores_columns(res):
            ingest_pairs(self.store, res, columns.view().pairs(), call.now)
        else:
            store_columns(self.store, res, columns, call.now)
        if invalid:   # the valid entries are stored: returned, so atomic() keeps them
            return CallRefused([[t, "invalid"] for t in invalid])
        return NO_RESULT

    def proc_record(self, call, args):
        _args(args, 2, 3)
        return self._record(call, args, partial=False)

    def proc_recordbatch(self, call, args):
        _args(args, 2, 3)
        return self._record(call, args, partial=True)

    def proc_flush(self, call, args):
        _args(args, 1, 2)
        options = _options(args[1]) if len(args) > 1 else {}
        res = call.data_resource(args[0])
        bounds = [options.get(key) for key in ("newerthan", "olderthan")]
        if any(b is not None and not (_int(b) and b >= 0) for b in bounds):
            raise refused("invalid")
        res.series.delete_between(*bounds)
        return NO_RESULT

    def proc_wait(self, call, args):
        _args(args, 1, 2)
        options = args[1] if len(args) > 1 else {}
        res = call.data_resource(args[0], READ)
        if not isinstance(options, dict):
            raise refused("error")
        timeout = options.get("timeout", WAIT_DEFAULT_MS)
        since = options.get("since")
        if not _number(timeout) or timeout < 0 or not (since is None or _int(since)):
            raise refused("error")
        apply_retention(res, call.now)
        if since is not None:
            found = res.series.first_after(since)
            if found is not None:
                return found
        return self._wait(call, res, since, min(timeout, WAIT_MAX_MS) / 1000.0)

    async def _wait(self, call, res, since, timeout):
        point = await next_point(self.store, res, since, timeout, lambda: call.allows("wait", res, READ))
        if point is None:
            raise refused("expire")
        return point

    # --- resources -----------------------------------------------------------
    def _short_form(self, args, keywords):
        return bool(args) and (isinstance(args[0], list) or args[0] in keywords)

    def proc_create(self, call, args):
        if self._short_form(args, TYPES + ("clone",)):
            _args(args, 2)
            owner, (kind, given) = call.caller_checked(), args
        else:
            _args(args, 3)
            owner, kind, given = call.client(args[0]), args[1], args[2]
        if kind == "clone":
            return self._clone(call, owner, given)
        if kind not in TYPES:
            raise refused("invalid")
        desc = descriptions.new_description(kind, given)
        self._resolve_references(call, desc)
        check_room(self.store, owner, kind)
        res = self.store.create_resource(owner, kind, desc, call.now)
        if references(desc):
            self.store.set_referrer(res, call.caller.rid)
        return res.rid

    def _resolve_references(self, call, desc):
        """subscribe / preprocess operands given as ResourceIDs become RIDs;
        each must be readable by the caller (a token needs `read` on it)."""
        if desc.get("subscribe") is not None:
            desc["subscribe"] = call.data_resource(desc["subscribe"], READ, "read").rid
        for step in desc.get("preprocess", ()):
            if not _number(step[1]):
                step[1] = call.data_resource(step[1], READ, "read").rid

    def _clone(self, call, owner, given):
        if not isinstance(given, dict) or (("rid" in given) == ("code" in given)):
            raise refused("invalid")
        flags = [given.get(key, False) for key in ("noaliases", "nohistorical")]
        if not all(isinstance(flag, bool) for flag in flags):
            raise refused("invalid")
        if "rid" in given:
            source = call.client(given["rid"])
        else:
            share = self.store.share_by_code(given["code"])
            if share is None or share.activator is not None:
                raise refused("invalid")
            source = self.store.get(share.rid)
            if not source.is_client:
                raise refused("invalid")
        if owner.is_within(source):
            raise refused("invalid")
        check_room(self.store, owner, "client")
        return self.store.clone(source, owner, *flags, at=call.now, referrer=call.caller.rid).rid

    def proc_move(self, call, args):
        _args(args, 2, 3)
        options = _options(args[2]) if len(args) > 2 else {}
        keep = options.get("aliases", True)
        res = call.resolve(args[0])
        destination = call.client(args[1])
        if res is call.caller or destination.is_within(res) or not isinstance(keep, bool):
            raise refused("invalid")
        if destination is not res.owner:
            check_room(self.store, destination, res.type)
            self.store.move(res, destination, keep)
        return NO_RESULT

    def proc_update(self, call, args):
        _args(args, 2)
        res = call.resolve(args[0])
        if res is call.caller:
            raise refused("restricted")
        desc = descriptions.updated_description(res.type, res.desc, args[1])
        resolved = "subscribe" in args[1] or "preprocess" in args[1]
        if resolved:
            self._resolve_references(call, desc)
        if res.is_client:
            for key in ENTITY_LIMITS:
                limit = desc["limits"][key]
                if limit != "inherit" and limit < owned_count(self.store, res, key):
                    raise refused("limit")
        self.store.set_description(res, desc, call.now)
        if resolved and references(desc):
            self.store.set_referrer(res, call.caller.rid)
        if res.series is not None:
            apply_retention(res, call.now)
        return NO_RESULT

    def proc_drop(self, call, args):
        _args(args, 1)
        res = call.resolve(args[0])
        if res is call.caller:
            raise refused("restricted")
        self.store.drop(res)
        return NO_RESULT

    def proc_comment(self, call, args):
        # deprecated upstream; kept: the comments come back in info "comments"
        _args(args, 3)
        res = call.resolve(args[0])
        if not (isinstance(args[1], str) and isinstance(args[2], str)):
            raise refused("invalid")
        res.comments.append([args[1], args[2]])
        self.store.save(res)
        return NO_RESULT

    # --- info ------------------------------------------------------------------
    def proc_info(self, call, args):
        _args(args, 1, 2)
        options = _options(args[1]) if len(args) > 1 else {}
        res = call.resolve(args[0], READ)
        visible = call.info_options(res)
        # {} asks for everything visible; an option the caller may not see is left out (spec 3.11)
        wanted = [key for key in INFO_KEYS if key in visible and (not options or options.get(key) is True)]
        if res.series is not None:
            apply_retention(res, call.now)
        return {key: getattr(self, "_info_" + key)(call, res) for key in wanted}

    def _info_aliases(self, call, res):
        if not res.is_client:     # the aliases its owner holds for it
            holder = res.owner
            if not call.sees_aliases_of(holder):
                return "undefined"
            return [alias for alias, target in holder.aliases.items() if target == res.rid]
        shown = call.sees_aliases_of(res)
        grouped = {}
        for alias, target_rid in res.aliases.items():
            if shown:
                grouped.setdefault(target_rid, []).append(alias)
            else:
                grouped[target_rid] = "undefined"
        return grouped

    def _info_basic(self, call, res):
        basic = {"type": res.type, "created": res.created, "modified": res.modified,
                 "subscribers": len(live_subscribers(self.store, res))}
        if res.is_client:
            basic["status"] = "locked" if res.desc.get("locked") else res.status
        elif res.type == "dispatch":    # its delivery attempts, newest first
            basic["status"] = "waiting"
            basic["activity"] = [[t, [status]] for t, status in res.series.read(0, call.now, True, 10, "all")]
        elif is_script(res):            # stored, not run: said so
            basic["status"] = SCRIPT_STATUS
            basic["activity"] = [[res.created, [SCRIPT_ACTIVITY]]]
        return basic

    def _info_comments(self, call, res):
        return res.comments

    def _counts(self, client, nodes):
        counts = dict.fromkeys(COUNT_KEYS, 0)
        for node in nodes:
            for child in node.children.values():
                counts[child.type] += 1
                if child.series is not None:
                    counts["disk"] += child.series.size()
            counts["share"] += owned_count(self.store, node, "share")
        return counts

    def _info_counts(self, call, res):
        return self._counts(res, [res])

    def _info_usage(self, call, res):
        return self._counts(res, [node for node in res.subtree() if node.is_client])

    def _info_description(self, call, res):
        return res.desc

    def _info_key(self, call, res):
        return res.cik

    def _info_shares(self, call, res):
        return [{"activator": s.activator, "code": s.code, "meta": s.meta} for s in res.shares]

    def _info_storage(self, call, res):
        series = res.series
        return {"count": series.count(), "first": series.first(), "last": series.last(), "size": series.size()}

    def _info_subscribers(self, call, res):
        by_type = {}
        for sub in live_subscribers(self.store, res):
            by_type.setdefault(sub.type, []).append(sub.rid)
        return [{kind: sorted(by_type[kind])} for kind in TYPES if kind in by_type]

    def _info_tagged(self, call, res):
        return [child.rid for child in res.children.values() if child.tags]

    def _info_tags(self, call, res):
        return res.tags

    # --- listing ---------------------------------------------------------------
    def proc_listing(self, call, args):
        if not args:
            raise fail()
        if isinstance(args[0], list):
            _args(args, 1, 2)
            client, types = call.caller_checked(), args[0]
            options = args[1] if len(args) > 1 else None
        else:
            _args(args, 3)
            client, types, options = call.client(args[0]), args[1], args[2]
        if not isinstance(types, list):
            raise refused("invalid")
        if not all(isinstance(t, str) for t in types):
            raise fail()
        bad = [t for t in types if t not in LISTING_TYPES]
        if bad:
            raise CallRefused("error", result=f"invalid type: {bad[0]}")
        found = self._listed(client, options if isinstance(options, dict) else {})
        result = {}
        for kind in types:
            if kind == "token":
                result[kind] = [t.token for t in self.store.tokens.values()
                                if t.rid == client.rid and not t.expired(call.now) and (
                                    call.token is None or token_covers(call.token, self.store, t.permissions,
                                                                       t.expires))]
            else:
                result[kind] = [res.rid for res in found if res.type == kind]
        return [result[kind] for kind in types] if options is None else result

    def _listed(self, client, options):
        store = self.store
        flags = [flag for flag in ("owned", "activated", "aliased", "public") if options.get(flag) is True]
        found = {}
        for flag in flags or ["owned"]:
            if flag == "owned":
                found.update(dict.fromkeys(client.children.values()))
            elif flag == "activated":
                found.update(dict.fromkeys(store.get(rid) for rid in store.shared_to(client.rid)))
            elif flag == "aliased":
                found.update(dict.fromkeys(store.get(rid) for rid in client.aliases.values()))
            else:
                found.update(dict.fromkeys(r for r in store.resources.values() if r.desc.get("public")))
        found.pop(None, None)
        tagged = options.get("tagged")
        if isinstance(tagged, list):
            found = {res: None for res in found if any(tag in res.tags for tag in tagged)}
        return list(found)

    # --- usage -------------------------------------------------------------------
    def proc_usage(self, call, args):
        _args(args, 4)
        client = call.client(args[0])
        metric, start, end = args[1:]
        if not (_int(start) and _int(end)) or start > end or start < 0:
            raise refused("invalid")
        if metric in USAGE_CONSUMABLES:
            return 0
        if metric not in USAGE_ENTITIES:
            raise refused("invalid")
        return sum(max(0, end - max(start, node.created)) for node in client.subtree()[1:] if node.type == metric)

    # --- aliases -------------------------------------------------------------------
    def proc_map(self, call, args):
        if len(args) == 4:
            client, args = call.client(args[0]), args[1:]
        else:
            _args(args, 3)
            client = call.caller_checked()
        if args[0] != "alias":
            raise refused("invalid")
        target = call.resolve(args[1], READ)
        alias = args[2]
        if not isinstance(alias, str) or alias == "":
            raise refused("invalid")
        if alias in client.aliases:
            raise refused("inuse")
        self.store.map_alias(client, alias, target.rid)
        return NO_RESULT

    def proc_unmap(self, call, args):
        if len(args) == 3:
            client, args = call.client(args[0]), args[1:]
        else:
            _args(args, 2)
            client = call.caller_checked()
        if args[0] != "alias" or not isinstance(args[1], str):
            raise refused("invalid")
        if args[1] in client.aliases:     # one not mapped: nothing to remove, ok (spec 3.16)
            self.store.unmap_alias(client, args[1])
        return NO_RESULT

    def proc_lookup(self, call, args):
        if self._short_form(args, ("alias", "aliased", "owner", "shared")):
            _args(args, 2)
            client, (kind, value) = call.caller_checked(), args
        else:
            _args(args, 3)
            client, kind, value = call.client(args[0]), args[1], args[2]
        if kind in ("alias", "aliased"):
            if not isinstance(value, str):
                raise refused("invalid")
            if value == "":
                return client.rid
            target = client.aliases.get(value)
            if target is None or self.store.get(target) is None:
                raise refused("invalid")
            return target
        if kind == "owner":
            res = call.resolve(value)
            if res is call.caller or res.owner is None:
                raise refused("restricted")
            return res.owner.rid
        if kind == "shared":
            share = self.store.share_by_code(value)
            if share is None:
                raise refused("invalid")
            return share.rid
        raise refused("invalid")

    # --- shares, codes, tokens -------------------------------------------------------
    def proc_share(self, call, args):
        _args(args, 1, 2)
        options = _options(args[1]) if len(args) > 1 else {}
        res = call.resolve(args[0])
        meta = options.get("meta", "")
        if not isinstance(meta, str):
            raise refused("invalid")
        if "code" in options:
            share = self.store.share_by_code(options["code"])
            if share is None or share.rid != res.rid:
                raise refused("invalid")
            self.store.set_share_meta(share, meta)
            return share.code
        check_room(self.store, call.caller, "share")
        return self.store.create_share(res, meta, call.caller.rid).code

    def _code_args(self, call, args):
        """(acting client, codetype, code) of activate/deactivate/revoke."""
        if len(args) == 3:
            return call.client(args[0]), args[1], args[2]
        _args(args, 2)
        return call.caller_checked(), args[0], args[1]

    def _owned_client_by_code(self, call, code):
        client = self.store.client_by_cik(code)
        if client is None:
            raise refused("invalid")
        if client.owner is not call.caller:
            raise refused("noauth")
        return client

    def proc_revoke(self, call, args):
        _, codetype, code = self._code_args(call, args)
        if codetype == "client":
            client = self._owned_client_by_code(call, code)
            if call.token is not None:     # the answer is a CIK, which a token never reveals
                raise refused("restricted")
            self.store.set_cik(client, self.store.new_code(), NOTACTIVATED)
            return client.cik
        if codetype == "share":
            share = self.store.share_by_code(code)
            if share is None:
                raise refused("invalid")
            if not self.store.get(share.rid).is_within(call.caller):
                raise refused("noauth")
            self.store.delete_share(share)
            return NO_RESULT
        raise refused("invalid")

    def proc_activate(self, call, args):
        activator, codetype, code = self._code_args(call, args)
        if codetype == "client":
            client = self._owned_client_by_code(call, code)
            if client.status != NOTACTIVATED:
                raise refused("invalid")
            self.store.set_cik(client, client.cik, ACTIVATED)
            return NO_RESULT
        if codetype == "share":
            share = self.store.share_by_code(code)
            if share is None or share.activator is not None:
                raise refused("invalid")
            if any(s.activator == activator.rid for s in self.store.get(share.rid).shares):
                raise refused("invalid")
            self.store.set_share_activator(share, activator.rid)
            return NO_RESULT
        raise refused("invalid")

    def proc_deactivate(self, call, args):
        activator, codetype, code = self._code_args(call, args)
        if codetype == "client":
            client = self._owned_client_by_code(call, code)
            self.store.set_cik(client, client.cik, EXPIRED)
            return NO_RESULT
        if codetype == "share":
            share = self.store.share_by_code(code)
            candidates = [share] if share is not None else (
                self.store.get(code).shares if self.store.get(code) is not None else [])
            mine = [s for s in candidates if s.activator == activator.rid]
            if not mine:
                raise refused("invalid")
            for share in mine:
                self.store.set_share_activator(share, None)
            return NO_RESULT
        raise refused("invalid")

    def proc_tag(self, call, args):
        _args(args, 3)
        res = call.resolve(args[0])
        action, tag = args[1], args[2]
        if action not in ("add", "remove") or not isinstance(tag, str):
            raise refused("badarg")
        if action == "add" and tag not in res.tags:
            res.tags.append(tag)
        elif action == "remove" and tag in res.tags:
            res.tags.remove(tag)
        self.store.save(res)
        return NO_RESULT

    def proc_grant(self, call, args):
        _args(args, 2, 3)
        res = call.resolve(args[0])
        permissions = args[1]
        options = _options(args[2]) if len(args) > 2 else {}
        if not isinstance(permissions, dict):
            raise refused("invalid")
        for rid, names in permissions.items():
            call.resolve(rid)
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise refused("invalid")
        ttl = options.get("ttl")
        if ttl is not None and not (_int(ttl) and 0 <= ttl <= INT64_MAX - call.now):
            raise refused("invalid")
        expires = None if ttl is None else call.now + ttl
        if call.token is not None:      # a token grants no more, and for no longer, than it holds
            if call.token.expires is not None:
                expires = call.token.expires if expires is None else min(expires, call.token.expires)
            if not token_covers(call.token, self.store, permissions, expires):
                raise refused("restricted")
        return self.store.create_token(res.rid, permissions, expires, call.credential).token
