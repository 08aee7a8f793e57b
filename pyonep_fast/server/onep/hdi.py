"""The HTTP Data Interface (spec 7): device reads and writes by alias, with
the device's CIK in X-Exosite-CIK, form-encoded bodies and long polls. Every
alias goes through One Platform's one access check (access.Principal).

A read whose answer would pass the response-bytes budget (limits.Limits) is
refused `413` `text/plain` "response too large", as HDI answers its other
errors, after building no more than the budget; a hybrid request so refused
stores none of its writes."""
import email.utils
import time
from urllib.parse import parse_qsl, quote, unquote_plus

from aiohttp import web

from ..._core.entries import INVALID, convert_value
from ..http import CONFIG, FORM, read_body, text_response
from .access import FULL, READ, Principal
from .entries import entries_columns
from .errors import CallRefused
from .points import apply_retention, ingest_pairs, typed_value
from .rpc import next_point
from .state import ACTIVATED


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


def _latest_values(store, client, names, at, budget):
    """`name=value` pairs of the latest points, in the reverse of the request
    order; 413 once they pass `budget` bytes."""
    pairs = []
    size = -1                               # n pairs take n - 1 ampersands
    for name in reversed(names):
        res = _alias_target(store, client, name, "read", READ)
        if res is None:
            continue
        apply_retention(res, at)
        latest = res.series.latest()
        if latest is not None:
            pairs.append(f"{quote(name, safe='')}={quote(str(latest[1]), safe='')}")
            size += len(pairs[-1]) + 1      # quoted: ASCII, one byte a character
            if size > budget:
                raise web.HTTPRequestEntityTooLarge(budget, size, text="response too large",
                                                    content_type="text/plain")
    return "&".join(pairs)


def _read_response(text):
    return text_response(text, headers={"Content-Type": FORM}) if text else web.Response(status=204)


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
        text = None
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
                    text = _latest_values(store, client, names, at, budget)
            await store.durable()
        if not names:
            return web.Response(status=204)
        timeout = request.headers.get("Request-Timeout")
        if request.method == "GET" and timeout is not None and len(names) == 1:
            return await self._long_poll(request, client, names[0], timeout)
        if text is None:
            with store.lock:
                text = _latest_values(store, client, names, at, budget)
        return _read_response(text)

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
        return web.Response(text=f"{quote(name, safe='')}={quote(str(point[1]), safe='')}", headers=headers)

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
