"""HTTP front of the embedded server (aiohttp).

Routes: the JSON-RPC endpoint, the CIK fountain (spec 6.2), the HTTP Data
Interface (spec 7) and, when pyonep_fast/server/provision.py exists, the
provisioning API, which plugs in through its `setup(app, store)`.
"""
import asyncio
import email.utils
import importlib
import logging
import time
import weakref
from urllib.parse import parse_qsl, quote, unquote_plus

import orjson
from aiohttp import web

from .._core.entries import INT64_MAX, INT64_MIN, INVALID
from ..exceptions import CallRefused
from .access import FULL, READ, Principal
from .ingest import entries_columns
from .points import apply_retention, ingest_pairs, typed_value
from .rpc import Engine, next_point, request_error
from .store import ACTIVATED
from .wire import decode_envelope

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 256 * 1024 * 1024
BODY_TIMEOUT = 30.0            # seconds for a request body to arrive
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
FORM = "application/x-www-form-urlencoded; charset=utf-8"

STORE = web.AppKey("store", object)
ENGINE = web.AppKey("engine", Engine)
CONFIG = web.AppKey("config", dict)


def _json(body, status=200):
    return web.Response(body=body, status=status, headers={"Content-Type": JSON})


def _text(text, status=200, headers=None):
    return web.Response(text=text, status=status, headers={"Content-Type": TEXT, **(headers or {})})


async def read_body(request):
    """The request body, or an error Response (413 too large, 408 too slow;
    both close the connection)."""
    config = request.app[CONFIG]
    limit = config["max_body"]
    length = request.content_length
    if length is not None and length > limit:
        return _closing(_json(request_error(413, "body"), 413))
    if length == 0:
        return b""
    try:
        async with asyncio.timeout(config["body_timeout"]):
            if length is not None:
                return await request.content.readexactly(length)
            return await _read_chunked(request.content, limit)
    except TimeoutError:
        # answer, then close at once: waiting for the rest of the body is what timed out
        response = _closing(_json(request_error(408, "body"), 408))
        await response.prepare(request)
        await response.write_eof()
        if request.transport is not None:
            request.transport.close()
        return response
    except asyncio.IncompleteReadError:
        return _closing(_json(request_error(400, "body"), 400))
    except OverflowError:
        return _closing(_json(request_error(413, "body"), 413))


async def _read_chunked(content, limit):
    parts = []
    size = 0
    while True:
        part = await content.readany()
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            raise OverflowError
        parts.append(part)


def _closing(response):
    """response, sent with `Connection: close` and followed by a close."""
    response.force_close()
    response.headers["Connection"] = "close"
    return response


class ConnectionBudget:
    """Answers the Nth request of a keep-alive connection with
    `Connection: close` (the hosted platform did so after 100)."""

    def __init__(self, requests_per_connection):
        self.limit = requests_per_connection
        self.counts = weakref.WeakKeyDictionary()

    async def on_response_prepare(self, request, response):
        if request.transport is None:
            return
        count = self.counts.get(request.transport, 0) + 1
        self.counts[request.transport] = count
        if count >= self.limit:
            _closing(response)


async def rpc_handler(request):
    body = await read_body(request)
    if isinstance(body, web.StreamResponse):
        return body
    app = request.app
    envelope = decode_envelope(body)
    if envelope is None:
        return _json(request_error(-1, "request"))
    if app[CONFIG]["null"]:
        return _json(null_answer(envelope))
    return _json(await app[ENGINE].process(envelope))


def null_answer(envelope):
    """--null mode: every call with an id is acknowledged, nothing runs."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("auth"), dict):
        return request_error(400, "auth")
    calls = envelope.get("calls")
    if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
        return request_error(400, "calls")
    entries = [orjson.dumps({"id": c["id"], "status": "ok"}) for c in calls if c.get("id") is not None]
    return b"[" + b",".join(entries) + b"]" if entries else b""


# --- CIK fountain (spec 6.2) -----------------------------------------------------
async def fountain_handler(request):
    store = request.app[STORE]
    client, vendor, token = store.create_fountain_client()
    await store.durable()
    wants_json = "vendor" in request.query or "application/json" in request.headers.get("Accept", "")
    if request.path == "/api/create" and wants_json:
        return _json(orjson.dumps({"cik": client.cik, "rid": client.rid, "vendor": vendor, "vendortoken": token}))
    return _text(client.cik)


# --- HTTP Data Interface (spec 7) --------------------------------------------------
def _device(request):
    client = request.app[STORE].client_by_cik(request.headers.get("X-Exosite-CIK"))
    if client is None or client.status != ACTIVATED or client.desc.get("locked"):
        raise web.HTTPUnauthorized()
    return client


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
    """`name=value` pairs of the latest points, in the reverse of the request order."""
    pairs = []
    for name in reversed(names):
        res = _alias_target(store, client, name, "read", READ)
        if res is None:
            continue
        apply_retention(res, at)
        latest = res.series.latest()
        if latest is not None:
            pairs.append(f"{quote(name, safe='')}={quote(str(latest[1]), safe='')}")
    return "&".join(pairs)


def _read_response(text):
    return _text(text, headers={"Content-Type": FORM}) if text else web.Response(status=204)


async def stack_alias_handler(request):
    store = request.app[STORE]
    client = _device(request)
    at = int(time.time())
    names = _query_names(request)
    if request.method == "POST":
        body = await read_body(request)
        if isinstance(body, web.StreamResponse):
            return body
        writes = []
        with store.lock:
            for alias, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                res = _alias_target(store, client, alias, "write", FULL)
                if res is None:
                    continue            # an unknown alias is not an error here
                typed = typed_value(res, value)
                if typed is INVALID:
                    return _text("invalid value", 400)
                writes.append((res, typed))
            for name in names:          # a refused read refuses the writes before it too
                _alias_target(store, client, name, "read", READ)
            for res, typed in writes:
                ingest_pairs(store, res, [(at, typed)], at)
        await store.durable()
    if not names:
        return web.Response(status=204)
    timeout = request.headers.get("Request-Timeout")
    if request.method == "GET" and timeout is not None and len(names) == 1:
        return await _long_poll(request, store, client, names[0], timeout)
    with store.lock:
        return _read_response(_latest_values(store, client, names, at))


def _since(header):
    if header is None:
        return int(time.time())
    if header.strip().isdigit():
        return int(header)
    parsed = email.utils.parsedate_to_datetime(header)
    return int(parsed.timestamp())


async def _long_poll(request, store, client, name, timeout):
    try:
        timeout_ms = min(int(timeout), 300000)
        since = _since(request.headers.get("If-Modified-Since"))
    except (ValueError, TypeError):
        return _text("bad Request-Timeout or If-Modified-Since", 400)
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


async def stack_record_handler(request):
    store = request.app[STORE]
    client = _device(request)
    body = await read_body(request)
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
            try:
                t = int(key)
            except ValueError:
                t = None
            if t is None or not INT64_MIN <= t <= INT64_MAX:
                return _text(f"bad timestamp {key}", 400)
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
            columns, invalid = entries_columns(res, entries, at)
            if invalid:
                return _text("invalid value", 400)
            batches.append((res, columns))
        for res, columns in batches:
            ingest_pairs(store, res, columns.view().pairs(), at)
    await store.durable()
    if conflicts:
        return _text("&".join(conflicts), 409, headers={"Content-Type": FORM})
    return web.Response(status=204)


async def timestamp_handler(request):
    return _text(str(int(time.time())))


async def ip_handler(request):
    """The server address as the client reached it: `a,b,c,d:port`."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    host, port = (sockname[0], sockname[1]) if sockname else ("127.0.0.1", 0)
    return _text(f"{host.replace('.', ',')}:{port}")


def build_app(store, *, null=False, max_body=DEFAULT_MAX_BODY, body_timeout=BODY_TIMEOUT,
              requests_per_connection=None):
    """The aiohttp Application serving `store`.

    Provisioning hook: if the module pyonep_fast.server.provision exists,
    its `setup(app, store)` is called once here to add its routes.
    """
    app = web.Application(client_max_size=max_body)
    app[STORE] = store
    app[ENGINE] = Engine(store)
    app[CONFIG] = {"null": null, "max_body": max_body, "body_timeout": body_timeout,
                   "requests_per_connection": requests_per_connection}
    if requests_per_connection:
        app.on_response_prepare.append(ConnectionBudget(requests_per_connection).on_response_prepare)
    app.router.add_post("/onep:v1/rpc/process", rpc_handler)
    app.router.add_get("/api/create", fountain_handler)
    app.router.add_get("/", fountain_handler)
    app.router.add_route("GET", "/onep:v1/stack/alias", stack_alias_handler)
    app.router.add_route("POST", "/onep:v1/stack/alias", stack_alias_handler)
    app.router.add_post("/onep:v1/stack/record", stack_record_handler)
    app.router.add_get("/timestamp", timestamp_handler)
    app.router.add_get("/ip", ip_handler)
    try:
        provision = importlib.import_module(f"{__package__}.provision")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.provision":
            raise
    else:
        provision.setup(app, store)
    return app
