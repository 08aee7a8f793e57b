"""Portal sign-in sessions and the web hygiene every portal response shares.

A credential (a CIK, an M2X key, an EXP user) is POSTed once; the
server keeps it in a Session under a random id, and the browser holds only
that id, in an HttpOnly, SameSite=Strict cookie scoped to /portal. Each data
request resolves the session back to its API's own principal (the API's
portal module does, through the API's access check): a credential that stops
working (a CIK regenerated, a client dropped) ends the session.
"""
import secrets
import time
from collections import OrderedDict

import orjson
from aiohttp import web

from ..http import json_response

COOKIE = "pf_portal"
IDLE_SECONDS = 12 * 3600
MAX_SESSIONS = 10000
PREFIX = "/portal"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class Session:
    __slots__ = ("id", "api", "credential", "label", "expires")

    def __init__(self, api, credential, label):
        self.id = secrets.token_urlsafe(32)
        self.api = api                # the portal module's NAME
        self.credential = credential  # kept on the server only
        self.label = label            # what the page shows for who is signed in
        self.expires = 0.0


class Sessions:
    def __init__(self):
        self._by_id = OrderedDict()

    def create(self, api, credential, label):
        session = Session(api, credential, label)
        self._by_id[session.id] = session
        self._touch(session)
        while len(self._by_id) > MAX_SESSIONS:
            self._by_id.popitem(last=False)
        return session

    def _touch(self, session):
        session.expires = time.monotonic() + IDLE_SECONDS
        self._by_id.move_to_end(session.id)

    def of(self, request):
        """The live Session of the request's cookie, or None."""
        session = self._by_id.get(request.cookies.get(COOKIE, ""))
        if session is None:
            return None
        if session.expires < time.monotonic():
            self.end(session)
            return None
        self._touch(session)
        return session

    def alive(self, session):
        """True while a session has neither ended nor expired (for a stream that outlives its request)."""
        return self._by_id.get(session.id) is session and session.expires >= time.monotonic()

    def end(self, session):
        self._by_id.pop(session.id, None)


def set_cookie(response, session):
    response.set_cookie(COOKIE, session.id, path=PREFIX, httponly=True, samesite="Strict", max_age=IDLE_SECONDS)


def clear_cookie(response):
    response.del_cookie(COOKIE, path=PREFIX)


def same_origin(request):
    """True if the request comes from a page of this server (browsers send
    Origin with every POST; one missing or from elsewhere is refused)."""
    return request.headers.get("Origin") == f"{request.scheme}://{request.host}"


def error(status, message):
    return json_response(orjson.dumps({"error": message}), status)


def not_signed_in():
    return error(401, "Sign in first.")


async def add_security_headers(request, response):
    """An on_response_prepare hook: portal responses get the CSP and friends;
    its API answers are never cached."""
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith(PREFIX + "/api/"):
            response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def browsers_to_portal(request, handler):
    """A browser opening the server's root goes to the portal; other clients
    of GET / (the CIK fountain's bare form, spec 6.2) are answered as before."""
    if request.path == "/" and request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
        raise web.HTTPFound(PREFIX + "/")
    return await handler(request)
