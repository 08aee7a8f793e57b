"""The RPC endpoint's own HTTP/1.1 connection handler.

aiohttp spends about 100 µs of CPU on every request here (request and
response objects, routing, header multidicts, a task per request), several
times what a single-call `write` costs itself. This protocol serves
`POST /onep:v1/rpc/process` straight from the socket: the request head is
checked with a few bytes operations, the calls run synchronously in the
Engine the aiohttp route uses too, and the answer goes out with a
preformatted header block when the group commit has made the calls durable
(Store.when_durable), with no task or future per request.

Only the plain case is handled here: that request line, a Content-Length
body, HTTP/1.1. Anything else on a connection (another path or method, a
chunked body, `Expect`, `Upgrade`, HTTP/1.0, a malformed or oversized head)
hands the connection, with every byte not consumed yet, to aiohttp's request
handler for the rest of its life, so every other route and every HTTP
corner case keep aiohttp's behaviour. Bodies over the configured maximum get
the 413 of the aiohttp route; a request that stops arriving for longer than
the body timeout gets its 408 (or, inside the head, a plain close); idle
keep-alive connections close after KEEPALIVE_TIMEOUT as aiohttp's do.
"""
import asyncio
import email.utils
import logging
import re
import time

from .app import null_answer
from .rpc import request_error
from .wire import decode_envelope

log = logging.getLogger(__name__)

REQUEST_LINE = b"POST /onep:v1/rpc/process HTTP/1.1"
MAX_HEAD = 8190               # bytes of request line and headers, as aiohttp's limit
KEEPALIVE_TIMEOUT = 75.0      # seconds an idle connection stays open (aiohttp's default)
SWEEP_INTERVAL = 1.0          # seconds between checks for stalled and idle connections
MAX_BACKLOG = 1 << 20         # bytes queued behind a running request before reading pauses
_WRITE_SPLIT = 1 << 16        # bodies from this size go out without being copied behind the head
# CRLF-separated header lines: a token, a colon, a value of visible characters and blanks
_HEADER_LINES = re.compile(rb"(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*)+")
_PARSED_HEADS_MAX = 1024
_parsed_heads = {}
_UNSEEN = object()
_STATUS = {200: b"200 OK", 408: b"408 Request Timeout", 413: b"413 Request Entity Too Large"}


class FastRpc:
    """Shared state of the connections: the engine, the limits, aiohttp's
    handler factory for handoffs, the open connections and their sweeper."""

    def __init__(self, store, engine, config, fallback):
        self.store = store
        self.engine = engine
        self.null = config["null"]
        self.max_body = config["max_body"]
        self.body_timeout = config["body_timeout"]
        self.budget = config["requests_per_connection"] or 0
        self.fallback = fallback          # () -> a fresh aiohttp RequestHandler
        self.connections = set()
        self.waiting = set()              # tasks of requests whose calls wait (`wait`)
        self.loop = None
        self._sweeper = None
        self._date_second = None
        self._date = b""

    def __call__(self):
        """Protocol factory for loop.create_server."""
        if self._sweeper is None:
            self.loop = asyncio.get_running_loop()
            self._sweeper = self.loop.call_later(SWEEP_INTERVAL, self._sweep)
        return RpcConnection(self)

    def head(self, status, length, close):
        """The response head for a JSON body of `length` bytes."""
        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            self._date = email.utils.formatdate(second, usegmt=True).encode()
        return b"HTTP/1.1 %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n" \
               b"Date: %s\r\nServer: pyonep-fast\r\n%s\r\n" % (
                   _STATUS[status], length, self._date, b"Connection: close\r\n" if close else b"")

    def _sweep(self):
        now = self.loop.time()
        for connection in list(self.connections):
            connection.sweep(now)
        self._sweeper = self.loop.call_later(SWEEP_INTERVAL, self._sweep)

    def close(self):
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in list(self.connections):
            connection.close()
        for task in list(self.waiting):
            task.cancel()


class RpcConnection(asyncio.Protocol):
    """One client connection while it speaks plain RPC requests."""

    def __init__(self, server):
        self.server = server
        self.transport = None
        self.pending = b""        # an incomplete request head
        self.body_parts = None    # chunks of a body still arriving ...
        self.body_missing = 0     # ... and how many bytes it lacks
        self.body_close = False   # ... and whether its request asked to close
        self.busy = False         # a request runs or waits for its commit
        self.close_after = False  # the running request's answer closes the connection
        self.response = None      # the running request's body, until its commit
        self.backlog = []         # bytes that arrived while busy
        self.backlog_size = 0
        self.partial_since = None  # loop time the incomplete request began
        self.served = 0
        self.idle = 0.0
        self.swept = 0
        self.consuming = False
        self.read_paused = False
        self.write_paused = False

    # --- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        self.server.connections.add(self)

    def connection_lost(self, exc):
        self.server.connections.discard(self)
        self.transport = None

    def eof_received(self):
        if self.busy:
            self.close_after = True
            return True       # keep the socket open for the answer
        return None

    def pause_writing(self):
        self.write_paused = True
        self._update_reading()

    def resume_writing(self):
        self.write_paused = False
        self._update_reading()

    def data_received(self, data):
        if self.body_parts is not None:
            self._body_data(data)
        elif self.busy:
            self.backlog.append(data)
            self.backlog_size += len(data)
            self._update_reading()
        else:
            if self.pending:
                data = self.pending + data
                self.pending = b""
            self._consume(data)

    # --- requests --------------------------------------------------------------
    def _consume(self, buf):
        """Runs the complete requests at the start of buf; keeps the rest."""
        self.consuming = True
        try:
            while buf:
                if self.busy:
                    self.backlog.append(buf)
                    self.backlog_size += len(buf)
                    self._update_reading()
                    return
                end = buf.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
                if end < 0:
                    if len(buf) >= MAX_HEAD + 4:
                        self._handoff(buf)
                    else:
                        self.pending = buf
                        self._started()
                    return
                parsed = _parse_head(buf[:end])
                if parsed is None:
                    self._handoff(buf)
                    return
                length, close = parsed
                if length > self.server.max_body:
                    self._answer(413, request_error(413, "body"), True)
                    return
                start = end + 4
                stop = start + length
                if len(buf) < stop:
                    self.body_parts = [buf[start:]]
                    self.body_missing = stop - len(buf)
                    self.body_close = close
                    self._started()
                    return
                body = buf[start:stop]
                buf = buf[stop:]
                self._request(body, close)
        finally:
            self.consuming = False

    def _body_data(self, data):
        if len(data) < self.body_missing:
            self.body_parts.append(data)
            self.body_missing -= len(data)
            return
        self.body_parts.append(data[:self.body_missing])
        rest = data[self.body_missing:]
        body = b"".join(self.body_parts)
        self.body_parts = None
        self._request(body, self.body_close)
        if rest:
            self.data_received(rest)

    def _started(self):
        if self.partial_since is None:
            self.partial_since = self.server.loop.time()

    def _request(self, body, close):
        server = self.server
        self.partial_since = None
        self.served += 1
        self.busy = True
        self.close_after = close or self.served == server.budget
        envelope = decode_envelope(body)
        if envelope is None:
            self._answer(200, request_error(-1, "request"))
        elif server.null:
            self._answer(200, null_answer(envelope))
        else:
            outcome = server.engine.begin(envelope)
            if isinstance(outcome, bytes):
                self.response = outcome
                server.store.when_durable(self._committed)
            else:
                task = server.loop.create_task(outcome)
                server.waiting.add(task)
                task.add_done_callback(server.waiting.discard)
                task.add_done_callback(self._finished)

    def _committed(self, error):
        # a failed commit was logged by the store; nobody may be told "ok"
        self._answer(200, self.response if error is None else request_error(500, "calls"))

    def _finished(self, task):
        if task.cancelled() or task.exception() is not None:
            self._answer(200, request_error(500, "calls"))
        else:
            self._answer(200, task.result())

    def _answer(self, status, body, close=False):
        self.response = None
        self.busy = False
        transport = self.transport
        if transport is None:         # the client went away meanwhile
            return
        close = close or self.close_after
        head = self.server.head(status, len(body), close)
        if len(body) < _WRITE_SPLIT:
            transport.write(head + body)
        else:
            transport.writelines((head, body))
        if close:
            self.close()
        elif self.backlog and not self.consuming:
            data = b"".join(self.backlog)
            self.backlog = []
            self.backlog_size = 0
            self._update_reading()
            self._consume(data)

    # --- connection management ---------------------------------------------------
    def _update_reading(self):
        pause = self.write_paused or self.backlog_size > MAX_BACKLOG
        if self.transport is None or pause == self.read_paused:
            return
        self.read_paused = pause
        if pause:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _handoff(self, data):
        """Gives the connection and data to aiohttp for the rest of its life."""
        transport = self.transport
        self.server.connections.discard(self)
        self.transport = None
        if self.read_paused:
            transport.resume_reading()
        handler = self.server.fallback()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        handler.data_received(data)

    def sweep(self, now):
        """Closes a connection whose request stalled or that sat idle too long."""
        if self.partial_since is not None:
            if now - self.partial_since > self.server.body_timeout:
                if self.body_parts is not None:
                    self.body_parts = None
                    self._answer(408, request_error(408, "body"), True)
                else:
                    self.close()
            return
        if self.busy or self.served != self.swept:
            self.swept = self.served
            self.idle = 0.0
            return
        self.idle += SWEEP_INTERVAL
        if self.idle >= KEEPALIVE_TIMEOUT:
            self.close()

    def close(self):
        if self.transport is not None:
            self.transport.close()
            self.server.connections.discard(self)
            self.transport = None


def _parse_head(head):
    """(content length, close) of an RPC request head (without its blank
    line), or None when the request is not the plain case served here.
    Clients repeat the same few heads, so results are remembered."""
    parsed = _parsed_heads.get(head, _UNSEEN)
    if parsed is _UNSEEN:
        if len(_parsed_heads) >= _PARSED_HEADS_MAX:
            _parsed_heads.clear()
        parsed = _parsed_heads[head] = _parse_new_head(head)
    return parsed


def _parse_new_head(head):
    if not head.startswith(REQUEST_LINE):
        return None
    start = len(REQUEST_LINE)
    if _HEADER_LINES.fullmatch(head, start) is None:
        return None
    lines = head[start:].lower() + b"\r\n"
    if b"\r\ntransfer-encoding:" in lines or b"\r\nexpect:" in lines or b"\r\nupgrade:" in lines:
        return None
    length = _header_value(lines, b"\r\ncontent-length:")
    if length is None or not length.isdigit():
        return None
    close = False
    connection = _header_value(lines, b"\r\nconnection:")
    if connection is not None:
        tokens = {token.strip() for token in connection.split(b",")}
        if not tokens <= {b"close", b"keep-alive"}:
            return None
        close = b"close" in tokens
    return int(length), close


def _header_value(head, prefix):
    """The stripped value of the one header line starting with prefix (the
    lowercased head ends with CRLF); None if absent or repeated, so that
    aiohttp judges repeated ones."""
    at = head.find(prefix)
    if at < 0 or head.find(prefix, at + 2) >= 0:
        return None
    value_start = at + len(prefix)
    return head[value_start:head.index(b"\r\n", value_start)].strip()
