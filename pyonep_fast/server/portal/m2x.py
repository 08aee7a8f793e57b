"""M2X in the portal: the devices, streams (charted like dataports), keys
and commands an M2X key may read.

Every answer first runs M2X's own access check (m2x/access.py's
`authorize`, as each /v2 route does) for the scope the matching /v2 GET
names: the account (GET /v2/keys, /v2/commands) or a device (GET
/v2/devices/{id}/...); objects are then looked up inside the key's account
with the API's own lookups. A master key sees its account; a device key
its device only. Key secrets are never sent whole: the page shows their
last characters.
"""
import orjson
from aiohttp import web

from ..http import json_response
from ..m2x import access
from ..m2x.errors import Problem
from .charts import BadRange, series_chart
from .downsample import SeriesChanged
from .sessions import PREFIX, error

NAME = "m2x"
TITLE = "M2X"
CREDENTIAL = "API key"
SHOWN_SECRET = 4              # trailing characters of a key shown
MS_PER_SECOND = 1000


def _principal(store, token):
    """The key document of a token that signs in; M2X's Problem otherwise.
    Signing in makes no account (auto_accounts is for the API's programs)."""
    with store.m2x.lock:
        return access.authenticate(store.m2x, token, new_accounts=False)


async def sign_in(store, credential):
    try:
        key = _principal(store, credential)
    except Problem:
        return None
    kind = "master key" if key["master"] else "device key" if key["device"] else "distribution key"
    return f"{key['name'] or '(no name)'} ({kind} …{_tail(credential)})", credential


def _tail(token):
    return token[-SHOWN_SECRET:] if len(token) > 2 * SHOWN_SECRET else ""


def _masked(token):
    return "…" + _tail(token) if token else token


class Pages:
    def __init__(self, portal):
        self.portal = portal
        self.state = portal.store.m2x

    def allowed(self, session, scope):
        """The session key's document if M2X lets it GET scope; raises M2X's Problem."""
        with self.state.lock:
            return access.authorize(self.state, session.credential, "GET", scope, new_accounts=False)

    def device(self, session, device_id):
        key = self.allowed(session, (access.DEVICE, device_id))
        return self.state.device(key["account"], device_id)

    def page(self, serve):
        async def handle(request, session):
            try:
                answer = await serve(request, session)
            except Problem as problem:
                if problem.status == 401:
                    return self.portal.signed_out(session)
                return error(problem.status, f"M2X answered: {problem.message}")
            except BadRange:
                return error(400, "M2X answered: the range is not valid")
            except SeriesChanged:
                return error(409, "The data changed while it was read; try again.")
            return json_response(orjson.dumps(answer))
        return self.portal.handler(NAME, handle)

    def device_json(self, doc):
        return {**self.state.device_json(doc), "key": _masked(doc.get("key"))}

    async def devices(self, request, session):
        """The devices the key may read (each as GET /v2/devices/{id} would
        allow it), and whether it may read the account's keys and commands."""
        key = self.allowed_or_none(session, (access.ACCOUNT, None))
        account = key["account"] if key else _principal(self.portal.store, session.credential)["account"]
        visible = [doc for doc in self.state.account_devices(account)
                   if self.allowed_or_none(session, (access.DEVICE, doc["id"]))]
        return {"devices": [self.device_json(doc) for doc in visible], "account": key is not None}

    def allowed_or_none(self, session, scope):
        try:
            return self.allowed(session, scope)
        except Problem as problem:
            if problem.status != 403:
                raise
            return None

    async def device_page(self, request, session):
        doc = self.device(session, request.query.get("id", ""))
        commands = [self.state.command_json(command, doc) for command in self.state.device_commands(doc)]
        return {"device": self.device_json(doc),
                "streams": [self.state.stream_json(stream) for stream in self.state.device_streams(doc)],
                "commands": commands}

    async def chart(self, request, session):
        doc = self.device(session, request.query.get("device", ""))
        stream = self.state.stream(doc, request.query.get("stream", ""))
        drawn = await series_chart(self.portal.summaries, self.state.series(stream), request.query, MS_PER_SECOND)
        return {"device": doc["id"], "stream": stream["name"], "format": stream["type"], **drawn}

    async def keys(self, request, session):
        key = self.allowed(session, (access.ACCOUNT, None))
        return {"keys": [{**self.state.key_json(doc), "key": _masked(doc["key"])}
                         for doc in self.state.account_keys(key["account"])]}

    async def commands(self, request, session):
        key = self.allowed(session, (access.ACCOUNT, None))
        return {"commands": [self.state.command_json(doc) for doc in self.state.account_commands(key["account"])]}


def routes(portal):
    pages = Pages(portal)
    base = f"{PREFIX}/api/{NAME}"
    return [web.get(f"{base}/{name}", pages.page(getattr(pages, attribute)))
            for name, attribute in (("devices", "devices"), ("device", "device_page"), ("chart", "chart"),
                                    ("keys", "keys"), ("commands", "commands"))]
