"""One Platform in the portal: the resource tree, descriptions and info, the
latest values, charts, CSV ranges and live updates of a signed-in CIK.

Everything a page shows comes from One Platform's own RPC engine run with
the session's CIK (`listing`, `info`, `read`, ...): what a CIK sees here is
exactly what its RPC calls return, refused where they are refused. Charts,
CSV and live updates read the series of a resource the engine first let the
CIK `read`; a live stream asks the engine again before each update it sends.
"""
import asyncio
import csv
import io
import re

import orjson
from aiohttp import web

from ..._core.series import Series as CoreSeries
from ..http import json_response
from ..onep.rpc import Engine
from ..storage.timeseries import KIND_INT, KIND_STRING
from .charts import TIME_MAX, BadRange, series_chart
from .downsample import SeriesChanged, points_of
from .events import event_stream
from .sessions import PREFIX, error

NAME = "onep"
TITLE = "One Platform"
CREDENTIAL = "CIK"

TYPES = ["client", "dataport", "datarule", "dispatch"]
DATA_TYPES = TYPES[1:]
RID = re.compile(r"[0-9a-f]{40}\Z")
TREE_LIMIT = 5000             # resources shown in one tree
LIVE_POINTS = 200             # an update carries at most these points (more: the page reloads its range)
NODE_INFO = {"basic": True, "description": True, "aliases": True}


async def sign_in(store, credential):
    """(a label for the client whose CIK this is, the CIK), or None (the
    engine's own authentication: an activated client's CIK)."""
    with store.onep.lock:
        call, _ = Engine(store.onep).authenticate({"cik": credential})
        if call is None:
            return None
        name = call.caller.desc.get("name") or "(no name)"
        return f"client {name} ({call.caller.rid[:8]}…)", credential


class NoLongerSignedIn(Exception):
    """The session's CIK no longer authenticates."""


class Refused(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


def _node(rid, info):
    desc = info.get("description", {})
    aliases = info.get("aliases")
    return {"rid": rid, "type": info["basic"]["type"], "name": desc.get("name", ""),
            "format": desc.get("format"), "aliases": aliases if isinstance(aliases, list) else [],
            "status": info["basic"].get("status")}


def _time_arg(request, name, default):
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(float(text))
    except ValueError:
        raise Refused("invalid") from None
    return min(max(value, 0), TIME_MAX)


def _rid_arg(request):
    rid = request.query.get("rid", "")
    if not RID.match(rid):
        raise Refused("invalid")
    return rid


class Pages:
    def __init__(self, portal):
        self.portal = portal
        self.store = portal.store.onep
        self.engine = Engine(self.store)

    async def rpc(self, session, calls):
        """[(status, result)] of calls [(procedure, arguments)] run by the
        engine with the session's CIK."""
        if not calls:
            return []
        body = await self.engine.process({"auth": {"cik": session.credential}, "calls": [
            {"id": index, "procedure": procedure, "arguments": arguments}
            for index, (procedure, arguments) in enumerate(calls)]})
        answer = orjson.loads(body)
        if not isinstance(answer, list):
            raise NoLongerSignedIn
        entries = {entry["id"]: entry for entry in answer}
        return [(entries[i]["status"], entries[i].get("result")) for i in range(len(calls))]

    async def one(self, session, procedure, arguments):
        [(status, result)] = await self.rpc(session, [(procedure, arguments)])
        if status != "ok":
            raise Refused(status)
        return result

    def page(self, serve):
        """A handler answering serve's JSON (or Response) for a signed-in session."""
        async def handle(request, session):
            try:
                answer = await serve(request, session)
            except NoLongerSignedIn:
                return self.portal.signed_out(session)
            except Refused as refusal:
                status = 400 if refusal.status == "invalid" else 403
                return error(status, f"One Platform answered {refusal.status}.")
            if isinstance(answer, web.StreamResponse):
                return answer
            return json_response(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY))
        return self.portal.handler(NAME, handle)

    # --- resources ------------------------------------------------------------
    async def tree(self, request, session):
        """The caller's subhierarchy (and the resources shared with it), one
        engine request per level."""
        (_, me), (_, info), (_, shared) = await self.rpc(session, [
            ("lookup", ["alias", ""]), ("info", [{"alias": ""}, NODE_INFO]), ("listing", [TYPES, {"activated": True}])])
        root = _node(me, info)
        frontier, count, truncated = [root], 1, False
        while frontier and not truncated:
            listings = await self.rpc(session, [("listing", [node["rid"], TYPES, {"owned": True}])
                                                for node in frontier])
            children = []
            for node, (status, found) in zip(frontier, listings):
                node["children"] = []
                rids = [rid for kind in TYPES for rid in found.get(kind, [])] if status == "ok" else []
                if count + len(rids) > TREE_LIMIT:
                    rids, truncated = rids[:max(0, TREE_LIMIT - count)], True
                count += len(rids)
                children.extend((node, rid) for rid in rids)
            infos = await self.rpc(session, [("info", [rid, NODE_INFO]) for _, rid in children])
            frontier = []
            for (parent, rid), (status, info) in zip(children, infos):
                if status == "ok":
                    child = _node(rid, info)
                    parent["children"].append(child)
                    if child["type"] == "client":
                        frontier.append(child)
        shared_rids = [rid for kind in TYPES for rid in shared.get(kind, [])]
        infos = await self.rpc(session, [("info", [rid, NODE_INFO]) for rid in shared_rids])
        shared_nodes = [_node(rid, info) for rid, (status, info) in zip(shared_rids, infos) if status == "ok"]
        return {"root": root, "shared": shared_nodes, "truncated": truncated}

    async def info(self, request, session):
        rid = _rid_arg(request)
        return {"rid": rid, "info": await self.one(session, "info", [rid, {}])}

    async def latest(self, request, session):
        """The newest point of each data resource a client owns."""
        rid = _rid_arg(request)
        found = await self.one(session, "listing", [rid, DATA_TYPES, {"owned": True}])
        rids = [r for kind in DATA_TYPES for r in found.get(kind, [])]
        answers = await self.rpc(session, [call for r in rids for call in (
            ("info", [r, NODE_INFO]), ("read", [r, {"limit": 1, "endtime": TIME_MAX}]))])
        rows = []
        for index, r in enumerate(rids):
            (info_status, info), (read_status, points) = answers[2 * index:2 * index + 2]
            if info_status == "ok" and read_status == "ok":
                rows.append({**_node(r, info), "point": points[0] if points else None})
        return {"rid": rid, "rows": rows}

    # --- points -----------------------------------------------------------------
    async def readable_series(self, session, rid):
        """(resource, storage info) of a data resource the CIK may read."""
        answers = await self.rpc(session, [("read", [rid, {"limit": 0}]),
                                           ("info", [rid, {"storage": True, "description": True}])])
        for status, _ in answers:
            if status != "ok":
                raise Refused(status)
        res = self.store.get(rid)
        if res is None or res.series is None:
            raise Refused("restricted")
        return res, answers[1][1]

    async def chart(self, request, session):
        res, info = await self.readable_series(session, _rid_arg(request))
        try:
            drawn = await series_chart(self.portal.summaries, res.series, request.query)
        except BadRange:
            raise Refused("invalid") from None
        except SeriesChanged:
            return error(409, "The data changed while it was read; try again.")
        return {"rid": res.rid, "format": info["description"].get("format"), **drawn}

    async def csv(self, request, session):
        """Points of a range as CSV (timestamp,value), streamed chunk by chunk."""
        res, info = await self.readable_series(session, _rid_arg(request))
        start = _time_arg(request, "start", 0)
        end = _time_arg(request, "end", TIME_MAX)
        response = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{res.rid}-{start}-{end}.csv"'})
        await response.prepare(request)
        await response.write(b"timestamp,value\n")
        series = res.series
        for chunk in [c for c in series.chunks if c.t_last >= start and c.t_first <= end]:
            if not any(c is chunk for c in series.chunks):    # rewritten meanwhile: its points moved
                break
            await response.write(_csv_lines(series.columns_of(chunk), start, end))
        await response.write_eof()
        return response

    async def events(self, request, session):
        """Server-sent events: each batch stored in the resource, after its
        commit (the storage's watch), as {"count", "points"}: the newest
        LIVE_POINTS points of the batch."""
        rid = _rid_arg(request)
        await self.readable_series(session, rid)
        queue = asyncio.Queue()
        cancel = self.store.watch(rid, queue.put_nowait)

        async def render(batches):
            try:    # the CIK may have lost access meanwhile: the engine decides again
                await self.readable_series(session, rid)
            except (Refused, NoLongerSignedIn):
                return None
            return [orjson.dumps(_update(batches))]
        try:
            return await event_stream(request, self.portal.streams, queue, render)
        finally:
            cancel()


def _update(batches):
    count = sum(len(columns) for columns in batches)
    points = []
    for columns in reversed(batches):
        view = columns.view()
        n = len(view)
        take = min(n, LIVE_POINTS - len(points))
        points[:0] = [view.point(i) for i in range(n - take, n)]
        if len(points) >= LIVE_POINTS:
            break
    return {"count": count, "points": points}


def _csv_lines(columns, start, end):
    """CSV lines of the points of columns with start <= t <= end: numbers as
    the RPC spells them (the C encoder), strings quoted as CSV needs."""
    view = columns.view()
    if columns.kind == KIND_STRING:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows((t, v) for t, v in view.pairs() if start <= t <= end)
        return out.getvalue().encode()
    ts, _ = points_of(columns)
    lo, hi = int(ts.searchsorted(start)), int(ts.searchsorted(end, side="right"))
    if hi <= lo:
        return b""
    encoder = CoreSeries("int" if columns.kind == KIND_INT else "float")
    encoder.append(view.ts[lo:hi], view.vals[lo:hi])
    entries = bytes(encoder.encode_entries(0, hi - lo, False))   # [[t,v],[t,v],...]
    return entries[2:-2].replace(b"],[", b"\n") + b"\n"


def routes(portal):
    pages = Pages(portal)
    base = f"{PREFIX}/api/{NAME}"
    return [web.get(f"{base}/{name}", pages.page(getattr(pages, name)))
            for name in ("tree", "info", "latest", "chart", "csv", "events")]
