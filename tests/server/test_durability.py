"""An acknowledged write survives `kill -9` of the server process, and a
restart on the same database serves everything stored."""
import os
import threading

import orjson
import urllib3

from pyonep_fast.server import spawn

RPC = "/onep:v1/rpc/process"


def call(pool, url, cik, procedure, *arguments):
    body = orjson.dumps({"auth": {"cik": cik}, "calls": [{"id": 1, "procedure": procedure,
                                                           "arguments": list(arguments)}]})
    entry, = orjson.loads(pool.request("POST", url + RPC, body=body).data)
    assert entry["status"] == "ok", entry
    return entry.get("result")


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    db = str(tmp_path / "durable.db")
    pool = urllib3.PoolManager(retries=False, maxsize=8)
    server = spawn(db=db)
    try:
        made = orjson.loads(pool.request("GET", server.url + "/api/create?vendor").data)
        cik = made["cik"]
        ports = [call(pool, server.url, cik, "create", "dataport", {"format": "integer"}) for _ in range(4)]
        call(pool, server.url, cik, "map", "alias", ports[0], "first")
        call(pool, server.url, cik, "recordbatch", ports[0], [[t, t] for t in range(1, 200001)])
        acknowledged = {port: [] for port in ports}

        def writer(port):   # concurrent single-point writers: the group commit path
            for t in range(1, 201):
                call(pool, server.url, cik, "record", port, [[t, t * 3]], {})
                acknowledged[port].append(t)

        threads = [threading.Thread(target=writer, args=(port,)) for port in ports[1:]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        os.kill(server.pid, 9)
        server.wait(30)
    restarted = spawn(db=db)
    with restarted:
        assert restarted.root_cik == server.root_cik
        assert call(pool, restarted.url, cik, "lookup", "alias", "first") == ports[0]
        storage = call(pool, restarted.url, cik, "info", ports[0], {"storage": True})["storage"]
        assert storage == {"count": 200000, "first": 1, "last": 200000, "size": 2400000}
        for port in ports[1:]:
            points = call(pool, restarted.url, cik, "read", port, {"limit": 1000, "sort": "asc"})
            assert points == [[t, t * 3] for t in acknowledged[port]]


def test_root_cik_option_and_restart(tmp_path):
    db = str(tmp_path / "fixed.db")
    pool = urllib3.PoolManager(retries=False)
    with spawn(db=db, root_cik="a" * 40) as server:
        assert server.root_cik == "a" * 40
        assert call(pool, server.url, "a" * 40, "lookup", "alias", "") == server.root_rid
    with spawn(db=db) as again:
        assert again.root_cik == "a" * 40 and again.root_rid == server.root_rid
