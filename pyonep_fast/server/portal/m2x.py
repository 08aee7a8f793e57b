"""M2X in the portal: the devices, streams (charted like dataports, with
CSV ranges and live updates), keys and commands an M2X key may read.

Every answer first runs M2X's own access check (m2x/access.py's
`authorize`, as each /v2 route does) for the scope the matching /v2 GET
names: the account (GET /v2/keys, /v2/commands) or a device (GET
/v2/devices/{id}/...); objects are then looked up inside the key's account
with the API's own lookups. A master key sees its account; a device key
its device only. A live stream runs the check again before each update it
sends (and at each keepalive: a key that expires), and is woken when its key
changes too, so a key deleted, limited or expired, a stream or device
deleted, ends it; a CSV download runs it before each step it writes. Key
secrets are never sent whole: the page shows their last characters.
"""
import asyncio
import re

import orjson

from ..m2x import access
from ..m2x.errors import Problem
from ..m2x.state import CHANGED
from .charts import live_update, series_chart, series_range
from .events import event_stream

NAME = "m2x"
TITLE = "M2X"
CREDENTIAL = "API key"
SHOWN_SECRET = 4              # trailing characters of a key shown
MS_PER_SECOND = 1000
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


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

    def find_device(self, session, device_id):
        key = self.allowed(session, (access.DEVICE, device_id))
        return self.state.device(key["account"], device_id)

    def find_stream(self, session, query):
        """(device, stream) the query names, as GET /v2/devices/{device}/streams/{stream} finds them."""
        doc = self.find_device(session, query.get("device", ""))
        return doc, self.state.stream(doc, query.get("stream", ""))

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

    async def device(self, request, session):
        doc = self.find_device(session, request.query.get("id", ""))
        commands = [self.state.command_json(command, doc) for command in self.state.device_commands(doc)]
        return {"device": self.device_json(doc),
                "streams": [self.state.stream_json(stream) for stream in self.state.device_streams(doc)],
                "commands": commands}

    async def chart(self, request, session):
        doc, stream = self.find_stream(session, request.query)
        drawn = await series_chart(self.portal.summaries, self.state.series(stream), request.query, MS_PER_SECOND)
        return {"device": doc["id"], "stream": stream["name"], "format": stream["type"], **drawn}

    async def csv(self, request, session):
        """Values of a range (seconds) as CSV (export.py), times as M2X writes them; M2X's access
        check runs again before each step."""
        doc, stream = self.find_stream(session, request.query)
        start, end = series_range(request.query, MS_PER_SECOND)
        filename = f"{doc['id']}-{UNSAFE_IN_FILENAME.sub('_', stream['name'])}.csv"

        async def readable():
            try:
                return self.state.series(self.find_stream(session, request.query)[1])
            except Problem:
                return None
        return await self.portal.exports.csv_response(request, filename, self.state.series(stream), start, end,
                                                      readable, iso_ms=True)

    async def events(self, request, session):
        """Server-sent events: the values stored in the stream, after their
        commit (the state's watch), as charts.live_update shapes them;
        `end` once the key may no longer read the stream."""
        doc, stream = self.find_stream(session, request.query)
        queue = asyncio.Queue()
        key_changed = object()
        cancels = [self.state.watch_stream(doc["id"], stream["name"], queue.put_nowait),
                   self.state.watch_key(session.credential, lambda _: queue.put_nowait(key_changed))]

        async def render(items):
            try:    # the key may have changed, the stream or its device gone: M2X decides again
                self.find_stream(session, request.query)
            except Problem:
                return None
            stored = [item for item in items if item is not CHANGED and item is not key_changed]
            changed = any(item is CHANGED for item in items)
            if not stored and not changed:
                return []
            return [orjson.dumps(live_update(stored, MS_PER_SECOND, changed))]
        try:
            return await event_stream(request, self.portal.streams, queue, render,
                                      self.portal.keepalive_seconds)
        finally:
            for cancel in cancels:
                cancel()

    async def keys(self, request, session):
        key = self.allowed(session, (access.ACCOUNT, None))
        return {"keys": [{**self.state.key_json(doc), "key": _masked(doc["key"])}
                         for doc in self.state.account_keys(key["account"])]}

    async def commands(self, request, session):
        key = self.allowed(session, (access.ACCOUNT, None))
        return {"commands": [self.state.command_json(doc) for doc in self.state.account_commands(key["account"])]}


async def ingest_target(portal, session, target):
    """'device NAME' of an ingest's target device the session's key may GET
    (find_device's check, as the device page's), else None."""
    device_id = target.get("device")
    if not isinstance(device_id, str):
        return None
    try:
        device = Pages(portal).find_device(session, device_id)
    except Problem:
        return None
    return f"device {device.get('name') or '(no name)'}"


REFUSALS = {Problem: lambda problem: (problem.status, f"M2X answered: {problem.message}")}


def routes(portal):
    return portal.api_routes(NAME, Pages(portal), ("devices", "device", "chart", "csv", "events", "keys", "commands"),
                             REFUSALS)
