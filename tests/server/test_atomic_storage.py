"""Acknowledged points are never lost (issue 9, item 1): a call that fails
changes nothing, chunks stay under SQLite's blob limit, a merge rewrites
only the chunks its points fall in and never deletes before it inserts."""
import sqlite3
from contextlib import contextmanager

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast.server import EmbeddedServer, Store
from pyonep_fast.server.onep import descriptions
from pyonep_fast.server.storage import timeseries
from rpc_helpers import INHERIT, make_dataport, ok

RPC_PATH = "/onep:v1/rpc/process"


def rpc_to(http, server):
    """rpc(cik, calls) -> (HTTP status, decoded body) against `server`."""
    def call(cik, calls):
        response = http.request("POST", server.url + RPC_PATH, body=orjson.dumps({"auth": {"cik": cik},
                                                                                   "calls": calls}))
        return response.status, orjson.loads(response.data) if response.data else None
    return call


def ok_on(rpc, cik, procedure, *arguments):
    status, body = rpc(cik, [{"id": 1, "procedure": procedure, "arguments": list(arguments)}])
    assert status == 200 and body[0]["status"] == "ok", body
    return body[0].get("result")


def rows_match_index(store, rid):
    """The Series' in-memory chunk index equals its rows in the database."""
    with store.lock:
        series = store.get(rid).series
        rows = store.db.execute("SELECT id, t_first, t_last, n, size FROM chunks WHERE series = ? "
                                "ORDER BY t_first", (series.id,)).fetchall()
        return rows == [(c.id, c.t_first, c.t_last, c.n, c.size) for c in series.chunks]


def test_big_strings_keep_every_point_also_after_restart(tmp_path, http):
    """16 records of 1,000 strings of 64,000 characters: the tail chunks
    together pass SQLite's 1e9-byte blob limit, and compacting them used to
    answer 500 and delete all 15,000 points stored before."""
    db = str(tmp_path / "big.db")
    value = "s" * 64000
    with EmbeddedServer(db=db) as server:
        rpc = rpc_to(http, server)
        cik = server.root_cik
        port = ok_on(rpc, cik, "create", "dataport", {"format": "string"})
        for batch in range(16):
            ok_on(rpc, cik, "record", port, [[batch * 1000 + i + 1, value] for i in range(1000)], {})
        assert ok_on(rpc, cik, "info", port, {"storage": True})["storage"]["count"] == 16000
        chunks = server.store.onep.get(port).series.chunks
        assert max(16 * c.n + c.size for c in chunks) <= timeseries.CHUNK_MAX_BYTES
    with EmbeddedServer(db=db) as again:
        rpc = rpc_to(http, again)
        storage = ok_on(rpc, cik, "info", port, {"storage": True})["storage"]
        assert storage == {"count": 16000, "first": 1, "last": 16000, "size": 16000 * 64000}
        assert ok_on(rpc, cik, "read", port, {"starttime": 7999, "endtime": 8001, "limit": 3, "sort": "asc"}) == [
            [7999, value], [8000, value], [8001, value]]


def test_a_failing_call_leaves_nothing_behind(tmp_path, http):
    """SQLite refusing a blob makes a call fail midway: what the call changed
    before (a point in another port, a dirty tail's flush, a clone's
    resources) is rolled back in the database and in memory; the calls
    before it in the request keep theirs; the same after a restart."""
    db = str(tmp_path / "atomic.db")
    with EmbeddedServer(db=db) as server:
        rpc = rpc_to(http, server)
        cik = server.root_cik
        first, other = (ok_on(rpc, cik, "create", "dataport", {"format": "string"}) for _ in range(2))
        child = ok_on(rpc, cik, "create", "client", {"limits": INHERIT})
        child_cik = ok_on(rpc, cik, "info", child, {"key": True})["key"]
        ok_on(rpc, child_cik, "record", ok_on(rpc, child_cik, "create", "dataport", {"format": "string"}),
              [[t, "c" * 20000] for t in (1, 2, 3)], {})
        before = ok_on(rpc, cik, "listing", ["client", "dataport"], {})
        with server.store.storage.lock:   # from here on a chunk row over 50,000 bytes fails to be written
            server.store.storage.db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 50000)

        status, body = rpc(cik, [
            {"id": 1, "procedure": "record", "arguments": [first, [[1, "a"]], {}]},
            {"id": 2, "procedure": "record", "arguments": [first, [[2, "b"]], {}]},   # grows the tail in place
            {"id": 3, "procedure": "writegroup", "arguments": [[[other, "x"], [first, "y" * 65535]]]},
            {"id": 4, "procedure": "record", "arguments": [first, [[4, "d"]], {}]}])
        assert status == 200 and body["error"]["code"] == 500, body
        assert ok_on(rpc, cik, "read", first, {"limit": 10, "sort": "asc"}) == [[1, "a"], [2, "b"]]
        assert ok_on(rpc, cik, "read", other, {"limit": 10}) == []

        status, body = rpc(cik, [
            {"id": 1, "procedure": "create", "arguments": ["dataport", {"format": "integer"}]},
            {"id": 2, "procedure": "create", "arguments": ["clone", {"rid": child}]}])   # copying the chunk fails
        assert status == 200 and body["error"]["code"] == 500, body
        after = ok_on(rpc, cik, "listing", ["client", "dataport"], {})
        assert after["client"] == before["client"]
        assert len(after["dataport"]) == len(before["dataport"]) + 1
        assert rows_match_index(server.store.onep, first) and rows_match_index(server.store.onep, other)
        assert len(server.store.onep.resources) == 6    # root, 3 of its dataports, child and its dataport
    with EmbeddedServer(db=db) as again:
        rpc = rpc_to(http, again)
        assert ok_on(rpc, cik, "read", first, {"limit": 10, "sort": "asc"}) == [[1, "a"], [2, "b"]]
        assert ok_on(rpc, cik, "read", other, {"limit": 10}) == []
        assert ok_on(rpc, cik, "listing", ["client", "dataport"], {}) == after


def test_two_points_into_a_large_series_rewrite_one_chunk(rpc, fresh_client, server):
    """An out-of-order point rewrites only the chunk whose range holds it,
    a newer one only adds at the tail: not the 5,000,000-point rewrite."""
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    n = 8 * timeseries.CHUNK_MAX
    ok(rpc, cik, "recordbatch", port, [[t, t] for t in range(1, n + 1)])
    series = server.store.onep.get(port).series
    before = {c.id: c for c in series.chunks}
    middle = 3 * timeseries.CHUNK_MAX + 17
    holder, = [c for c in series.chunks if c.t_first <= middle <= c.t_last]

    ok(rpc, cik, "record", port, [[middle, -1], [n + 5, -2]], {})
    after = {c.id: c for c in series.chunks}
    assert set(before) - set(after) == {holder.id}
    written = [after[i] for i in set(after) - set(before)]
    assert sum(c.n for c in written) == holder.n + 1    # the holder again (a point replaced), and the new one
    assert ok(rpc, cik, "read", port, {"starttime": middle - 1, "endtime": middle + 1, "limit": 3,
                                       "sort": "asc"}) == [[middle - 1, middle - 1], [middle, -1], [middle + 1, middle + 1]]

    first = series.chunks[0]
    ok(rpc, cik, "record", port, [[0, -3]], {})        # before every chunk: merged into the first only
    now = {c.id: c for c in series.chunks}
    assert set(after) - set(now) == {first.id}
    assert sum(now[i].n for i in set(now) - set(after)) == first.n + 1
    storage = ok(rpc, cik, "info", port, {"storage": True})["storage"]
    assert storage == {"count": n + 2, "first": 0, "last": n + 5, "size": (n + 2) * 12}
    assert rows_match_index(server.store.onep, port)


@contextmanager
def small_chunks():
    """Chunk bounds a few points wide, so small examples cross them."""
    names = {"TAIL_MAX": 3, "TAIL_MAX_BYTES": 120, "CHUNK_MAX": 5, "CHUNK_MAX_BYTES": 200, "COMPACT_SMALL": 3,
             "COMPACT_RUN": 3}
    saved = {name: getattr(timeseries, name) for name in names}
    for name, value in names.items():
        setattr(timeseries, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(timeseries, name, value)


class Refused(Exception):
    pass


batches = st.lists(st.tuples(st.booleans(), st.booleans(), st.lists(st.tuples(st.integers(0, 60), st.text(max_size=30)),
                                                     min_size=1, max_size=12)), min_size=1, max_size=25)


@pytest.mark.parametrize("kind", ["string", "integer"])
@given(steps=batches)
def test_series_equals_a_dict_and_rolled_back_batches_leave_no_trace(kind, steps):
    """Batches in any order merge like a dict update; a batch whose atomic
    block raises leaves memory and rows as they were; chunks stay sorted,
    disjoint and within bounds."""
    with small_chunks():
        store = Store()
        onep = store.onep
        res = onep.create_resource(onep.root, "dataport", descriptions.new_description("dataport",
                                                                                         {"format": kind}))
        series = res.series
        model = {}
        for keep, commit, pairs in steps:
            pairs = {t: (v if kind == "string" else len(v)) for t, v in pairs}
            columns = timeseries.Columns.from_pairs(series.kind, sorted(pairs.items()))
            try:
                with store.storage.atomic():
                    series.store(columns)
                    if not keep:
                        raise Refused
            except Refused:
                pass
            else:
                model.update(pairs)
            assert series.read(0, 100, False, 1000, "all") == [[t, model[t]] for t in sorted(model)]
            if commit:
                store.commit()
            chunks = series.chunks
            assert all(a.t_last < b.t_first for a, b in zip(chunks, chunks[1:]))
            assert all(c.n <= timeseries.CHUNK_MAX and series._nbytes(c) <= timeseries.CHUNK_MAX_BYTES
                       for c in chunks)
        store.commit()
        assert rows_match_index(onep, res.rid)
        store.close()
