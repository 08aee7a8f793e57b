"""exp_sdk.network (spec/exp.md 1.7, 4): channels, listeners and broadcasts
over EXP's real-time network.

Every SDK instance's network runs on one shared thread with an asyncio
loop (_SharedLoop), each with a python-socketio AsyncClient (its websocket
is aiohttp's, which the package already requires). A supervisor coroutine
per instance owns its socket: about once a second it takes the current auth
(`get_auth()`, which refreshes the token when due; the HTTP calls run on a
small executor), opens a new socket when there is none, when the last one
dropped, or when the auth changed (a refreshed token), and closes it when
the SDK stops. Every (re)connect subscribes again to the channels that
have listeners. `stop()` cancels the supervisor and waits until it has
closed the socket; the thread ends with the last instance's stop(). A
refused login only aborts the supervisor (the login may run in any thread,
holding the lock the supervisor waits for); the instance's stop() still
waits for it.

Broadcasts and responses are plain API calls (Api.post); the socket only
receives.
"""
import asyncio
import collections
import concurrent.futures
import json
import logging
import threading
import time
from urllib.parse import urlencode, urlsplit

import socketio

from ._channels import channel_id
from .exceptions import NetworkError

logger = logging.getLogger("exp-sdk")

RETRY_SECONDS = 1.0
CONNECT_TIMEOUT = 10.0
BROADCASTS_PATH = "/api/networks/current/broadcasts"
RESPONSES_PATH = "/api/networks/current/responses"


class Broadcast:
    """A message received on a channel."""

    def __init__(self, message, sdk):
        self._message = message
        self._sdk = sdk
        self.time = int(time.time())
        self._received = time.monotonic()  # listener ages: monotonic, fractional (upstream: whole seconds)

    @property
    def payload(self):
        """A fresh copy on every access: listeners cannot change each other's."""
        return json.loads(json.dumps(self._message.get("payload")))

    def respond(self, response):
        return self._sdk.api.post(RESPONSES_PATH, {"id": self._message.get("id"),
                                                   "channel": self._message.get("channel"), "payload": response})


class Listener:
    """Queues the broadcasts of one name on one channel (FIFO), each kept
    for `max_age` seconds."""

    def __init__(self, channel, name, max_age):
        self._channel = channel
        self._name = name
        self._max_age = max_age
        self._queue = collections.deque()
        self._arrived = threading.Condition()

    def _push(self, broadcast):
        with self._arrived:
            self._queue.append(broadcast)
            self._arrived.notify_all()

    def _prune(self):
        now = time.monotonic()
        while self._queue and now - self._queue[0]._received >= self._max_age:
            self._queue.popleft()

    def wait(self, timeout=0, **_ignored):
        """The oldest queued broadcast, waiting up to `timeout` seconds for
        one (0: no wait); None if none came. (Other keywords are accepted
        and ignored, as upstream's wait did.)"""
        with self._arrived:
            self._prune()
            if not self._queue and timeout:
                self._arrived.wait_for(lambda: self._queue, timeout)
            return self._queue.popleft() if self._queue else None

    def cancel(self):
        """No more broadcasts are queued (those already queued stay)."""
        self._channel._network._remove_listener(self._channel, self._name, self)


class Channel:
    def __init__(self, network, id_):
        self._network = network
        self.id = id_
        self._listeners = {}  # name -> [Listener]; guarded by network._changed
        self._subscribed = False

    def broadcast(self, name, payload=None, timeout=0.1):
        """Sends a message; returns the responses collected within `timeout` seconds."""
        return self._network._sdk.api.post(BROADCASTS_PATH, {"channel": self.id, "name": name, "payload": payload},
                                           params={"timeout": timeout * 1000})

    def listen(self, name, timeout=10, max_age=60, **_ignored):
        """A Listener for broadcasts named `name`, once the server has
        acknowledged the channel's subscription; NetworkError if it did not
        within `timeout` seconds (the listener stays registered). Other
        keywords are accepted and ignored, as upstream's listen did."""
        listener = Listener(self, name, max_age)
        self._network._add_listener(self, name, listener)
        if not self._network._wait_subscribed(self, timeout):
            raise NetworkError("Listen timed out.")
        return listener

    def fling(self, payload, timeout=0.1):
        """Documented by upstream's README, missing from its code: a `fling` broadcast."""
        return self.broadcast("fling", payload, timeout)

    def identify(self, timeout=0.1):
        """Documented by upstream's README, missing from its code: an `identify` broadcast."""
        return self.broadcast("identify", None, timeout)


class _SharedLoop:
    """The event loop thread every SDK instance's network runs on: one thread
    for the process, not one per instance (a load test runs hundreds of
    instances; a thread each would spend its time handing the GIL around).
    It starts with the first network and ends, joined, with the last one.
    Logins and refreshes the supervisors need run on a small executor of
    its own, so that no socket waits for another instance's HTTP call."""

    _lock = threading.Lock()
    _users = 0
    _loop = None
    _thread = None
    _executor = None

    @classmethod
    def acquire(cls):
        with cls._lock:
            if cls._users == 0:
                cls._loop = asyncio.new_event_loop()
                cls._executor = concurrent.futures.ThreadPoolExecutor(max_workers=4,
                                                                      thread_name_prefix="exp-sdk-auth")
                cls._thread = threading.Thread(target=cls._run, args=(cls._loop, cls._executor),
                                               name="exp-sdk-network", daemon=True)
                cls._thread.start()
            cls._users += 1
            return cls._loop, cls._executor

    @classmethod
    def release(cls):
        with cls._lock:
            cls._users -= 1
            if cls._users == 0:
                cls._loop.call_soon_threadsafe(cls._loop.stop)
                if cls._thread is not threading.current_thread():
                    cls._thread.join()
                cls._loop = cls._thread = cls._executor = None

    @staticmethod
    def _run(loop, executor):
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            leftovers = asyncio.all_tasks(loop)  # whatever the socket library left running
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        finally:
            executor.shutdown(wait=True)
            loop.close()


class Network:
    def __init__(self, sdk):
        self._sdk = sdk
        self._changed = threading.Condition()  # channels, listeners and subscribed flags
        self._channels = {}
        self._stopping = threading.Event()
        self._ended = threading.Event()
        self._loop = None
        self._executor = None
        self._task = None  # the supervisor's concurrent future, while started
        self._supervisor = None  # its asyncio task, once running
        self._wake = asyncio.Event()
        self._socket = None
        # The socket that emits go to: set by the connect handler in the same
        # locked step that lists the channels to subscribe, so a listener
        # added after that step subscribes itself (python-socketio marks the
        # client `connected` only later, after the handler has returned).
        self._ready = None  # guarded by _changed
        parts = urlsplit(sdk.api.base_url)
        self._socket_url = f"{parts.scheme}://{parts.netloc}"

    # --- lifecycle (any thread) -----------------------------------------------------
    def start(self):
        self._loop, self._executor = _SharedLoop.acquire()
        self._task = asyncio.run_coroutine_threadsafe(self._supervise(), self._loop)

    def abort(self):
        """Tells the supervisor to close the socket and end (no wait: the
        caller may hold the authenticator's lock it waits for)."""
        self._stopping.set()
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self):
        """Ends the supervisor (interrupting a login it awaits) and waits
        until it has closed the socket; the last network to stop ends the
        shared thread."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:  # never started, or stopped already
            return
        self._loop.call_soon_threadsafe(self._interrupt)
        self._ended.wait()
        _SharedLoop.release()

    def _interrupt(self):
        """(In the loop.) A supervisor not yet running sees _stopping when it
        starts; a running one is cancelled wherever it waits."""
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.cancel()

    @property
    def is_connected(self):
        socket = self._socket
        return socket is not None and socket.connected

    # --- channels (user threads) ------------------------------------------------------
    def get_channel(self, name, system=False, consumer=False):
        organization = self._sdk.authenticator.get_auth()["identity"]["organization"]
        return self._channel(channel_id(organization, name, system, consumer))

    def _channel(self, id_):
        with self._changed:
            channel = self._channels.get(id_)
            if channel is None:
                channel = self._channels[id_] = Channel(self, id_)
            return channel

    def _add_listener(self, channel, name, listener):
        with self._changed:
            channel._listeners.setdefault(name, []).append(listener)
            subscribed = channel._subscribed
        if not subscribed:
            self.emit("subscribe", [channel.id])  # not connected: the connect handler subscribes

    def _remove_listener(self, channel, name, listener):
        with self._changed:
            listeners = channel._listeners.get(name, [])
            if listener in listeners:
                listeners.remove(listener)

    def _wait_subscribed(self, channel, timeout):
        with self._changed:
            return self._changed.wait_for(lambda: channel._subscribed, timeout)

    def emit(self, event, data):
        """Sends an event on the socket from any thread; False when not connected."""
        socket, loop = self._ready, self._loop
        if socket is None:
            return False
        try:
            asyncio.run_coroutine_threadsafe(socket.emit(event, data), loop)
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    # --- the supervisor (on the shared loop) ------------------------------------------
    async def _auth(self):
        """get_auth(): at once when no request is due, else on the executor."""
        auth = self._sdk.authenticator._ready()
        if auth is None:
            auth = await asyncio.get_running_loop().run_in_executor(self._executor,
                                                                     self._sdk.authenticator.get_auth)
        return auth

    async def _supervise(self):
        self._supervisor = asyncio.current_task()
        auth = None
        try:
            while not self._stopping.is_set():
                try:
                    current = await self._auth()
                except Exception as exc:  # refused or unreachable: try again later (stop() ends it)
                    logger.debug("network: no auth: %s", exc)
                    await self._pause()
                    continue
                if current is not auth:  # a login or a refresh: the socket must use the new token
                    auth = current
                    await self._close_socket()
                if self._socket is None or not self._socket.connected:
                    await self._close_socket()
                    try:
                        await self._open_socket(auth["token"])
                    except Exception as exc:  # refused, unreachable: try again later
                        logger.debug("network: cannot connect: %s", exc)
                        await self._close_socket()
                        await self._pause()
                        continue
                await self._pause()
        finally:
            try:
                await self._close_socket()
            finally:
                self._ended.set()

    async def _pause(self):
        """Waits a retry interval, or less when woken (stop, a dropped socket)."""
        try:
            await asyncio.wait_for(self._wake.wait(), RETRY_SECONDS)
        except TimeoutError:
            pass
        self._wake.clear()

    async def _open_socket(self, token):
        socket = socketio.AsyncClient(reconnection=False, logger=False, engineio_logger=False)

        async def on_connect():
            await self._on_connect(socket)

        def on_disconnect(*reason):
            self._on_disconnect(socket)
        socket.on("connect", on_connect)
        socket.on("disconnect", on_disconnect)
        socket.on("subscribed", self._on_subscribed)
        socket.on("broadcast", self._on_broadcast)
        self._socket = socket
        await socket.connect(f"{self._socket_url}?{urlencode({'token': token})}", transports=["websocket"],
                             wait_timeout=CONNECT_TIMEOUT)

    async def _close_socket(self):
        socket, self._socket = self._socket, None
        with self._changed:
            self._ready = None
        if socket is not None:
            await socket.disconnect()

    async def _on_connect(self, socket):
        with self._changed:
            for channel in self._channels.values():
                channel._subscribed = False
            ids = [channel.id for channel in self._channels.values() if any(channel._listeners.values())]
            self._ready = socket
        await socket.emit("subscribe", ids)

    def _on_disconnect(self, socket):
        with self._changed:
            if self._ready is socket:
                self._ready = None
            for channel in self._channels.values():
                channel._subscribed = False
        self._wake.set()  # the supervisor opens a new socket now rather than in a second

    def _on_subscribed(self, ids):
        if not isinstance(ids, list):
            return
        with self._changed:
            for id_ in ids:
                if isinstance(id_, str):
                    channel = self._channels.get(id_)
                    if channel is None:
                        channel = self._channels[id_] = Channel(self, id_)
                    channel._subscribed = True
            self._changed.notify_all()

    def _on_broadcast(self, message):
        if not isinstance(message, dict):
            return
        with self._changed:
            channel = self._channels.get(message.get("channel"))
            listeners = list(channel._listeners.get(message.get("name"), ())) if channel else []
        if listeners:
            broadcast = Broadcast(message, self._sdk)
            for listener in listeners:
                listener._push(broadcast)
