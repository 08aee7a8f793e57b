"""A large recordbatch does not hold the event loop (issue 11, item 4): its
chunk rows are inserted as staged rows a slice at a time between other
requests (storage/database.py, Storage.staged), and the call publishes them
atomically. Storage.between_slices holds the store in the middle so that
what happens meanwhile is deterministic."""
import asyncio
import concurrent.futures
import http.client as http_client
import socket
import sqlite3
import threading
import time
import urllib.parse

import orjson
import pytest
import urllib3

from pyonep_fast.server import EmbeddedServer
from pyonep_fast.server.storage import KIND_FLOAT, Columns, Storage
from pyonep_fast.server.storage.timeseries import CHUNK_MAX

RPC_PATH = "/onep:v1/rpc/process"
POINTS = CHUNK_MAX + 34464       # two chunk rows, 1.6 MB: staged in two slices


def post(pool, server, cik, calls):
    response = pool.request("POST", server.url + RPC_PATH, body=orjson.dumps({"auth": {"cik": cik}, "calls": calls}))
    assert response.status == 200
    return orjson.loads(response.data)


def call(pool, server, cik, procedure, *arguments):
    entry, = post(pool, server, cik, [{"id": 1, "procedure": procedure, "arguments": list(arguments)}])
    return entry


def ok(pool, server, cik, procedure, *arguments):
    entry = call(pool, server, cik, procedure, *arguments)
    assert entry["status"] == "ok", entry
    return entry.get("result")


class HeldBatch:
    """A recordbatch of POINTS points sent on its own connection, its store
    held after the first staged slice until release()."""

    def __init__(self, server, cik, rid, first_t=1):
        self.holding = threading.Event()
        self.released = concurrent.futures.Future()
        self.answer = None

        async def hold(series):
            if not self.holding.is_set():
                self.holding.set()
                await asyncio.wrap_future(self.released)
        server.store.storage.between_slices = hold
        entries = [[t, t / 4] for t in range(first_t, first_t + POINTS)]
        self.thread = threading.Thread(target=self._send, args=(server, cik, rid, entries))
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.holding.is_set() and self.thread.is_alive() and time.monotonic() < deadline:
            self.holding.wait(0.05)
        # before staging existed, the store ran in one go: nothing was ever held
        assert self.holding.is_set(), f"the recordbatch was stored without yielding: {self.answer}"

    def _send(self, server, cik, rid, entries):
        with urllib3.PoolManager(retries=False, timeout=120) as pool:
            self.answer = call(pool, server, cik, "recordbatch", rid, entries)

    def release(self):
        self.released.set_result(None)
        self.thread.join(120)
        assert not self.thread.is_alive()
        return self.answer


@pytest.fixture
def held_server(tmp_path):
    with EmbeddedServer(db=str(tmp_path / "stall.db")) as server:
        yield server


def staged_rows(server):
    with server.store.storage.lock:
        return server.store.storage.db.execute("SELECT count(*) FROM staged_chunks").fetchone()[0]


def index_matches_rows(server, rid):
    with server.store.storage.lock:
        series = server.store.onep.get(rid).series
        rows = server.store.storage.db.execute("SELECT id, n FROM chunks WHERE series = ? ORDER BY t_first",
                                               (series.id,)).fetchall()
        return rows == [(c.id, c.n) for c in series.chunks]


def test_a_small_call_completes_while_a_large_recordbatch_is_stored(held_server, http):
    server = held_server
    cik = server.root_cik
    bulk = ok(http, server, cik, "create", "dataport", {"format": "float"})
    small = ok(http, server, cik, "create", "dataport", {"format": "integer"})
    batch = HeldBatch(server, cik, bulk)
    try:
        ok(http, server, cik, "write", small, 7)            # answered while the batch is held
        assert ok(http, server, cik, "read", small, {}) == [[pytest.approx(time.time(), abs=60), 7]]
        assert batch.thread.is_alive() and batch.answer is None
        # staged rows are invisible: the batch is not stored until its call publishes it
        assert ok(http, server, cik, "info", bulk, {"storage": True})["storage"]["count"] == 0
        assert staged_rows(server) == 1
    finally:
        answer = batch.release()
    assert answer == {"id": 1, "status": "ok"}
    assert ok(http, server, cik, "info", bulk, {"storage": True})["storage"] == {
        "count": POINTS, "first": 1, "last": POINTS, "size": 12 * POINTS}
    assert ok(http, server, cik, "read", bulk, {"starttime": 1000, "endtime": 1001, "sort": "asc", "limit": 5}) == [
        [1000, 250.0], [1001, 250.25]]
    assert staged_rows(server) == 0 and index_matches_rows(server, bulk)


def test_a_newer_write_during_staging_still_stores_every_point(held_server, http):
    """The batch no longer appends once a newer point came in: its points are
    stored as any, and the staged rows go."""
    server = held_server
    cik = server.root_cik
    bulk = ok(http, server, cik, "create", "dataport", {"format": "float"})
    batch = HeldBatch(server, cik, bulk)
    try:
        ok(http, server, cik, "record", bulk, [[POINTS + 5, -1.0]], {})
    finally:
        answer = batch.release()
    assert answer == {"id": 1, "status": "ok"}
    assert ok(http, server, cik, "info", bulk, {"storage": True})["storage"]["count"] == POINTS + 1
    assert ok(http, server, cik, "read", bulk, {"limit": 2}) == [[POINTS + 5, -1.0], [POINTS, POINTS / 4]]
    assert staged_rows(server) == 0 and index_matches_rows(server, bulk)


def test_a_port_dropped_during_staging_refuses_the_batch_and_keeps_no_rows(held_server, http):
    server = held_server
    cik = server.root_cik
    bulk = ok(http, server, cik, "create", "dataport", {"format": "float"})
    batch = HeldBatch(server, cik, bulk)
    try:
        ok(http, server, cik, "drop", bulk)
    finally:
        answer = batch.release()
    assert answer == {"id": 1, "status": "restricted"}   # dropped meanwhile: unreachable (spec 2.1)
    with server.store.storage.lock:
        assert server.store.storage.db.execute("SELECT count(*) FROM chunks").fetchone()[0] == 0
    assert staged_rows(server) == 0


def test_staged_rows_left_by_a_crash_are_deleted_at_start(tmp_path):
    """The database file as a crash in the middle of staging leaves it
    (slices committed, nothing published) opens with the series empty and
    no chunk row left."""
    path, crashed = str(tmp_path / "live.db"), str(tmp_path / "crashed.db")
    storage = Storage(path)
    series = storage.series.allocate("test", KIND_FLOAT)
    storage.commit()
    points = 3 * CHUNK_MAX
    columns = Columns(KIND_FLOAT, b"".join(t.to_bytes(8, "little") for t in range(1, points + 1)),
                      bytes(8 * points))

    async def stage_then_copy():
        storage.loop = asyncio.get_running_loop()
        async with storage.staged(series, columns) as staged:
            assert len(staged.chunks) == 3
            with sqlite3.connect(path) as live, sqlite3.connect(crashed) as copy:
                live.backup(copy)          # the committed file as it is now
        assert series.count() == 0         # never stored: the staged rows were discarded
    asyncio.run(stage_then_copy())
    storage.close()

    reopened = Storage(crashed)
    assert reopened.db.execute("SELECT count(*) FROM chunks").fetchone()[0] == 0
    assert reopened.db.execute("SELECT count(*) FROM staged_chunks").fetchone()[0] == 0
    assert reopened.series.open(series.id).count() == 0
    reopened.close()


def test_a_large_hdi_read_is_quoted_while_other_requests_are_served(monkeypatch):
    """The quoting of a large HTTP Data Interface answer is held until another
    request has been answered: on the event loop that request could not be."""
    from pyonep_fast.server.onep import hdi
    value = "a " * 20_000               # two of these: 80 KB of values, 160 KB quoted
    quoting = threading.Event()
    other_answered = threading.Event()
    waited = []

    def quote_after_another_request(text, safe):
        if text == value and not quoting.is_set():
            quoting.set()
            waited.append(other_answered.wait(30))
        return urllib.parse.quote(text, safe=safe)
    monkeypatch.setattr(hdi, "quote", quote_after_another_request)
    with EmbeddedServer() as server, urllib3.PoolManager(retries=False, timeout=60, maxsize=2) as pool:
        cik = orjson.loads(pool.request("GET", server.url + "/api/create?vendor").data)["cik"]
        for alias in ("a", "b"):
            port = ok(pool, server, cik, "create", "dataport", {"format": "string"})
            ok(pool, server, cik, "map", "alias", port, alias)
            ok(pool, server, cik, "write", port, value, {})
        answers = []
        reader = threading.Thread(target=lambda: answers.append(pool.request(
            "GET", server.url + "/onep:v1/stack/alias?a&b", headers={"X-Exosite-CIK": cik})))
        reader.start()
        assert quoting.wait(30)
        assert pool.request("GET", server.url + "/timestamp").status == 200
        other_answered.set()
        reader.join(60)
    assert waited == [True]
    quoted = urllib.parse.quote(value, safe="")
    assert answers[0].status == 200 and answers[0].data == f"b={quoted}&a={quoted}".encode()


def test_a_large_rpc_answer_to_a_client_not_reading_is_buffered_a_piece_at_a_time(monkeypatch):
    """An RPC answer of many megabytes to a client that reads none of it sits
    in the server's transport buffer at most a piece (http.WRITE_PIECE) past
    its high-water mark, the rest written as the client reads; written whole
    it was copied there at once (on the event loop). Other requests are
    answered meanwhile, and the answer arrives whole."""
    from pyonep_fast.server import http as server_http
    protocols = []
    make_connection = server_http.ConnectionCap.__call__

    def recorded(cap):
        protocol = make_connection(cap)
        protocols.append(protocol)
        return protocol
    monkeypatch.setattr(server_http.ConnectionCap, "__call__", recorded)
    value = "v" * 60_000
    with EmbeddedServer() as server, urllib3.PoolManager(retries=False, timeout=60) as pool:
        cik = server.root_cik
        port = ok(pool, server, cik, "create", "dataport", {"format": "string"})
        ok(pool, server, cik, "record", port, [[t, value] for t in range(1, 301)], {})   # an 18 MB answer
        body = orjson.dumps({"auth": {"cik": cik}, "calls": [
            {"id": 1, "procedure": "read", "arguments": [port, {"starttime": 0, "limit": 300, "sort": "asc"}]}]})
        reader = socket.socket()
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.connect(("127.0.0.1", server.port))
        try:
            reader.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (RPC_PATH.encode(), len(body), body))

            async def write_buffers():
                """(bytes buffered, high-water mark) of the server's connection
                that waits on its client (its buffer past the mark), if any."""
                for protocol in protocols:
                    transport = protocol.transport
                    if transport is not None:
                        high = transport.get_write_buffer_limits()[1]
                        if transport.get_write_buffer_size() > high:
                            return transport.get_write_buffer_size(), high
                return None
            deadline = time.monotonic() + 60
            waiting = None
            while waiting is None and time.monotonic() < deadline:
                waiting = asyncio.run_coroutine_threadsafe(write_buffers(), server._loop).result(10)
                time.sleep(0.01)
            assert waiting is not None, "the answer was never held up by the client"
            buffered, high = waiting
            assert buffered <= high + server_http.WRITE_PIECE
            assert pool.request("GET", server.url + "/timestamp").status == 200
            response = http_client.HTTPResponse(reader)
            response.begin()
            answer = orjson.loads(response.read())
        finally:
            reader.close()
    assert response.status == 200
    assert answer == [{"id": 1, "status": "ok", "result": [[t, value] for t in range(1, 301)]}]
