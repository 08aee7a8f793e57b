"""EXP's REST endpoints (spec/exp.md 2-3) on the embedded server.

Every path but login and the fixture endpoint goes through `Exp.access`,
the one access check: the caller's token gives its identity, whose
organization is the only one its requests read or write. Errors are EXP's
own body {"code", "message", "status"}.

A find (`GET /api/{c}`, `/api/data`) whose page would hold more than the
server's `items_per_request` documents, or more than its `response_bytes`,
is refused 413 `response.tooLarge`, never truncated: the caller pages with
`limit` and `skip` (there is no default page limit, spec 3.3).
"""
import asyncio
import functools
import json
import math

import orjson
from aiohttp import web

from ..http import CONFIG, receive_body
from .network import MAX_BROADCAST_TIMEOUT_MS, RealtimeNetwork
from .state import COLLECTIONS, DATA, ExpApiError, bad_request, not_found

JSON = "application/json; charset=utf-8"
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# collection -> URL path (feeds live under /api/connectors)
COLLECTION_PATHS = {collection: f"/api/{collection}" for collection in COLLECTIONS}
COLLECTION_PATHS["feeds"] = "/api/connectors/feeds"
UPDATE_NOTIFIED = frozenset(("devices", "things", "experiences", "locations", "feeds"))


def json_response(value, status=200):
    return web.Response(body=orjson.dumps(value), status=status, headers={"Content-Type": JSON})


def unauthorized(message="Invalid or expired token."):
    return ExpApiError(401, "auth.unauthorized", message)


def not_allowed(request):
    return ExpApiError(405, "request.notAllowed", f"{request.method} is not allowed on {request.path}.")


def endpoint(handler):
    """Answers ExpApiError in EXP's error shape."""
    @functools.wraps(handler)
    async def answer(*args):
        try:
            return await handler(*args)
        except ExpApiError as error:
            return json_response(error.body(), error.status)
    return answer


_BODY_ERRORS = {413: ("request.tooLarge", "The request body is too large."),
                408: ("request.timeout", "The request body did not arrive in time."),
                400: ("request.invalid", "The request body ended early.")}


def _body_error(status):
    """EXP's answer to a body over the server's budgets (http.receive_body)."""
    error = ExpApiError(status, *_BODY_ERRORS[status])
    return json_response(error.body(), status)


def listing_response(request, found):
    """find()'s {"results", "total"} as a response, within the server's
    budgets (module docstring): each document is encoded once, and encoding
    stops at the one that passes the bytes budget."""
    limits = request.app[CONFIG]["limits"]
    page = found["results"]
    if len(page) > limits.items_per_request:
        raise _listing_too_large(f"{len(page)} documents", f"{limits.items_per_request} a page")
    encoded = []
    size = 0
    for document in page:
        encoded.append(orjson.dumps(document))
        size += len(encoded[-1]) + 1
        if size > limits.response_bytes:
            raise _listing_too_large(f"More than {limits.response_bytes} bytes of documents",
                                     f"{limits.response_bytes} bytes a page")
    body = b'{"results":[%b],"total":%d}' % (b",".join(encoded), found["total"])
    return web.Response(body=body, headers={"Content-Type": JSON})


def _listing_too_large(what, budget):
    return ExpApiError(413, "response.tooLarge", f"{what} would be answered, past the server's {budget}: "
                                                 "page the find with limit and skip.")


def _int64(text):
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"the integer {text} is beyond 64 bits")
    return value


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _bound(handler, collection):
    """handler(collection, request) as a request handler (keeping its name
    and module, which tell which API a route belongs to)."""
    @functools.wraps(handler)
    async def for_collection(request):
        return await handler(collection, request)
    return for_collection


async def json_body(request):
    """The request's JSON body, None when it has none. Integers beyond 64
    bits are refused rather than rounded (orjson would make them floats)."""
    data = await receive_body(request, _body_error)
    if not data.strip():
        return None
    try:
        return json.loads(data, parse_int=_int64, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"The body is not JSON that can be stored: {exc}.") from None


def feed_data(feed, query):
    """A deterministic weather-like answer (spec 3.5): the hosted feeds are gone."""
    search = feed.get("searchValue")
    if feed.get("dataType") == "dynamic" and "searchValue" in query:
        search = query["searchValue"]
    name = feed.get("name")
    return {"search": {"search": search, "maxResults": 3},
            "details": {"name": name, "subtype": feed.get("subtype")},
            "items": [{"date": f"2017-03-{day:02d}", "text": f"{name}: forecast for {search}, day {day}",
                       "metadata": {"day": day}} for day in (1, 2, 3)]}


class Exp:
    def __init__(self, state):
        self.state = state
        self.network = RealtimeNetwork(state)

    # --- the access check -------------------------------------------------------
    def access(self, request, write=False, restricted=False):
        """The identity of the request's token (Bearer; or with `restricted`,
        also `_rt` in the query or a cookie). 401 without a valid one, 403 for
        a change by a pairing device (it belongs to no organization)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        identity = None
        if scheme.lower() == "bearer":
            identity = self.state.identity_of(token.strip())
        if identity is None and restricted:
            token = request.query.get("_rt") or request.cookies.get("_rt")
            identity = self.state.identity_of(token, restricted=True)
        if identity is None:
            raise unauthorized()
        if write and identity.org is None:
            raise ExpApiError(403, "auth.forbidden", "A pairing device changes nothing.")
        return identity

    async def durable(self):
        await self.state.database.durable()

    # --- auth (spec 2) ------------------------------------------------------------
    def auth_payload(self, request, identity):
        token, expiration, restricted = self.state.issue(identity)
        host = f"{request.scheme}://{request.host}"
        return {"token": token, "expiration": expiration, "restrictedToken": restricted,
                "identity": identity.payload(), "api": {"host": host}, "network": {"host": host}}

    @endpoint
    async def login(self, request):
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad_request("Log in with username, password and organization, or with a token.")
        if "username" in body:
            identity = await self._user_login(body)
        elif isinstance(body.get("token"), str):
            identity = self.state.jwt_login(body["token"])
        else:
            raise bad_request("Log in with username, password and organization, or with a token.")
        if identity is None:
            raise unauthorized("Invalid credentials.")
        return json_response(self.auth_payload(request, identity))

    async def _user_login(self, body):
        check = functools.partial(self.state.user_login, body.get("username"), body.get("password"),
                                  body.get("organization"))
        # the password hash takes milliseconds: off the event loop
        return await asyncio.get_running_loop().run_in_executor(None, check)

    @endpoint
    async def refresh(self, request):
        identity = self.access(request)
        if not self.state.still_valid(identity):
            raise unauthorized()
        return json_response(self.auth_payload(request, identity))

    # --- documents (spec 3.2-3.3) ---------------------------------------------------
    @endpoint
    async def collection(self, collection, request):
        if request.method == "GET":
            identity = self.access(request)
            return listing_response(request, self.state.find(identity.org, collection, dict(request.query)))
        if request.method == "POST" and collection != "content":
            identity = self.access(request, write=True)
            document = await json_body(request)
            created = self.state.create(identity.org, collection, {} if document is None else document)
            await self.durable()
            return json_response(created)
        raise not_allowed(request)

    @endpoint
    async def document(self, collection, request):
        key = request.match_info["uuid"]
        if request.method == "GET":
            identity = self.access(request)
            return json_response(self.state.get(identity.org, collection, key))
        if collection == "content" or request.method not in ("PATCH", "DELETE"):
            raise not_allowed(request)
        identity = self.access(request, write=True)
        if request.method == "DELETE":
            self.state.delete(identity.org, collection, key)
            await self.durable()
            return web.Response(status=204)
        updated = self.state.patch(identity.org, collection, key, await json_body(request))
        await self.durable()
        if collection in UPDATE_NOTIFIED:
            await self.network.notify_update(identity.org, key, updated)
        return json_response(updated)

    @endpoint
    async def feed_data(self, request):
        identity = self.access(request)
        feed = self.state.get(identity.org, "feeds", request.match_info["uuid"])
        return json_response(feed_data(feed, request.query))

    @endpoint
    async def layout(self, request):
        """A location's layout image (or `?variant=name`), as delivery: read
        with the restricted token (`_rt` query or cookie) or a Bearer token;
        PUT stores the request's image bytes, DELETE removes them (without a
        variant: the layout and all its variants)."""
        location, variant = request.match_info["uuid"], request.query.get("variant", "")
        if request.method in ("GET", "HEAD"):
            identity = self.access(request, restricted=True)
            mime, data = self.state.layout(identity.org, location, variant)
            return web.Response(body=data, content_type=mime, headers={"X-Content-Type-Options": "nosniff"})
        identity = self.access(request, write=True)
        if request.method == "PUT":
            stored = self.state.put_layout(identity.org, location, variant, await receive_body(request, _body_error))
            await self.durable()
            return json_response(stored)
        if request.method == "DELETE":
            self.state.delete_layout(identity.org, location, variant)
            await self.durable()
            return web.Response(status=204)
        raise not_allowed(request)

    # --- data ------------------------------------------------------------------------
    @endpoint
    async def data_collection(self, request):
        if request.method != "GET":
            raise not_allowed(request)
        identity = self.access(request)
        return listing_response(request, self.state.find(identity.org, DATA, dict(request.query)))

    @endpoint
    async def data_item(self, request):
        group, key = request.match_info["group"], request.match_info["key"]
        if request.method == "GET":
            identity = self.access(request)
            return json_response(self.state.get(identity.org, DATA, (group, key)))
        if request.method == "PUT":
            identity = self.access(request, write=True)
            document = self.state.put_data(identity.org, group, key, await json_body(request))
            await self.durable()
            return json_response(document)
        if request.method == "DELETE":
            identity = self.access(request, write=True)
            self.state.delete_data(identity.org, group, key)
            await self.durable()
            return web.Response(status=204)
        raise not_allowed(request)

    # --- content delivery ----------------------------------------------------------
    @endpoint
    async def delivery(self, request):
        identity = self.access(request, restricted=True)
        path = "/" + "/".join(part for part in request.match_info["path"].split("/") if part)
        found = self.state.blob(identity.org, path, request.query.get("variant"))
        if found is None:
            raise not_found("Content")
        mime, data = found
        return web.Response(body=data, content_type=mime)

    # --- the network's HTTP side (spec 4.4) -------------------------------------------
    @endpoint
    async def broadcast(self, request):
        identity = self.access(request)
        try:
            timeout_ms = float(request.query.get("timeout", 0))
        except ValueError:
            raise bad_request("timeout must be a number of milliseconds.") from None
        if math.isnan(timeout_ms):
            raise bad_request("timeout must be a number of milliseconds.")
        timeout_ms = min(max(timeout_ms, 0.0), MAX_BROADCAST_TIMEOUT_MS)
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise bad_request("A broadcast is an object with channel, name and payload.")
        channel = self.network.resolve(identity, body.get("channel"))
        responses = await self.network.broadcast(identity, channel, body["name"], body.get("payload"), timeout_ms)
        return json_response(responses)

    @endpoint
    async def respond(self, request):
        identity = self.access(request)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad_request("A response is an object with id, channel and payload.")
        self.network.respond(identity, body.get("id"), body.get("channel"), body.get("payload"))
        return json_response({})

    @endpoint
    async def log(self, request):
        self.access(request)
        await receive_body(request, _body_error)
        return web.Response(status=200)

    # --- fixtures for tests -------------------------------------------------------------
    @endpoint
    async def fixture_organization(self, request):
        """A new organization with fresh credentials (only while fixtures are on)."""
        if not self.state.fixtures:
            raise not_found("Fixture endpoint")
        created = self.state.fixture_organization()
        await self.durable()
        created["host"] = f"{request.scheme}://{request.host}"
        return json_response(created)

    def routes(self):
        table = [
            web.post("/api/auth/login", self.login),
            web.post("/api/auth/token", self.refresh),
            web.get("/api/connectors/feeds/{uuid}/data", self.feed_data),
            web.route("*", "/api/locations/{uuid}/layout", self.layout),
            web.route("*", "/api/data", self.data_collection),
            web.route("*", "/api/data/{group}/{key}", self.data_item),
            web.get("/api/delivery/{path:.*}", self.delivery),
            web.post("/api/networks/current/broadcasts", self.broadcast),
            web.post("/api/networks/current/responses", self.respond),
            web.post("/api/logs", self.log),
            web.post("/api/fixtures/organizations", self.fixture_organization),
        ]
        for collection, path in COLLECTION_PATHS.items():
            table.append(web.route("*", path, _bound(self.collection, collection)))
            table.append(web.route("*", path + "/{uuid}", _bound(self.document, collection)))
        handle = self.network.handle_request
        table += [web.get("/socket.io/", handle), web.post("/socket.io/", handle),
                  web.options("/socket.io/", handle)]
        return table
