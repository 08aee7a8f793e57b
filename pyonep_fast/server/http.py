"""HTTP helpers shared by every API of the embedded server: the server's
configuration on the aiohttp app, bounded body reading (every API's bodies
go through receive_body), response helpers, the per-connection request
budget and the connection cap."""
import asyncio
import logging
import weakref

from aiohttp import web

log = logging.getLogger(__name__)

JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
LARGE_JOIN = 1 << 20           # bodies from this size are joined off the event loop
FREE_BATCH = 8                 # received parts freed at a time after a large body's join (a few MB)
WRITE_PIECE = 1 << 20          # a large response body is written a piece this size at a time

CONFIG = web.AppKey("config", dict)   # null, limits (limits.Limits), requests_per_connection, API options


def json_response(body, status=200):
    return web.Response(body=body, status=status, headers={"Content-Type": JSON})


def text_response(text, status=200, headers=None):
    return web.Response(text=text, status=status, headers={"Content-Type": TEXT, **(headers or {})})


async def body_response(request, body, headers):
    """A response of `body`: bytes, or a list of bytes pieces that are its
    parts in order (sent as they are, never joined into one). One of
    WRITE_PIECE bytes or more is sent a piece at a time, each once the
    previous one has drained: written whole, all of it past what the socket
    takes at once would be copied into the transport's buffer on the event
    loop (about 100 ms for 60 MB here)."""
    pieces = [body] if isinstance(body, (bytes, bytearray, memoryview)) else body
    size = sum(map(len, pieces))
    if size < WRITE_PIECE:
        return web.Response(body=b"".join(pieces), headers=headers)
    response = web.StreamResponse(headers=headers)
    response.content_length = size
    await response.prepare(request)
    for write in _writes(pieces):
        await response.write(write)
    await response.write_eof()
    return response


def _writes(pieces):
    """The pieces' bytes in writes of WRITE_PIECE (the last shorter): large
    pieces sliced, small ones gathered (a write each would be a send each)."""
    batch, size = [], 0
    for piece in pieces:
        view = memoryview(piece)
        start = 0
        while start < len(view):
            part = view[start:start + WRITE_PIECE - size]
            batch.append(part)
            size += len(part)
            start += len(part)
            if size == WRITE_PIECE:
                yield batch[0] if len(batch) == 1 else b"".join(batch)
                batch, size = [], 0
    if batch:
        yield batch[0] if len(batch) == 1 else b"".join(batch)


def closing(response):
    """response, sent with `Connection: close` and followed by a close."""
    response.force_close()
    response.headers["Connection"] = "close"
    return response


class BodyRefused(Exception):
    """A request body broke a budget: 413 (too large), 408 (too slow) or
    400 (cut short). Raised by receive_body with the API's error Response;
    answered by the body_refusals middleware, or returned by read_body."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response

    async def answer(self, request):
        """The error, on a connection that closes: after a 408 at once, as
        waiting for the rest of the body is what timed out."""
        response = closing(self.response)
        if response.status == 408:
            await response.prepare(request)
            await response.write_eof()
            if request.transport is not None:
                request.transport.close()
        return response


async def receive_body(request, error_response):
    """The request body within the server's budgets (limits.max_body bytes,
    arriving within limits.body_timeout seconds); BodyRefused carrying
    error_response(status) otherwise. Every API reads its bodies here."""
    limits = request.app[CONFIG]["limits"]
    length = request.content_length
    if length is not None and length > limits.max_body:
        raise BodyRefused(error_response(413))
    if length == 0 or (length is None and not request.body_exists):
        return b""
    try:
        async with asyncio.timeout(limits.body_timeout):
            parts = await _read_parts(request.content, length, limits.max_body)
        return await _join(parts)
    except TimeoutError:
        raise BodyRefused(error_response(408)) from None
    except asyncio.IncompleteReadError:
        raise BodyRefused(error_response(400)) from None
    except OverflowError:
        raise BodyRefused(error_response(413)) from None


async def read_body(request, error_response):
    """receive_body, with a refusal returned as the API's error Response
    (for handlers that return their errors rather than raise them)."""
    try:
        return await receive_body(request, error_response)
    except BodyRefused as refusal:
        return await refusal.answer(request)


@web.middleware
async def body_refusals(request, handler):
    """Answers a BodyRefused that a handler let through."""
    try:
        return await handler(request)
    except BodyRefused as refusal:
        return await refusal.answer(request)


async def _read_parts(content, length, limit):
    """The body's parts as they arrived; IncompleteReadError if fewer than
    `length` bytes came, OverflowError past `limit`."""
    parts = []
    size = 0
    while True:
        part = await content.readany()
        if not part:
            if length is not None and size < length:
                raise asyncio.IncompleteReadError(b"", length)
            return parts
        size += len(part)
        if size > limit:
            raise OverflowError
        parts.append(part)


async def _join(parts):
    """The parts as one bytes object. A large body is joined in a worker
    thread, where bytes.join releases the GIL: copying tens of megabytes
    takes tens of milliseconds on a loaded machine, too long for the loop."""
    if len(parts) < 2 or sum(map(len, parts)) < LARGE_JOIN:
        return b"".join(parts)
    return await asyncio.get_running_loop().run_in_executor(None, _joined_and_freed, parts)


def _joined_and_freed(parts):
    """b"".join(parts), the parts then freed here a batch at a time: freeing
    200 MB of them at once holds the GIL for 15 ms, wherever it happens."""
    body = b"".join(parts)
    while parts:
        del parts[-FREE_BATCH:]
    return body


@web.middleware
async def client_disconnects(request, handler):
    """A client that goes away mid-request (before its body arrived, or
    while its response is written) is one INFO line, not aiohttp's ERROR
    traceback: the response is written here, where a write to the closed
    connection can still be told apart (aiohttp's own write drops it
    silently)."""
    try:
        response = await handler(request)
        if type(response) is web.Response and not response.prepared:
            await response.prepare(request)
            await response.write_eof()
        return response
    except ConnectionError as exc:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            raise  # not the client's connection (an outbound call of the handler)
        sent = request.writer.output_size if request.writer is not None else 0
        log.info("client %s disconnected during %s %s (%s)", request.remote, request.method,
                 request.path, f"{sent} response bytes sent" if sent else "before the response")
        return closing(web.Response(status=400))


class ConnectionBudget:
    """Answers the Nth request of a keep-alive connection with
    `Connection: close` (the hosted platform did so after 100)."""

    def __init__(self, requests_per_connection):
        self.limit = requests_per_connection
        self.counts = weakref.WeakKeyDictionary()

    async def on_response_prepare(self, request, response):
        if request.transport is None:
            return
        count = self.counts.get(request.transport, 0) + 1
        self.counts[request.transport] = count
        if count >= self.limit:
            closing(response)


class ConnectionCap:
    """At most `limit` connections open at once. The listening socket's
    protocol factory: past the cap a new connection is answered 503 with
    `Connection: close` and closed, before its request is read; the episode
    is logged once when it starts and once when it ends (connections below
    the cap again), with how many were refused."""

    def __init__(self, server, limit):
        self.server = server        # the aiohttp web.Server making each connection's RequestHandler
        self.limit = limit
        self.refused = 0

    def __call__(self):
        if len(self.server.connections) < self.limit:
            if self.refused:
                log.warning("connections are below the cap of %d again; %d were refused meanwhile",
                            self.limit, self.refused)
                self.refused = 0
            return self.server()
        if not self.refused:
            log.warning("connection cap of %d reached: new connections are answered 503 and closed "
                        "until some close", self.limit)
        self.refused += 1
        return _Refusal()


class _Refusal(asyncio.Protocol):
    ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
              b"Content-Length: 37\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
              b"too many connections; try again later")

    def connection_made(self, transport):
        transport.write(self.ANSWER)
        transport.close()
