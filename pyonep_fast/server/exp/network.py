"""EXP's real-time network on the embedded server (spec/exp.md 4):
python-socketio's AsyncServer at /socket.io/ on the same aiohttp app and
event loop as every other API, and the broadcast/response endpoints.

A socket connects with `token=<auth token>` in its query (or `{"token": ...}`
as socket.io auth data); `subscribe` puts it in one room per accepted
channel id; a broadcast is emitted to the channel's room at once, then the
request is held open `timeout` ms collecting the responses posted for it.

Who may use a channel: only identities of the channel's organization (so
pairing devices, which have none, use no channel); consumer apps only
consumer channels; nobody but the server broadcasts on system channels.
"""
import asyncio
import uuid as uuidlib
from urllib.parse import parse_qs

import engineio
import socketio

from ...exp._channels import channel_id, parse_channel_id
from .state import ExpApiError, bad_request

MAX_BROADCAST_TIMEOUT_MS = 60000.0


class _EngineIO(engineio.AsyncServer):
    """Keeps its background tasks (a ping timer per socket, which sleeps the
    ping interval and is never cancelled) so that close() can end them: they
    would otherwise outlive the server's event loop."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tasks = set()

    def start_background_task(self, target, *args, **kwargs):
        task = super().start_background_task(target, *args, **kwargs)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


class _SocketIO(socketio.AsyncServer):
    def _engineio_server_class(self):
        return _EngineIO


def may_listen(identity, channel):
    return (identity.org is not None and channel.organization == identity.org
            and (identity.type != "consumerApp" or channel.consumer))


def forbidden(message):
    return ExpApiError(403, "auth.forbidden", message)


class RealtimeNetwork:
    def __init__(self, state):
        self.state = state
        self.sio = _SocketIO(async_mode="aiohttp", logger=False, engineio_logger=False)
        self._identities = {}  # sid -> Identity of the socket's token
        self._collecting = {}  # broadcast id -> (organization, channel id, [response payloads])
        self._watchers = {}    # organization -> [callback(message)]: observers of its traffic (the portal)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("subscribe", self._on_subscribe)

    async def handle_request(self, request):
        """/socket.io/: engine.io's handshake, polling and websocket upgrade."""
        return await self.sio.handle_request(request)

    async def _on_connect(self, sid, environ, auth=None):
        token = parse_qs(environ.get("QUERY_STRING", "")).get("token", [None])[-1]
        if token is None and isinstance(auth, dict):
            token = auth.get("token")
        identity = self.state.identity_of(token)
        if identity is None:
            raise socketio.exceptions.ConnectionRefusedError("Invalid or expired token.")
        self._identities[sid] = identity

    async def _on_disconnect(self, sid, *reason):
        self._identities.pop(sid, None)

    async def _on_subscribe(self, sid, ids):
        """Joins the socket to each channel it may listen on; answers
        `subscribed` with those ids (possibly none)."""
        identity = self._identities.get(sid)
        accepted = []
        if identity is not None and isinstance(ids, list):
            for candidate in ids:
                channel = parse_channel_id(candidate)
                if channel is not None and may_listen(identity, channel):
                    await self.sio.enter_room(sid, candidate)
                    accepted.append(candidate)
        await self.sio.emit("subscribed", accepted, to=sid)

    def resolve(self, identity, channel):
        """The id of the channel a broadcast names (an id, or an object
        {name, system, consumer} in the caller's organization), checked
        against what the caller may broadcast on."""
        if isinstance(channel, dict):
            if not isinstance(channel.get("name"), str):
                raise bad_request("A channel needs a name.")
            channel = channel_id(identity.org, channel["name"], bool(channel.get("system")),
                                 bool(channel.get("consumer")))
        parsed = parse_channel_id(channel)
        if parsed is None:
            raise bad_request("channel is not a channel id.")
        if not may_listen(identity, parsed):
            raise forbidden("This identity may not use this channel.")
        if parsed.system:
            raise forbidden("Only the server broadcasts on system channels.")
        return channel

    def watch(self, org, callback):
        """callback(message) runs for every message sent on a channel of
        organization `org` (and no other), as it is sent; returns a function
        that stops watching."""
        callbacks = self._watchers.setdefault(org, [])
        callbacks.append(callback)

        def cancel():
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks and self._watchers.get(org) is callbacks:
                del self._watchers[org]
        return cancel

    async def _send_to_channel(self, channel, message):
        """The `broadcast` event to every socket subscribed to `channel`:
        encoded once (JSON: one text frame) and queued on each socket's writer in turn.
        (python-socketio's emit also encodes once, but makes an asyncio task
        per recipient and waits for them all.) Watchers of the channel's
        organization see the message too."""
        if self._watchers:
            parsed = parse_channel_id(channel)
            for callback in list(self._watchers.get(parsed.organization if parsed else None, ())):
                callback(message)
        encoded = self.sio.packet_class(socketio.packet.EVENT, namespace="/", data=["broadcast", message]).encode()
        frame = engineio.packet.Packet(engineio.packet.MESSAGE, encoded)
        for _, eio_sid in list(self.sio.manager.get_participants("/", channel)):
            await self.sio.eio.send_packet(eio_sid, frame)

    async def broadcast(self, identity, channel, name, payload, timeout_ms):
        """Emits the message now, then collects responses for `timeout_ms`."""
        message = {"id": str(uuidlib.uuid4()), "channel": channel, "name": name, "payload": payload}
        responses = []
        self._collecting[message["id"]] = (identity.org, channel, responses)
        try:
            await self._send_to_channel(channel, message)
            if timeout_ms > 0:
                await asyncio.sleep(timeout_ms / 1000.0)
        finally:
            del self._collecting[message["id"]]
        return responses

    def respond(self, identity, broadcast_id, channel, payload):
        """Adds a response to a broadcast still collecting in the responder's
        organization; others are dropped (spec 4.4)."""
        collecting = self._collecting.get(broadcast_id) if isinstance(broadcast_id, str) else None
        if collecting is not None and collecting[0] == identity.org and collecting[1] == channel:
            collecting[2].append(payload)

    async def notify_update(self, org, resource_uuid, document):
        """The `update` message on a resource's system channel (spec 4.6)."""
        channel = channel_id(org, resource_uuid, system=True)
        await self._send_to_channel(channel, {"id": str(uuidlib.uuid4()), "channel": channel, "name": "update",
                                              "payload": document})

    async def close(self, app=None):
        """Disconnects every socket (an aiohttp on_shutdown hook: open
        websockets would otherwise hold the server's shutdown)."""
        for sid in list(self._identities):
            await self.sio.disconnect(sid)
        await self.sio.shutdown()
        tasks = list(self.sio.eio.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
