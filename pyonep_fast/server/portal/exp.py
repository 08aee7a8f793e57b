"""EXP in the portal: the devices, experiences and content tree of a
signed-in EXP user's organization, and a live view of its network traffic.

Sign-in is EXP's own user login (username, password, organization: the
checks of POST /api/auth/login); the session keeps the token EXP issues for
it, never the password, and each request resolves that token as EXP's
access check does (state.identity_of), then reads only the identity's
organization. The token's lifetime bounds the session's. The live view is
fed by the network's watch of the organization (network.py): the messages
sent on its channels, and no other organization's.
"""
import asyncio
import time

import orjson

from ...exp._channels import parse_channel_id
from ..exp import service_for
from ..exp.state import ExpApiError
from .events import event_stream

NAME = "exp"
TITLE = "EXP"
CREDENTIAL = "user"
FIELDS = [("username", "Username", "text"), ("password", "Password", "password"),
          ("organization", "Organization", "text")]
SECRET_FIELDS = ("secret", "apiKey")     # shortened in what the page shows
SHOWN_SECRET = 4
QUEUED_MESSAGES = 1000                   # a live view that falls further behind skips (and says so)


async def sign_in(store, credential):
    """(label, EXP token) of a user that logs in, or None."""
    service = service_for(store)
    identity = await asyncio.get_running_loop().run_in_executor(
        None, service.state.user_login, credential["username"], credential["password"], credential["organization"])
    if identity is None:
        return None
    token, _, _ = service.state.issue(identity)
    return f"{identity.username} ({identity.org})", token


class SignedOut(Exception):
    """The session's EXP token no longer resolves to a valid identity."""


def _shown(document):
    return {field: "…" + value[-SHOWN_SECRET:] if field in SECRET_FIELDS and isinstance(value, str) else value
            for field, value in document.items()}


class Pages:
    def __init__(self, portal):
        self.portal = portal
        self.service = service_for(portal.store)
        self.state = self.service.state

    def organization(self, session):
        """The organization of the session's identity, by EXP's token check."""
        identity = self.state.identity_of(session.credential)
        if identity is None or identity.org is None or not self.state.still_valid(identity):
            raise SignedOut
        return identity.org

    def listing(self, session, collection, query=None):
        found = self.state.find(self.organization(session), collection, query or {})
        return {"results": [_shown(document) for document in found["results"]], "total": found["total"]}

    async def devices(self, request, session):
        return self.listing(session, "devices")

    async def experiences(self, request, session):
        return self.listing(session, "experiences")

    async def content(self, request, session):
        return self.listing(session, "content", {"appContent": "include"})

    async def traffic(self, request, session):
        """Server-sent events: each message sent on a channel of the
        session's organization, as {"id", "channel", "channel_name", "system", "consumer", "name",
        "payload", "at" (epoch seconds), "skipped"
        (messages left out before this one: the page fell behind)}."""
        org = self.organization(session)
        queue = asyncio.Queue()
        skipped = [0]

        def seen(message):
            if queue.qsize() >= QUEUED_MESSAGES:
                skipped[0] += 1
            else:
                channel = parse_channel_id(message["channel"])
                queue.put_nowait({**message, "channel_name": channel.name, "system": channel.system,
                                  "consumer": channel.consumer, "at": time.time()})
        cancel = self.service.network.watch(org, seen)

        async def render(messages):
            try:    # the token may have expired meanwhile: EXP decides again
                self.organization(session)
            except SignedOut:
                return None
            if not messages:
                return []
            messages[0]["skipped"], skipped[0] = skipped[0], 0
            return [orjson.dumps({"skipped": 0, **message}) for message in messages]
        try:
            return await event_stream(request, self.portal.streams, queue, render,
                                      self.portal.keepalive_seconds)
        finally:
            cancel()


REFUSALS = {SignedOut: lambda refused: (401, None),
            ExpApiError: lambda problem: (problem.status, f"EXP answered: {problem.message}")}


def routes(portal):
    return portal.api_routes(NAME, Pages(portal), ("devices", "experiences", "content", "traffic"), REFUSALS)
