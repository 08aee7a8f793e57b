"""One Platform's HTTP endpoints: the JSON-RPC endpoint (spec 1), the CIK
fountain (spec 6.2), the HTTP Data Interface (spec 7), /timestamp and /ip."""
import asyncio
import ipaddress
import time

import orjson
from aiohttp import web

from ..http import CONFIG, JSON, body_response, json_response, read_body, text_response
from .errors import body_error, request_error
from .fountain import Fountain
from .hdi import HttpDataInterface
from .rpc import Engine, envelope_error
from .wire import LARGE_BODY, decode_envelope


class RpcEndpoint:
    def __init__(self, store):
        self.engine = Engine(store)

    async def process(self, request):
        body = await read_body(request, body_error)
        if isinstance(body, web.StreamResponse):
            return body
        config = request.app[CONFIG]
        max_calls = config["limits"].calls_per_request
        if len(body) >= LARGE_BODY:    # walked in a worker thread (the C scanner releases the GIL)
            envelope = await asyncio.get_running_loop().run_in_executor(None, decode_envelope, body, max_calls)
        else:
            envelope = decode_envelope(body, max_calls)
        if envelope is None:
            return json_response(request_error(-1, "request"))
        if config["null"]:
            return json_response(null_answer(envelope, config["limits"]))
        answer = await self.engine.answer(envelope, config["limits"])
        return await body_response(request, answer, {"Content-Type": JSON})


def null_answer(envelope, limits):
    """--null mode: every call with an id is acknowledged, nothing runs; a
    request refused for its shape or its number of calls is refused as
    without --null (a non-object auth too, as authentication would)."""
    error = envelope_error(envelope, limits)
    if error is not None:
        return error
    if not isinstance(envelope["auth"], dict):
        return request_error(400, "auth")
    entries = [orjson.dumps({"id": c["id"], "status": "ok"}) for c in envelope["calls"] if c.get("id") is not None]
    return b"[" + b",".join(entries) + b"]" if entries else b""


async def timestamp(request):
    return text_response(str(int(time.time())))


def ip_text(host, port):
    """`a,b,c,d,hi,lo` (spec 7): IPv4 octets, then the port's high and low
    byte. An IPv6 peer answers with its IPv4-mapped address; one without
    (::1, say) with 127.0.0.1 when it is loopback, else 0.0.0.0."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if address.version == 6:
        mapped = address.ipv4_mapped
        address = mapped or ipaddress.IPv4Address("127.0.0.1" if address.is_loopback else "0.0.0.0")
    return ",".join(str(octet) for octet in (*address.packed, port >> 8, port & 0xFF))


async def ip(request):
    """The caller's address and port as the server sees them (spec 7)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return text_response(ip_text(peer[0], peer[1]) if peer else ip_text("0.0.0.0", 0))


def routes(store):
    """The aiohttp routes of One Platform over its state `store`."""
    rpc = RpcEndpoint(store)
    fountain = Fountain(store)
    hdi = HttpDataInterface(store)
    return [
        web.post("/onep:v1/rpc/process", rpc.process),
        web.get("/api/create", fountain.create),
        web.get("/", fountain.create),
        web.route("GET", "/onep:v1/stack/alias", hdi.stack_alias),
        web.post("/onep:v1/stack/alias", hdi.stack_alias),
        web.post("/onep:v1/stack/record", hdi.stack_record),
        web.get("/timestamp", timestamp),
        web.get("/ip", ip),
    ]
