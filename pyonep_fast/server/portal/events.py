"""Server-sent event streams of the portal's live views, written once.

A view feeds an asyncio.Queue (from the storage's watch, EXP's network
hook, ...); the portal's shutdown puts None on every open stream's queue.
"""
import asyncio

from aiohttp import web

KEEPALIVE_SECONDS = 15.0     # a comment line this often keeps proxies from closing an idle stream


async def event_stream(request, streams, queue, render, keepalive_seconds=KEEPALIVE_SECONDS):
    """Streams what arrives on `queue` as server-sent events until the server
    shuts down or the client goes. Everything queued meanwhile is handed to
    `render(items)` at once, which returns the data payloads (bytes) to send,
    or None when the session may no longer see the view (an `end` event).
    An idle stream calls render([]) each `keepalive_seconds` before its
    keepalive: access that ends by the clock alone (a key or token that
    expires, no change to wake the view) ends the stream within that time.
    `streams` is the portal's set of open streams' queues."""
    streams.add(queue)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    try:
        await response.prepare(request)
        await response.write(b": live\n\n")
        while True:
            try:
                items = [await asyncio.wait_for(queue.get(), keepalive_seconds)]
            except TimeoutError:
                items = []
            while not queue.empty():
                items.append(queue.get_nowait())
            if None in items:            # the server is shutting down
                break
            payloads = await render(items)
            if payloads is None:
                await response.write(b"event: end\ndata: {}\n\n")
                break
            if payloads:
                await response.write(b"".join(b"data: " + payload + b"\n\n" for payload in payloads))
            elif not items:
                await response.write(b": keepalive\n\n")
    except ConnectionResetError:
        pass
    finally:
        streams.discard(queue)
    return response
