"""One Platform in the portal: the resource tree, descriptions and info, the
latest values, charts, CSV ranges and live updates of a signed-in CIK.

Everything a page shows comes from One Platform's own RPC engine run with
the session's CIK (`listing`, `info`, `read`, ...): what a CIK sees here is
exactly what its RPC calls return, refused where they are refused. Charts,
CSV and live updates read the series of a resource the engine first let the
CIK `read`; a live stream asks the engine again before each update it sends
(and at each keepalive), a CSV download before each step it writes.
"""
import asyncio
import re

import orjson

from ..onep.rpc import Engine
from .charts import TIME_MAX, live_update, series_chart, series_range
from .events import event_stream

NAME = "onep"
TITLE = "One Platform"
CREDENTIAL = "CIK"

TYPES = ["client", "dataport", "datarule", "dispatch"]
DATA_TYPES = TYPES[1:]
RID = re.compile(r"[0-9a-f]{40}\Z")
TREE_LIMIT = 5000             # resources shown in one tree
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
        drawn = await series_chart(self.portal.summaries, res.series, request.query)
        return {"rid": res.rid, "format": info["description"].get("format"), **drawn}

    async def csv(self, request, session):
        """Points of a range (seconds) as CSV (export.py), the engine asked again before each step."""
        res, _ = await self.readable_series(session, _rid_arg(request))
        start, end = series_range(request.query)

        async def readable():
            try:
                return (await self.readable_series(session, res.rid))[0].series
            except (Refused, NoLongerSignedIn):
                return None
        return await self.portal.exports.csv_response(request, f"{res.rid}-{max(start, 0)}-{end}.csv", res.series,
                                                      start, end, readable)

    async def client_label(self, session, rid):
        """'client NAME' if the CIK may list the client's resources (its own
        client or one below it: the engine's full access), else None."""
        try:
            (status, _), (_, info) = await self.rpc(session, [("listing", [rid, DATA_TYPES, {"owned": True}]),
                                                              ("info", [rid, {"description": True}])])
        except NoLongerSignedIn:
            return None
        return f"client {info['description'].get('name') or '(no name)'}" if status == "ok" else None

    async def events(self, request, session):
        """Server-sent events: the batches stored in the resource, after their
        commit (the storage's watch), as charts.live_update shapes them."""
        rid = _rid_arg(request)
        await self.readable_series(session, rid)
        queue = asyncio.Queue()
        cancel = self.store.watch(rid, queue.put_nowait)

        async def render(batches):
            try:    # the CIK may have lost access meanwhile: the engine decides again
                await self.readable_series(session, rid)
            except (Refused, NoLongerSignedIn):
                return None
            return [orjson.dumps(live_update(batches))] if batches else []
        try:
            return await event_stream(request, self.portal.streams, queue, render,
                                      self.portal.keepalive_seconds)
        finally:
            cancel()


async def ingest_target(portal, session, target):
    """The label of an ingest's target client the session's CIK may list (see
    the package's docstring), else None."""
    rid = target.get("client")
    if not isinstance(rid, str) or not RID.match(rid):
        return None
    return await Pages(portal).client_label(session, rid)


REFUSALS = {NoLongerSignedIn: lambda refused: (401, None),
            Refused: lambda refused: (400 if refused.status == "invalid" else 403,
                                      f"One Platform answered {refused.status}.")}


def routes(portal):
    return portal.api_routes(NAME, Pages(portal), ("tree", "info", "latest", "chart", "csv", "events"), REFUSALS)
