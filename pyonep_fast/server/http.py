"""HTTP helpers shared by every API of the embedded server: the server's
configuration on the aiohttp app, bounded body reading, response helpers,
and the per-connection request budget."""
import asyncio
import weakref

from aiohttp import web

DEFAULT_MAX_BODY = 256 * 1024 * 1024
BODY_TIMEOUT = 30.0            # seconds for a request body to arrive
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
LARGE_JOIN = 1 << 20           # bodies from this size are joined off the event loop

CONFIG = web.AppKey("config", dict)   # null, max_body, body_timeout, requests_per_connection


def json_response(body, status=200):
    return web.Response(body=body, status=status, headers={"Content-Type": JSON})


def text_response(text, status=200, headers=None):
    return web.Response(text=text, status=status, headers={"Content-Type": TEXT, **(headers or {})})


def closing(response):
    """response, sent with `Connection: close` and followed by a close."""
    response.force_close()
    response.headers["Connection"] = "close"
    return response


async def read_body(request, error_response):
    """The request body, or the API's error Response for status 413 (too
    large), 408 (too slow) or 400 (cut short), all closing the connection;
    error_response(status) builds it."""
    config = request.app[CONFIG]
    limit = config["max_body"]
    length = request.content_length
    if length is not None and length > limit:
        return closing(error_response(413))
    if length == 0:
        return b""
    try:
        async with asyncio.timeout(config["body_timeout"]):
            parts = await _read_parts(request.content, length, limit)
        return await _join(parts)
    except TimeoutError:
        # answer, then close at once: waiting for the rest of the body is what timed out
        response = closing(error_response(408))
        await response.prepare(request)
        await response.write_eof()
        if request.transport is not None:
            request.transport.close()
        return response
    except asyncio.IncompleteReadError:
        return closing(error_response(400))
    except OverflowError:
        return closing(error_response(413))


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
    return await asyncio.get_running_loop().run_in_executor(None, b"".join, parts)


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
