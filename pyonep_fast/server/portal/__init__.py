"""The web portal at /portal/: what each API stores, seen through that API's
own credential and access rules.

The page (static/, plain HTML/CSS/JS with the vendored uPlot) talks to
/portal/api/…: the session endpoints here, and one module per API under
/portal/api/<name>/ (onep.py, m2x.py, exp.py). A portal module exposes
  NAME, TITLE, CREDENTIAL     its API (the store attribute), shown names
  FIELDS (optional)           [(name, label, input type)] of a credential
                              made of several fields (else one string)
  async sign_in(store, credential)
                              (label, what the session keeps) of a valid
                              credential, or None
  routes(portal)              its aiohttp routes (portal.api_routes: handlers
                              of a Session, the API's errors mapped to the
                              page's in one place)
  async ingest_target(portal, session, target) (optional)
                              a label ("device NAME") of a bulk ingest's
                              target (its checkpoint's fingerprint target)
                              if the session may read it, by the same check
                              as the module's pages; None otherwise. An API
                              without one shows its sessions no ingests
and MODULES lists them: adding an API's pages adds a module there. Any
signed-in session also sees the server's activity (activity.py: requests
per second and latency percentiles per API, measured by one middleware),
and the bulk ingests it may see, followed through the checkpoint files the
server was told to watch (ingests.py).
"""
import asyncio
import mimetypes
from importlib import resources

import orjson
from aiohttp import web

from ..http import CONFIG, json_response, receive_body
from . import exp, m2x, onep
from .activity import Activity
from .charts import BadRange
from .downsample import SeriesChanged, Summaries
from .events import KEEPALIVE_SECONDS
from .export import Exports
from .ingests import Ingests
from .sessions import (PREFIX, Sessions, add_security_headers, browsers_to_portal, clear_cookie, error,
                       not_signed_in, same_origin, set_cookie)

NAME = "portal"
MODULES = [onep, m2x, exp]
MAX_CREDENTIAL = 1024
ACTIVITY_SECONDS = 1.0      # between two updates of the activity page
CHART_REFUSALS = {BadRange: lambda refusal: (400, "The range is not valid."),
                  SeriesChanged: lambda refusal: (409, "The data changed while it was read; try again.")}

__all__ = ["MODULES", "NAME", "Portal", "open_state", "routes", "setup"]


class Portal:
    """The portal's state: sessions, chart summaries, open event streams, CSV downloads."""

    def __init__(self, store):
        self.store = store
        self.sessions = Sessions()
        self.summaries = Summaries()
        self.streams = set()          # asyncio.Queue of each open event stream
        self.keepalive_seconds = KEEPALIVE_SECONDS   # an idle event stream checks access again this often
        self.exports = Exports()
        self.activity = Activity()
        self.modules = {module.NAME: module for module in MODULES}
        self.ingests = Ingests(self)
        self.static = _static_files()

    def handler(self, api, serve, refusals):
        """An aiohttp handler running serve(request, session) for a signed-in
        session of API `api` (401 otherwise): JSON of what serve returns, or
        the Response it returns. refusals: {exception class: describe(exc)
        -> (status, message)}, how the page sees the API's own errors (and the
        charts' CHART_REFUSALS); a status 401 (the credential no longer signs
        in) ends the session."""
        refusals = {**CHART_REFUSALS, **refusals}
        caught = tuple(refusals)

        async def handle(request):
            session = self.sessions.of(request)
            if session is None or session.api != api:
                return not_signed_in()
            try:
                answer = await serve(request, session)
            except caught as refusal:
                describe = next(refusals[kind] for kind in type(refusal).__mro__ if kind in refusals)
                status, message = describe(refusal)
                return self.signed_out(session) if status == 401 else error(status, message)
            if isinstance(answer, web.StreamResponse):
                return answer
            return json_response(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY))
        return handle

    def api_routes(self, api, pages, names, refusals):
        """GET /portal/api/<api>/<name> of each name, served by pages.<name> (see handler)."""
        return [web.get(f"{PREFIX}/api/{api}/{name}", self.handler(api, getattr(pages, name), refusals))
                for name in names]

    def signed_out(self, session):
        """Ends a session whose credential no longer works: 401."""
        self.sessions.end(session)
        return error(401, "Your credential no longer signs in; sign in again.")

    async def close_streams(self, app):
        for queue in list(self.streams):
            queue.put_nowait(None)


def _static_files():
    """{name: (bytes, content type)} of the shipped static files (read once)."""
    files = {}
    folder = resources.files(__package__) / "static"
    for name, item in _walk(folder, ""):
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        files[name] = (item.read_bytes(), kind)
    return files


def _walk(folder, prefix):
    for item in folder.iterdir():
        if item.is_dir():
            yield from _walk(item, prefix + item.name + "/")
        else:
            yield prefix + item.name, item


def _credential(module, given):
    """The credential a sign-in form sent, as the module takes it, or None:
    a non-empty string (stripped), or for a module with FIELDS an object of
    those non-empty strings."""
    def fits(text):
        return isinstance(text, str) and text.strip() and len(text) <= MAX_CREDENTIAL
    fields = getattr(module, "FIELDS", None)
    if fields is None:
        return given.strip() if fits(given) else None
    if not isinstance(given, dict) or not all(fits(given.get(name)) for name, _, _ in fields):
        return None
    return {name: given[name] for name, _, _ in fields}


def open_state(store):
    return Portal(store)


def routes(store):
    portal = store.portal

    async def to_portal(request):
        raise web.HTTPFound(PREFIX + "/")

    async def page(request):
        body, kind = portal.static["index.html"]
        return web.Response(body=body, headers={"Content-Type": kind, "Cache-Control": "no-cache"})

    async def static(request):
        found = portal.static.get(request.match_info["name"])
        if found is None or request.match_info["name"] == "index.html":
            raise web.HTTPNotFound()
        return web.Response(body=found[0], headers={"Content-Type": found[1], "Cache-Control": "no-cache"})

    async def apis(request):
        return json_response(orjson.dumps([{"name": m.NAME, "title": m.TITLE, "credential": m.CREDENTIAL,
                                            "fields": getattr(m, "FIELDS", None)} for m in MODULES]))

    async def who(request):
        session = portal.sessions.of(request)
        if session is None:
            return not_signed_in()
        return json_response(orjson.dumps({"api": session.api, "label": session.label}))

    async def sign_in(request):
        if not same_origin(request):
            return error(403, "Cross-origin requests are refused.")
        try:
            form = orjson.loads(await receive_body(request, lambda status: error(status, "The sign-in body was refused.")))
        except orjson.JSONDecodeError:
            form = None
        if not isinstance(form, dict):
            return error(400, "Send {\"api\": …, \"credential\": …} as JSON.")
        module = portal.modules.get(form.get("api"))
        if module is None:
            return error(400, "Unknown API.")
        credential = _credential(module, form.get("credential"))
        if credential is None:
            return error(400, f"Enter a {module.CREDENTIAL}.")
        signed_in = await module.sign_in(portal.store, credential)
        if signed_in is None:
            return error(401, f"That {module.CREDENTIAL} does not sign in to {module.TITLE}.")
        label, kept = signed_in
        session = portal.sessions.create(module.NAME, kept, label)
        response = json_response(orjson.dumps({"api": session.api, "label": session.label}))
        set_cookie(response, session)
        return response

    async def activity_snapshot(session):
        """The server's activity, and the ingests this session may see."""
        await portal.ingests.refresh()
        return orjson.dumps({**portal.activity.snapshot(), "ingests": await portal.ingests.visible_to(session)})

    async def activity(request):
        session = portal.sessions.of(request)
        if session is None:
            return not_signed_in()
        return json_response(await activity_snapshot(session))

    async def activity_events(request):
        """Server-sent events: the activity snapshot each second while the session lasts."""
        session = portal.sessions.of(request)
        if session is None:
            return not_signed_in()
        queue = asyncio.Queue()        # only the shutdown's None arrives here
        portal.streams.add(queue)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        try:
            await response.prepare(request)
            while portal.sessions.alive(session):
                await response.write(b"data: " + await activity_snapshot(session) + b"\n\n")
                try:
                    if await asyncio.wait_for(queue.get(), ACTIVITY_SECONDS) is None:
                        break
                except TimeoutError:
                    continue
            else:
                await response.write(b"event: end\ndata: {}\n\n")
        except ConnectionResetError:
            pass
        finally:
            portal.streams.discard(queue)
        return response

    async def sign_out(request):
        if not same_origin(request):
            return error(403, "Cross-origin requests are refused.")
        session = portal.sessions.of(request)
        if session is not None:
            portal.sessions.end(session)
        response = json_response(b"{}")
        clear_cookie(response)
        return response

    found = [
        web.get(PREFIX, to_portal),
        web.get(PREFIX + "/", page),
        web.get(PREFIX + "/static/{name:.+}", static),
        web.get(PREFIX + "/api/apis", apis),
        web.get(PREFIX + "/api/session", who),
        web.post(PREFIX + "/api/session", sign_in),
        web.post(PREFIX + "/api/signout", sign_out),
        web.get(PREFIX + "/api/activity", activity),
        web.get(PREFIX + "/api/activity/events", activity_events),
    ]
    for module in MODULES:
        found.extend(module.routes(portal))
    return found


def setup(app, store):
    app.middlewares.append(browsers_to_portal)
    app.middlewares.append(store.portal.activity.middleware())
    store.portal.ingests.watch(app[CONFIG].get("ingest_checkpoints") or ())
    app.on_response_prepare.append(add_security_headers)
    app.on_shutdown.append(store.portal.close_streams)

