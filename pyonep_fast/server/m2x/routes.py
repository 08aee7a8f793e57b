"""The M2X v2 endpoints (spec m2x.md §7) on the embedded server.

Each handler is registered with `route`; the wrapper around it reads the
body (JSON on every verb; large bodies parsed off the event loop), runs the
access check for the scope its path names (access.py), calls the handler
under the store's lock, waits until the change is durable, answers
Problems in M2X's error shape and records device requests in the device's
log. Handlers are plain functions of a Context.
"""
import asyncio
import functools
import math
import time
from collections.abc import Callable

import orjson
from aiohttp import web

from ..._core import ETYPE
from ..._core.jscan import object_spans
from ...exceptions import CoreError
from ..http import CONFIG, JSON, TEXT, read_body, receive_body
from . import access
from . import values as stream_values
from .errors import Problem, bad_request, invalid, not_found
from .state import now_iso, now_ms

#: A POST of values carries at most this many (422 beyond).
MAX_VALUES_PER_REQUEST = 100_000
#: Bodies larger than this are parsed in a worker thread.
OFF_LOOP_BYTES = 64 * 1024
MAX_READ_LIMIT = 10_000
_OPEN_ARRAY, _OPEN_OBJECT = ord("["), ord("{")

ROUTES: list[tuple[str, str, Callable, dict]] = []  # (method, path, handler, options)


def route(method, path, public=False, values_body=None):
    """Registers handler(ctx) for METHOD /v2<path>. values_body(raw, kinds,
    match) -> (body, parsed): reads a body holding value lists into
    ctx.body and ctx.parsed (in a worker thread when large), given the
    value kinds of the device's streams as they were when it started."""
    def register(handler):
        ROUTES.append((method, "/v2" + path, handler, {"public": public, "values_body": values_body}))
        return handler
    return register


class Context:
    __slots__ = ("state", "request", "key", "body", "parsed", "match", "query")

    def __init__(self, state, request, key, body, parsed):
        self.state = state
        self.request = request
        self.key = key
        self.body = body
        self.parsed = parsed
        self.match = request.match_info
        self.query = request.query

    @property
    def account(self):
        return self.key["account"]

    def device(self):
        return self.state.device(self.account, self.match["device_id"])

    def stream(self):
        return self.state.stream(self.device(), self.match["name"])

    def param(self, name, default=None):
        """A parameter from the query, else the JSON body."""
        if name in self.query:
            return self.query[name]
        return self.body.get(name, default)

    def param_list(self, name):
        """A list parameter: repeated, comma-joined, or a JSON list."""
        found = []
        for value in self.query.getall(name, []) + self.query.getall(name + "[]", []):
            found.extend(part for part in value.split(",") if part)
        value = self.body.get(name)
        if isinstance(value, list):
            found.extend(str(item) for item in value)
        elif isinstance(value, str):
            found.extend(part for part in value.split(",") if part)
        return found

    def time_param(self, name, default):
        value = self.param(name)
        if value in (None, ""):
            return default
        try:
            return stream_values.parse_time(value)
        except ValueError:
            raise invalid({name: "invalid"}) from None

    def int_param(self, name, default, minimum=1, maximum=None):
        value = self.param(name)
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise invalid({name: "invalid"}) from None
        if number < minimum or (maximum is not None and number > maximum):
            raise invalid({name: "invalid"})
        return number


def json_response(value, status=200, headers=None):
    return web.Response(body=orjson.dumps(value), status=status, headers={"Content-Type": JSON, **(headers or {})})


def raw_json(body, status=200):
    return web.Response(body=body, status=status, headers={"Content-Type": JSON})


def accepted():
    return json_response({"status": "accepted"}, 202)


def no_content():
    return web.Response(status=204)


def text(value):
    return web.Response(text=str(value), headers={"Content-Type": TEXT})


def page(ctx, items, key, render):
    """A paginated list: {key: [...], total, pages, limit, current_page}."""
    limit = ctx.int_param("limit", ctx.state.page_limit)
    current = ctx.int_param("page", 1)
    total = len(items)
    chosen = items[(current - 1) * limit:current * limit]
    return json_response({key: [render(item) for item in chosen], "total": total,
                          "pages": math.ceil(total / limit), "limit": limit, "current_page": current})


# --- body parsing ---------------------------------------------------------------
def _decode(raw):
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


def _members(raw):
    """{name: span} of the members of the object that is the body (the last
    of repeated names, as orjson keeps); 400 when it is not one."""
    if not raw.strip():
        return {}
    try:
        pairs = object_spans(raw)
    except CoreError as error:
        if error.code == ETYPE:
            raise bad_request("The request body must be a JSON object") from None
        raise bad_request("The request body is not valid JSON") from None
    view = memoryview(raw)
    return {orjson.loads(view[key[0]:sum(key)]): value for key, value in pairs}


def _others(raw, members, name):
    """The members other than `name`, decoded."""
    view = memoryview(raw)
    return {key: orjson.loads(view[span[0]:sum(span)]) for key, span in members.items() if key != name}


def _values_span(members):
    """The span of "values", or 422 when it is missing."""
    if "values" not in members:
        raise invalid({"values": "not_present"})
    return members["values"]


def _parse_stream_values(raw, kinds, match):
    """POST .../streams/{name}/values: {"values": [...]}."""
    members = _members(raw)
    span = _values_span(members)
    if raw[span[0]] != _OPEN_ARRAY:
        raise invalid({"values": "invalid"})
    parsed = stream_values.value_list(raw, span, kinds.get(match["name"]))
    _within_limit(parsed.count)
    return _others(raw, members, "values"), {match["name"]: parsed}


def _parse_updates(raw, kinds, match):
    """POST .../updates: {"values": {stream: [...], ...}, "location"?}."""
    members = _members(raw)
    span = _values_span(members)
    if raw[span[0]] != _OPEN_OBJECT:
        raise invalid({"values": "invalid"})
    view = memoryview(raw)
    spans = {orjson.loads(view[key[0]:sum(key)]): value for key, value in object_spans(raw, span)}
    if not spans:
        raise invalid({"values": "invalid"})
    parsed = {}
    for name, span in spans.items():
        if raw[span[0]] != _OPEN_ARRAY:
            raise invalid({f"values.{name}": "invalid"}, f"Invalid value list: values.{name}")
        parsed[name] = stream_values.value_list(raw, span, kinds.get(name))
    _within_limit(sum(value_list.count for value_list in parsed.values()))
    return _others(raw, members, "values"), parsed


def _within_limit(count):
    if count > MAX_VALUES_PER_REQUEST:
        raise invalid({"values": "invalid"}, f"At most {MAX_VALUES_PER_REQUEST} values per request")


def _invalid_value(problem, stream=None):
    """422 naming the first refused value of a list (of `stream` in an updates body)."""
    index, field = problem
    field = f"values[{index}].{field}" if stream is None else f"values.{stream}[{index}].{field}"
    return invalid({field: "invalid"}, f"Invalid value list: {field}")


# --- the wrapper --------------------------------------------------------------------
def make_handler(state, handler, options):
    async def handle(request):
        recorded = state.replay.get((request.method, request.path))
        if recorded is not None:
            return _replayed(*recorded)
        authorized = []  # the key, once the access check passed
        try:
            response = await _run(state, request, handler, options, authorized)
        except Problem as problem:
            response = problem.response()
        if not authorized and not options["public"] and request.body_exists:
            # refused before its body was read: answer and close instead of
            # reading (or lingering for) a body nobody may send
            response.force_close()
            response.headers["Connection"] = "close"
            await response.prepare(request)
            await response.write_eof()
            if request.transport is not None:
                request.transport.close()
            return response
        kind, target = access.scope_of(request.match_info)
        device = state.devices.get(target) if kind == access.DEVICE else None
        if device is not None and authorized and authorized[0]["account"] == device["account"]:
            state.log(target, request.method, request.path[len("/v2"):], response.status)
        return response
    return handle


_BODY_ERRORS = {413: ("request_entity_too_large", "The request body is too large"),
                408: ("request_timeout", "The request body did not arrive in time"),
                400: ("bad_request", "The request body ended early")}


def _body_error(status):
    return Problem(status, *_BODY_ERRORS[status]).response()


async def _run(state, request, handler, options, authorized):
    key = None
    if not options["public"]:  # before the body is read: no key, no upload
        with state.storage.atomic():  # an unknown key may create an account
            key = access.authorize(state, request.headers.get("X-M2X-KEY"), request.method,
                                   access.scope_of(request.match_info))
        authorized.append(key)
    raw = await read_body(request, _body_error)
    if isinstance(raw, web.StreamResponse):
        return raw
    parse = _decode
    if options["values_body"] is not None:
        parse = functools.partial(options["values_body"], kinds=state.stream_kinds(request.match_info["device_id"]),
                                  match=request.match_info)
    if len(raw) > OFF_LOOP_BYTES:
        decoded = await asyncio.get_running_loop().run_in_executor(None, parse, raw)
    else:
        decoded = parse(raw)
    body, parsed = decoded if options["values_body"] is not None else (decoded, None)
    with state.storage.atomic():  # a refused request leaves nothing behind
        response = handler(Context(state, request, key, body, parsed))
    await state.storage.durable()
    return response


def _replayed(status, body):
    if status == 204:
        return no_content()
    return raw_json(orjson.dumps(body), status)


def routes(state):
    """Every /v2 route, the catch-all answering 404 in M2X's shape, and the
    fixture endpoints."""
    defs = [web.route(method, path, make_handler(state, handler, options)) for method, path, handler, options in ROUTES]
    defs.append(web.route("*", "/v2/{tail:.*}", make_handler(state, _unknown, {"public": True, "values_body": None})))
    return defs + fixture_routes(state)


def fixture_routes(state):
    """POST /_fixtures/m2x/accounts, PUT /_fixtures/m2x/settings and
    PUT /_fixtures/m2x/replay (see the package docstring)."""
    async def new_account(request):
        with state.lock:
            account, key = state.create_account()
        await state.storage.durable()
        return json_response({"account": account["id"], "key": key["key"]}, 201)

    async def settings(request):
        body = await _fixture_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("auto_accounts", False), bool):
            return bad_request('expected {"auto_accounts": bool}').response()
        if "auto_accounts" in body:
            state.auto_accounts = body["auto_accounts"]
        return json_response({"auto_accounts": state.auto_accounts})

    async def replay(request):
        body = await _fixture_body(request)
        try:
            state.set_replay(body["cases"])
        except (KeyError, TypeError, AttributeError):
            return bad_request('expected {"cases": [{"url": ...}, ...]}').response()
        return json_response({"cases": len(body["cases"])})

    return [web.post("/_fixtures/m2x/accounts", new_account), web.put("/_fixtures/m2x/settings", settings),
            web.put("/_fixtures/m2x/replay", replay)]


async def _fixture_body(request):
    try:
        return orjson.loads(await receive_body(request, _body_error) or b"{}")
    except orjson.JSONDecodeError:
        return None


def _unknown(ctx):
    raise not_found("Path")


# --- status and time ------------------------------------------------------------------
@route("GET", "/status", public=True)
def status(ctx):
    return json_response({"api": "OK", "triggers": "OK"})


@route("GET", "/time", public=True)
def server_time(ctx):
    ms = now_ms()
    return json_response({"seconds": ms // 1000, "millis": ms, "iso8601": stream_values.iso(ms)})


@route("GET", "/time/seconds", public=True)
def time_seconds(ctx):
    return text(int(time.time()))


@route("GET", "/time/millis", public=True)
def time_millis(ctx):
    return text(now_ms())


@route("GET", "/time/iso8601", public=True)
def time_iso8601(ctx):
    return text(now_iso())


# --- devices ----------------------------------------------------------------------------
def _filtered_devices(ctx, devices):
    q = ctx.param("q")
    tags = set(ctx.param_list("tags"))
    wanted = {field: ctx.param(field) for field in ("status", "visibility", "serial") if ctx.param(field)}
    out = []
    for doc in devices:
        if q and not any(isinstance(doc[field], str) and q.lower() in doc[field].lower()
                         for field in ("name", "description")):
            continue
        if tags and not tags <= set(doc["tags"] or ()):
            continue
        if any(doc[field] != value for field, value in wanted.items()):
            continue
        out.append(doc)
    return out


def _device_page(ctx, devices):
    return page(ctx, _filtered_devices(ctx, devices), "devices", ctx.state.device_json)


@route("GET", "/devices")
def list_devices(ctx):
    return _device_page(ctx, ctx.state.account_devices(ctx.account))


@route("GET", "/devices/search")
@route("POST", "/devices/search")
def search_devices(ctx):
    return _device_page(ctx, ctx.state.account_devices(ctx.account))


@route("GET", "/devices/catalog")
def device_catalog(ctx):
    public = [doc for doc in ctx.state.account_devices(ctx.account) if doc["visibility"] == "public"]
    return _device_page(ctx, public)


@route("GET", "/devices/tags")
def device_tags(ctx):
    counts = {}
    for doc in ctx.state.account_devices(ctx.account):
        for tag in doc["tags"] or ():
            counts[tag] = counts.get(tag, 0) + 1
    return json_response({"tags": counts})


@route("POST", "/devices")
def create_device(ctx):
    return json_response(ctx.state.device_json(ctx.state.create_device(ctx.account, ctx.body)), 201)


@route("GET", "/devices/{device_id}")
def get_device(ctx):
    return json_response(ctx.state.device_json(ctx.device()))


@route("PUT", "/devices/{device_id}")
def update_device(ctx):
    ctx.state.update_device(ctx.device(), ctx.body)
    return no_content()


@route("DELETE", "/devices/{device_id}")
def delete_device(ctx):
    ctx.state.delete_device(ctx.device())
    return no_content()


@route("GET", "/devices/{device_id}/location")
def get_location(ctx):
    location = ctx.state.location_json(ctx.device())
    return json_response(location) if location else no_content()


@route("PUT", "/devices/{device_id}/location")
def update_location(ctx):
    ctx.state.update_location(ctx.device(), ctx.body)
    return accepted()


@route("GET", "/devices/{device_id}/location/waypoints")
def location_history(ctx):
    device = ctx.device()
    start = ctx.time_param("start", stream_values.MIN_MS)
    end = ctx.time_param("end", stream_values.MAX_MS)
    limit = ctx.int_param("limit", 30)
    points = [point for point in device["waypoints"]
              if start <= stream_values.parse_time(point["timestamp"]) <= end]
    return json_response({"waypoints": points[:limit]})


@route("DELETE", "/devices/{device_id}/location/waypoints")
def delete_location_history(ctx):
    device = ctx.device()
    missing = {field: "not_present" for field in ("from", "end") if not ctx.param(field)}
    if missing:
        raise invalid(missing)
    start, end = ctx.time_param("from", None), ctx.time_param("end", None)
    device["waypoints"] = [point for point in device["waypoints"]
                           if not start <= stream_values.parse_time(point["timestamp"]) <= end]
    ctx.state.save_device(device)
    return accepted()


@route("GET", "/devices/{device_id}/log")
def device_log(ctx):
    device = ctx.device()
    return json_response({"requests": list(ctx.state.logs.get(device["id"], ()))})


# --- streams ------------------------------------------------------------------------------
@route("GET", "/devices/{device_id}/streams")
def list_streams(ctx):
    device = ctx.device()
    return json_response({"streams": [ctx.state.stream_json(doc) for doc in ctx.state.device_streams(device)]})


@route("GET", "/devices/{device_id}/streams/{name}")
def get_stream(ctx):
    return json_response(ctx.state.stream_json(ctx.stream()))


@route("PUT", "/devices/{device_id}/streams/{name}")
def put_stream(ctx):
    doc, created = ctx.state.put_stream(ctx.device(), ctx.match["name"], ctx.body)
    return json_response(ctx.state.stream_json(doc), 201 if created else 200)


@route("DELETE", "/devices/{device_id}/streams/{name}")
def delete_stream(ctx):
    ctx.state.delete_stream(ctx.stream())
    return no_content()


def _range(ctx, start_name="start", end_name="end"):
    start = ctx.time_param(start_name, stream_values.MIN_MS)
    end = ctx.time_param(end_name, stream_values.MAX_MS)
    if start > end:
        raise invalid({start_name: "invalid"}, "start is after end")
    return start, end


def _range_echo(ctx, start, end, **more):
    """The JSON members head of a read: start (if given), end, more."""
    out = {}
    if ctx.param("start"):
        out["start"] = stream_values.iso(start)
    out["end"] = stream_values.iso(end if ctx.param("end") else now_ms())
    out.update(more)
    return out


@route("GET", "/devices/{device_id}/streams/{name}/values")
def stream_values_read(ctx):
    stream = ctx.stream()
    start, end = _range(ctx)
    limit = ctx.int_param("limit", 100, maximum=MAX_READ_LIMIT)
    series = ctx.state.series(stream)
    ms, values = stream_values.newest(series, start, end, limit)
    head = orjson.dumps(_range_echo(ctx, start, end, limit=limit))
    return raw_json(head[:-1] + b',"values":' + stream_values.encode(series.kind, ms, values) + b"}")


def _checked(ctx, device, name, parsed, in_updates=False):
    """parsed, typed again if the stream was created or changed since it
    was parsed; 422 naming its first refused value."""
    kind = ctx.state.stream_kind(device["id"], name)
    if parsed.hint != kind:
        parsed = stream_values.value_list(parsed.body, parsed.span, kind)
    if parsed.problem is not None:
        raise _invalid_value(parsed.problem, name if in_updates else None)
    return parsed


def _store(ctx, device, parsed_by_name, in_updates=False):
    """Stores the value lists of several streams, all or none."""
    checked = {name: _checked(ctx, device, name, parsed, in_updates) for name, parsed in parsed_by_name.items()}
    for name, parsed in checked.items():
        ctx.state.store_columns(ctx.state.stream_for_write(device, name, parsed.kind), parsed.columns)


@route("POST", "/devices/{device_id}/streams/{name}/values", values_body=_parse_stream_values)
def post_stream_values(ctx):
    device = ctx.device()
    _store(ctx, device, ctx.parsed)
    ctx.state.touch_device(device)
    return accepted()


def _single_time(ctx, value):
    if value is None:
        return now_ms()
    try:
        return stream_values.parse_time(value)
    except ValueError:
        raise invalid({"timestamp": "invalid"}) from None


@route("PUT", "/devices/{device_id}/streams/{name}/value")
def put_stream_value(ctx):
    device = ctx.device()
    if "value" not in ctx.body:
        raise invalid({"value": "not_present"})
    name = ctx.match["name"]
    parsed = stream_values.single_values(_single_time(ctx, ctx.body.get("timestamp")), [ctx.body["value"]],
                                         ctx.state.stream_kind(device["id"], name))
    if parsed.problem is not None:
        raise invalid({"value": "invalid"})
    _store(ctx, device, {name: parsed})
    ctx.state.touch_device(device)
    return accepted()


@route("DELETE", "/devices/{device_id}/streams/{name}/values")
def delete_stream_values(ctx):
    stream = ctx.stream()
    missing = {field: "not_present" for field in ("from", "end") if not ctx.param(field)}
    if missing:
        raise invalid(missing)
    start, end = _range(ctx, "from", "end")
    ctx.state.delete_values(stream, start, end)
    return no_content()


@route("GET", "/devices/{device_id}/streams/{name}/sampling")
def stream_sampling(ctx):
    stream = ctx.stream()
    interval = ctx.param("interval")
    if interval in (None, ""):
        raise invalid({"interval": "not_present"})
    try:
        width = float(interval)
    except (TypeError, ValueError):
        width = 1.0  # the m2x 5.5.0 test sends interval=interval: read as the smallest bucket
    if not width > 0 or not math.isfinite(width):
        raise invalid({"interval": "invalid"})
    kind = ctx.param("type", "avg")
    if kind not in stream_values.SAMPLING_TYPES:
        raise invalid({"type": "invalid"})
    start, end = _range(ctx)
    limit = ctx.int_param("limit", 100, maximum=MAX_READ_LIMIT)
    _within_points_budget(ctx, [stream], start, end)
    pairs = stream_values.sampling(ctx.state.series(stream), start, end, width, kind, limit)
    result = _range_echo(ctx, start, end, interval=interval)
    result["values"] = [{"timestamp": stream_values.iso(t), "value": value} for t, value in pairs]
    return json_response(result)


@route("GET", "/devices/{device_id}/streams/{name}/stats")
def stream_stats(ctx):
    stream = ctx.stream()
    start, end = _range(ctx)
    result = _range_echo(ctx, start, end)
    result["stats"] = ctx.state.stats(stream, start, end)
    return json_response(result)


# --- device-wide values --------------------------------------------------------------------
@route("POST", "/devices/{device_id}/update")
def post_update(ctx):
    device = ctx.device()
    values = ctx.body.get("values")
    if not isinstance(values, dict) or not values:
        raise invalid({"values": "not_present" if values is None else "invalid"})
    ms = _single_time(ctx, ctx.body.get("timestamp"))
    _store(ctx, device, {name: stream_values.single_values(ms, [value], ctx.state.stream_kind(device["id"], name))
                         for name, value in values.items()}, in_updates=True)
    if "location" in ctx.body:
        ctx.state.update_location(device, ctx.body["location"] or {})
    ctx.state.touch_device(device)
    return accepted()


@route("POST", "/devices/{device_id}/updates", values_body=_parse_updates)
def post_updates(ctx):
    device = ctx.device()
    _store(ctx, device, ctx.parsed, in_updates=True)
    if "location" in ctx.body:
        ctx.state.update_location(device, ctx.body["location"] or {})
    ctx.state.touch_device(device)
    return accepted()


def _within_points_budget(ctx, streams, start, end):
    """Refuses (413 in M2X's shape) a read whose range holds more points, over
    `streams`, than the server's points_per_read budget (server/limits.py):
    sampling and export go through every point in range."""
    budget = ctx.request.app[CONFIG]["limits"].points_per_read
    points = 0
    for stream in streams:
        points += ctx.state.series(stream).extent(start, end, budget + 1)[0]
        if points > budget:
            raise Problem(413, "request_entity_too_large",
                          f"The range holds more than {budget} points; narrow it with start and end")


def _device_rows(ctx, device, limit):
    """[(ms, {stream: value})] newest first over the chosen streams."""
    names = ctx.param_list("streams")
    streams = [ctx.state.stream(device, name) for name in names] if names else ctx.state.device_streams(device)
    start, end = _range(ctx)
    rows = {}
    for stream in streams:
        ms, values = stream_values.newest(ctx.state.series(stream), start, end, limit)
        for t, value in zip(ms.tolist(), values if isinstance(values, list) else values.tolist()):
            rows.setdefault(t, {})[stream["name"]] = value
    return start, end, sorted(rows.items(), reverse=True)[:limit]


@route("GET", "/devices/{device_id}/values")
def device_values(ctx):
    limit = ctx.int_param("limit", 100, maximum=MAX_READ_LIMIT)
    start, end, rows = _device_rows(ctx, ctx.device(), limit)
    result = _range_echo(ctx, start, end, limit=limit)
    result["values"] = [{"timestamp": stream_values.iso(t), "values": values} for t, values in rows]
    return json_response(result)


@route("GET", "/devices/{device_id}/values/search")
@route("POST", "/devices/{device_id}/values/search")
def device_values_search(ctx):
    limit = ctx.int_param("limit", 100, maximum=MAX_READ_LIMIT)
    _, _, rows = _device_rows(ctx, ctx.device(), limit)
    return json_response({"values": [{"timestamp": stream_values.iso(t), "values": values} for t, values in rows]})


@route("GET", "/devices/{device_id}/values/export.csv")
def device_values_export(ctx):
    """202 and a job; the CSV is written in a worker thread from a snapshot
    of the columns taken now, and the job completes when it is stored."""
    device = ctx.device()
    names = ctx.param_list("streams")
    streams = [ctx.state.stream(device, name) for name in names] if names else ctx.state.device_streams(device)
    start, end = _range(ctx)
    _within_points_budget(ctx, streams, start, end)
    snapshot = [(stream["name"], *stream_values.select(ctx.state.series(stream), start, end)) for stream in streams]
    job = ctx.state.create_job(device)
    work = asyncio.get_running_loop().run_in_executor(None, stream_values.csv_text, snapshot)
    work.add_done_callback(lambda done: ctx.state.finish_job(job["id"], done))
    return web.Response(status=202, headers={"Location": ctx.state.url("jobs", job["id"])})


# --- device commands -----------------------------------------------------------------------
@route("GET", "/devices/{device_id}/commands")
def device_commands(ctx):
    device = ctx.device()
    status_filter = ctx.param("status")
    docs = [doc for doc in ctx.state.device_commands(device)
            if not status_filter or doc["deliveries"][device["id"]]["status"] == status_filter]
    return page(ctx, docs, "commands", lambda doc: ctx.state.command_json(doc, device))


@route("GET", "/devices/{device_id}/commands/{command_id}")
def device_command(ctx):
    device = ctx.device()
    doc = ctx.state.command(ctx.account, ctx.match["command_id"], device)
    return json_response(ctx.state.command_json(doc, device))


def _settle(ctx, outcome):
    device = ctx.device()
    doc = ctx.state.command(ctx.account, ctx.match["command_id"], device)
    ctx.state.settle_command(doc, device, outcome, ctx.body or None)
    return no_content()


@route("POST", "/devices/{device_id}/commands/{command_id}/process")
def process_command(ctx):
    return _settle(ctx, "processed")


@route("POST", "/devices/{device_id}/commands/{command_id}/reject")
def reject_command(ctx):
    return _settle(ctx, "rejected")


# --- metadata (devices, distributions, collections) ----------------------------------------
def _metadata_routes(prefix, kind, holder):
    """The four metadata endpoints of one kind of object; holder(ctx) finds it."""

    @route("GET", prefix + "/metadata")
    def read_metadata(ctx):
        return json_response(holder(ctx)["metadata"])

    @route("PUT", prefix + "/metadata")
    def update_metadata(ctx):
        doc = holder(ctx)
        if not all(isinstance(name, str) for name in ctx.body):
            raise invalid({"metadata": "invalid"})
        doc["metadata"] = dict(ctx.body)
        ctx.state.save_metadata_holder(kind, doc)
        return no_content()

    @route("GET", prefix + "/metadata/{field}")
    def read_metadata_field(ctx):
        metadata = holder(ctx)["metadata"]
        if ctx.match["field"] not in metadata:
            raise not_found("Metadata field")
        return json_response({"value": metadata[ctx.match["field"]]})

    @route("PUT", prefix + "/metadata/{field}")
    def update_metadata_field(ctx):
        doc = holder(ctx)
        if "value" not in ctx.body:
            raise invalid({"value": "not_present"})
        doc["metadata"][ctx.match["field"]] = ctx.body["value"]
        ctx.state.save_metadata_holder(kind, doc)
        return no_content()


_metadata_routes("/devices/{device_id}", "device", lambda ctx: ctx.device())


# --- distributions and collections --------------------------------------------------------------
def _document_routes(plural, singular):
    """The routes that distributions and collections share: GET and POST
    /<plural>, GET, PUT and DELETE /<plural>/{<singular>_id}, its device
    list and metadata. The state serves each through the methods named
    after the kind: <singular>(account, id), create_<singular>,
    update_<singular>, delete_<singular>, <singular>_json,
    <singular>_devices, and the dict state.<plural>. Returns the lookup
    of one document, for the routes of their own."""
    id_name = singular + "_id"
    prefix = f"/{plural}/{{{id_name}}}"

    def find(ctx):
        return getattr(ctx.state, singular)(ctx.account, ctx.match[id_name])

    def render(ctx, doc):
        return getattr(ctx.state, singular + "_json")(doc)

    @route("GET", "/" + plural)
    def list_documents(ctx):
        docs = [doc for doc in getattr(ctx.state, plural).values() if doc["account"] == ctx.account]
        return page(ctx, docs, plural, lambda doc: render(ctx, doc))

    @route("POST", "/" + plural)
    def create_document(ctx):
        return json_response(render(ctx, getattr(ctx.state, "create_" + singular)(ctx.account, ctx.body)), 201)

    @route("GET", prefix)
    def get_document(ctx):
        return json_response(render(ctx, find(ctx)))

    @route("PUT", prefix)
    def update_document(ctx):
        getattr(ctx.state, "update_" + singular)(find(ctx), ctx.body)
        return no_content()

    @route("DELETE", prefix)
    def delete_document(ctx):
        getattr(ctx.state, "delete_" + singular)(find(ctx))
        return no_content()

    @route("GET", prefix + "/devices")
    def document_devices(ctx):
        return _device_page(ctx, getattr(ctx.state, singular + "_devices")(find(ctx)))

    _metadata_routes(prefix, singular, find)
    return find


_distribution = _document_routes("distributions", "distribution")
_collection = _document_routes("collections", "collection")


@route("POST", "/distributions/{distribution_id}/devices")
def add_distribution_device(ctx):
    """A new device, registered in the distribution by its serial."""
    device = ctx.state.add_distribution_device(_distribution(ctx), ctx.body)
    return json_response(ctx.state.device_json(device), 201)


def _collection_device(ctx):
    return _collection(ctx), ctx.state.device(ctx.account, ctx.match["member_id"])


@route("PUT", "/collections/{collection_id}/devices/{member_id}")
def collection_add_device(ctx):
    """An existing device, added to the collection."""
    ctx.state.collection_add(*_collection_device(ctx))
    return no_content()


@route("DELETE", "/collections/{collection_id}/devices/{member_id}")
def collection_remove_device(ctx):
    ctx.state.collection_remove(*_collection_device(ctx))
    return no_content()


# --- keys ----------------------------------------------------------------------------------------
@route("GET", "/keys")
def list_keys(ctx):
    device = ctx.param("device")
    if device:
        ctx.state.device(ctx.account, device)
    return json_response({"keys": [ctx.state.key_json(doc) for doc in ctx.state.account_keys(ctx.account, device)]})


@route("POST", "/keys")
def create_key(ctx):
    return json_response(ctx.state.key_json(ctx.state.create_key(ctx.account, ctx.body)), 201)


@route("GET", "/keys/{key}")
def get_key(ctx):
    return json_response(ctx.state.key_json(ctx.state.key(ctx.account, ctx.match["key"])))


@route("PUT", "/keys/{key}")
def update_key(ctx):
    ctx.state.update_key(ctx.state.key(ctx.account, ctx.match["key"]), ctx.body)
    return no_content()


@route("DELETE", "/keys/{key}")
def delete_key(ctx):
    doc = ctx.state.key(ctx.account, ctx.match["key"])
    if doc["master"] and len([k for k in ctx.state.account_keys(ctx.account) if k["master"]]) == 1:
        raise invalid({"key": "invalid"}, "The last master key of an account cannot be deleted")
    ctx.state.revoke(doc["key"])
    return no_content()


@route("POST", "/keys/{key}/regenerate")
def regenerate_key(ctx):
    doc = ctx.state.regenerate_key(ctx.state.key(ctx.account, ctx.match["key"]))
    return json_response(ctx.state.key_json(doc), 201)


# --- commands and jobs -----------------------------------------------------------------------------
@route("GET", "/commands")
def list_commands(ctx):
    return page(ctx, ctx.state.account_commands(ctx.account), "commands", ctx.state.command_json)


@route("POST", "/commands")
def send_command(ctx):
    return json_response(ctx.state.command_json(ctx.state.send_command(ctx.account, ctx.body)), 202)


@route("GET", "/commands/{command_id}")
def get_command(ctx):
    return json_response(ctx.state.command_json(ctx.state.command(ctx.account, ctx.match["command_id"])))


@route("GET", "/jobs/{job_id}")
def get_job(ctx):
    return json_response(ctx.state.job_json(ctx.state.job(ctx.account, ctx.match["job_id"])))


@route("GET", "/jobs/{job_id}/result")
def job_result(ctx):
    doc = ctx.state.job(ctx.account, ctx.match["job_id"])
    return web.Response(text=ctx.state.job_result(doc), headers={"Content-Type": "text/csv; charset=utf-8"})
