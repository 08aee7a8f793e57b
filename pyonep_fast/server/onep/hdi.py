"""The HTTP Data Interface (spec 7): device reads and writes by alias, with
the device's CIK in X-Exosite-CIK, form-encoded bodies and long polls. Every
alias goes through One Platform's one access check (access.Principal).

A read whose answer would pass the response-bytes budget (limits.Limits) is
refused `413` `text/plain` "response too large", as HDI answers its other
errors: its size is counted before it is built; a hybrid request so refused
stores none of its writes. An answer of LARGE_BODY bytes of values or more
is counted (plain reads) and quoted in a worker thread: quoting tens of
megabytes takes a second, which the event loop owes the other requests;
it is then written a piece at a time (http.body_response)."""
import asyncio
import email.utils
import string
import time
from urllib.parse import parse_qsl, quote, unquote_plus

from aiohttp import web

from ..._core.entries import INVALID, convert_value
from ..http import CONFIG, FORM, body_response, read_body, text_response
from .access import FULL, READ, Principal
from .entries import entries_columns
from .errors import CallRefused
from .points import apply_retention, ingest_pairs, typed_value
from .rpc import next_point
from .state import ACTIVATED
from .wire import LARGE_BODY


_UNQUOTED = (string.ascii_letters + string.digits + "_.-~").encode()    # the bytes quote(safe="") keeps
_BODY_REFUSALS = {413: "request body too large", 408: "request body timed out", 400: "request body cut short"}


def _body_error(status):
    return text_response(_BODY_REFUSALS[status], status)


def _alias_target(store, client, alias, procedure, level):
    """The time series an alias of client names (None when it names none),
    checked as RPC checks `procedure` on it: 403 when refused."""
    res = store.get(client.aliases.get(alias))
    if res is None or res.series is None:
        return None
    if not Principal(client).allows(procedure, res, level):
        raise _restricted()
    return res


def _restricted():
    return web.HTTPForbidden(text="restricted", content_type="text/plain")


def _query_names(request):
    return [unquote_plus(part.split("=", 1)[0]) for part in request.query_string.split("&") if part]


def _latest_values(store, client, names, at):
    """(name, value text) of the latest points, in the reverse of the request order."""
    pairs = []
    for name in reversed(names):
        res = _alias_target(store, client, name, "read", READ)
        if res is None:
            continue
        apply_retention(res, at)
        latest = res.series.latest()
        if latest is not None:
            pairs.append((name, str(latest[1])))
    return pairs


def _quoted_size(text):
    """len(quote(text, safe="")), without building it: a byte it does not keep takes three."""
    data = text.encode()
    return len(data) + 2 * len(data.translate(None, _UNQUOTED))


def _within_budget(pairs, budget):
    """413 when the `name=value` form of pairs would pass `budget` bytes
    (counted up to the budget, nothing built)."""
    size = -1                               # n pairs take n - 1 ampersands
    for name, value in pairs:
        size += _quoted_size(name) + 1 + _quoted_size(value) + 1
        if size > budget:
            raise web.HTTPRequestEntityTooLarge(budget, size, text="response too large",
                                                content_type="text/plain")


def _form(pairs):
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs).encode()


async def _read_response(request, pairs, budget=None):
    """The answer to a read of `pairs`: 204 without any, else their form,
    counted against `budget` first when given (a hybrid counted its own
    while it could still undo its writes). Large ones are counted and built
    in a worker thread."""
    if not pairs:
        return web.Response(status=204)

    def build():
        if budget is not None:
            _within_budget(pairs, budget)
        return _form(pairs)
    if sum(len(value) for _, value in pairs) >= LARGE_BODY:
        body = await asyncio.get_running_loop().run_in_executor(None, build)
    else:
        body = build()
    return await body_response(request, body, {"Content-Type": FORM})


def _since(header):
    if header is None:
        return int(time.time())
    if header.strip().isdigit():
        return int(header)
    parsed = email.utils.parsedate_to_datetime(header)
    return int(parsed.timestamp())


class HttpDataInterface:
    """The /onep:v1/stack/ endpoints over One Platform's state."""

    def __init__(self, store):
        self.store = store

    def _device(self, request):
        client = self.store.client_by_cik(request.headers.get("X-Exosite-CIK"))
        if client is None or client.status != ACTIVATED or client.desc.get("locked"):
            raise web.HTTPUnauthorized()
        return client

    async def stack_alias(self, request):
        store = self.store
        client = self._device(request)
        at = int(time.time())
        names = _query_names(request)
        budget = request.app[CONFIG]["limits"].response_bytes
        if request.method == "POST":
            body = await read_body(request, _body_error)
            if isinstance(body, web.StreamResponse):
                return body
            writes = []
            with store.atomic():            # the writes and the read after them: a refused read stores nothing
                for alias, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                    res = _alias_target(store, client, alias, "write", FULL)
                    if res is None:
                        continue            # an unknown alias is not an error here
                    typed = typed_value(res, value)
                    if typed is INVALID:
                        return text_response("invalid value", 400)
                    writes.append((res, typed))
                for name in names:          # a refused read refuses the writes before it too
                    _alias_target(store, client, name, "read", READ)
                for res, typed in writes:
                    ingest_pairs(store, res, [(at, typed)], at)
                if names:
                    pairs = _latest_values(store, client, names, at)
                    _within_budget(pairs, budget)
            await store.durable()
            if names:
                return await _read_response(request, pairs)
        if not names:
            return web.Response(status=204)
        timeout = request.headers.get("Request-Timeout")
        if request.method == "GET" and timeout is not None and len(names) == 1:
            return await self._long_poll(request, client, names[0], timeout)
        with store.lock:
            pairs = _latest_values(store, client, names, at)
        return await _read_response(request, pairs, budget)

    async def _long_poll(self, request, client, name, timeout):
        store = self.store
        try:
            timeout_ms = min(int(timeout), 300000)
            since = _since(request.headers.get("If-Modified-Since"))
        except (ValueError, TypeError):
            return text_response("bad Request-Timeout or If-Modified-Since", 400)
        with store.lock:
            res = _alias_target(store, client, name, "wait", READ)
            if res is None:
                return web.Response(status=204)
            point = res.series.first_after(since)
        if point is None:
            try:
                point = await next_point(store, res, since, timeout_ms / 1000.0,
                                         lambda: Principal(client).allows("wait", res, READ))
            except CallRefused:
                raise _restricted() from None
            if point is None:
                return web.Response(status=304)
        headers = {"Content-Type": FORM, "Last-Modified": email.utils.formatdate(point[0], usegmt=True)}
        return web.Response(body=_form([(name, str(point[1]))]), headers=headers)

    async def stack_record(self, request):
        store = self.store
        client = self._device(request)
        body = await read_body(request, _body_error)
        if isinstance(body, web.StreamResponse):
            return body
        at = int(time.time())
        per_alias = {}
        alias = None
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            if key == "alias":
                alias = value
                per_alias.setdefault(alias, [])
            elif alias is not None:
                t = convert_value("int", key)     # -?[0-9]+ within int64, as an int port reads text
                if t is INVALID:
                    return text_response(f"bad timestamp {key}", 400)
                per_alias[alias].append([t, value])
        conflicts = []
        with store.lock:
            batches = []                    # everything is checked before anything is stored
            for alias, entries in per_alias.items():
                res = _alias_target(store, client, alias, "record", FULL)
                if res is None:
                    continue
                seen = set()
                for t, _ in entries:
                    if t in seen:
                        conflicts.append(f"{quote(alias, safe='')}={t}")
                    seen.add(t)
                columns, invalid = entries_columns(res.series.kind, entries, at)
                if invalid:
                    return text_response("invalid value", 400)
                batches.append((res, columns))
            for res, columns in batches:
                ingest_pairs(store, res, columns.view().pairs(), at)
        await store.durable()
        if conflicts:
            return text_response("&".join(conflicts), 409, headers={"Content-Type": FORM})
        return web.Response(status=204)
