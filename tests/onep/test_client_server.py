"""OnepV1 against the embedded server over loopback: what the server does
with each call, return conventions, deferred batches, sharing between
threads, timeouts and reconnecting."""
import threading

import pytest

from pyonep_fast.exceptions import OnePlatformException
from pyonep_fast.onep import OnepV1
from pyonep_fast.server import EmbeddedServer

RETENTION = {"count": "infinity", "duration": "infinity"}


def onep_for(url, **options):
    host, port = url.rsplit("//", 1)[1].split(":")
    return OnepV1(host=host, port=port, https=False, **options)


@pytest.fixture
def onep(server):
    with onep_for(server.url) as client:
        yield client


def make_dataport(onep, cik, alias, format="float", **extra):
    isok, rid = onep.create(cik, "dataport", {"format": format, "name": alias, "retention": RETENTION,
                                              **extra})
    assert isok, rid
    assert onep.map(cik, rid, alias) == (True, "ok")
    return rid


def test_write_read_and_failures(onep, fresh_client):
    cik = fresh_client["cik"]
    rid = make_dataport(onep, cik, "temp")
    assert onep.write(cik, {"alias": "temp"}, 21.5) == (True, "ok")
    isok, points = onep.read(cik, {"alias": "temp"}, {"limit": 1})
    assert isok and points[0][1] == 21.5 and isinstance(points[0][0], int)
    assert onep.read(cik, {"alias": "missing"}, {}) == (False, "invalid")
    assert onep.lookup(cik, "alias", "temp") == (True, rid)
    assert onep.info(cik, rid, {"basic": True})[1]["basic"]["type"] == "dataport"


def test_record_recordbatch_flush(onep, fresh_client):
    cik = fresh_client["cik"]
    rid = make_dataport(onep, cik, "series", format="integer")
    assert onep.record(cik, rid, [[1000, 1], [2000, 2]]) == (True, "ok")
    isok, status = onep.recordbatch(cik, rid, [[3000, 3], [4000, "not a number"], [5000, 5]])
    assert (isok, status) == (False, [[4000, "invalid"]])  # the valid entries are stored
    options = {"starttime": 0, "endtime": 10000, "limit": 10, "sort": "asc"}
    assert onep.read(cik, rid, options) == (True, [[1000, 1], [2000, 2], [3000, 3], [5000, 5]])
    assert onep.flush(cik, rid, {"newerthan": 1000, "olderthan": 5000}) == (True, "ok")
    assert onep.read(cik, rid, options) == (True, [[1000, 1], [5000, 5]])
    assert onep.flush(cik, rid) == (True, "ok")
    assert onep.read(cik, rid, options) == (True, [])


def test_unicode_round_trip_with_a_token(onep, fresh_client):
    cik = fresh_client["cik"]
    isok, client_rid = onep.lookup(cik, "alias", "")
    assert isok
    isok, token = onep.grant(cik, client_rid, {client_rid: ["read", "write"]}, ttl=1000)
    assert isok and len(token) == 40
    make_dataport(onep, cik, "message", format="string")
    assert onep.write({"token": token}, {"alias": "message"}, "\u4f60\u597d") == (True, "ok")
    isok, points = onep.read({"token": token}, {"alias": "message"}, {"limit": 1})
    assert points[0][1] == "\u4f60\u597d"


def test_listing_forms_and_create_drop(onep, fresh_client):
    cik = fresh_client["cik"]
    rid = make_dataport(onep, cik, "d1")
    isok, child = onep.create(cik, "client", {"name": "child", "limits": {"dataport": "inherit"}})
    assert isok
    assert onep.listing(cik, ["client", "dataport"], {}, {"alias": ""}) == (
        True, {"client": [child], "dataport": [rid]})
    assert onep.listing(cik, ["dataport"], {}) == (True, {"dataport": [rid]})
    assert onep.listing(cik, ["dataport", "client"]) == (True, [[rid], [child]])
    assert onep.drop(cik, child) == (True, "ok")
    assert onep.info(cik, child)[0] is False


def test_whole_request_error_for_a_bad_cik(onep):
    with pytest.raises(OnePlatformException) as raised:
        onep.info("0" * 40, {"alias": ""})
    assert str(raised.value).startswith("{'code': 401")


def test_deferred_batch_runs_in_order_and_answers_in_order(onep, fresh_client):
    cik = fresh_client["cik"]
    make_dataport(onep, cik, "temp")
    onep.write(cik, {"alias": "temp"}, 1.5, defer=True)
    onep.read(cik, {"alias": "temp"}, {"limit": 1}, defer=True)
    onep.read(cik, {"alias": "nope"}, {}, defer=True)
    onep.lookup(cik, "alias", "temp", defer=True)
    (w, wok, wval), (r, rok, rval), (_, bad, status), (_, lok, rid) = onep.send_deferred(cik)
    assert (w["procedure"], wok, wval) == ("write", True, "ok")
    assert (r["procedure"], rok, rval[0][1]) == ("read", True, 1.5)  # the write ran first
    assert (bad, status) == (False, "invalid")
    assert lok and len(rid) == 40


def test_large_deferred_batch_split_over_connections(server, fresh_client):
    cik = fresh_client["cik"]
    with onep_for(server.url) as onep:
        onep.max_calls_per_request = 64
        aliases = [f"port{k}" for k in range(12)]
        rids = [make_dataport(onep, cik, alias) for alias in aliases]
        for k in range(600):
            onep.lookup(cik, "alias", aliases[k % 12], defer=True)
        triples = onep.send_deferred(cik)
    assert [value for _, _, value in triples] == [rids[k % 12] for k in range(600)]


def test_one_client_shared_by_16_threads_never_misroutes(server, fresh_client):
    cik = fresh_client["cik"]
    with onep_for(server.url) as onep:
        rids = [make_dataport(onep, cik, f"t{k}") for k in range(16)]
        errors = []
        start = threading.Barrier(16, timeout=30)

        def worker(k):
            try:
                start.wait()
                for round in range(25):
                    assert onep.lookup(cik, "alias", f"t{k}") == (True, rids[k])
                    auth = {"cik": cik}
                    triples = onep._callJsonRPC(auth, onep._composeCalls(
                        [("lookup", ["alias", f"t{k}"]), ("lookup", ["alias", f"t{(k + 1) % 16}"])]),
                        returnreq=True)
                    assert [value for _, _, value in triples] == [rids[k], rids[(k + 1) % 16]]
            except Exception as exc:  # reported below with the thread's number
                errors.append((k, exc))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []


def test_wait_has_no_read_timeout(server, fresh_client):
    cik = fresh_client["cik"]
    with onep_for(server.url, httptimeout=1) as onep:
        make_dataport(onep, cik, "quiet")
        # the server answers after 1.5 s, beyond httptimeout: wait is sent without one
        assert onep.wait(cik, {"alias": "quiet"}, {"timeout": 1500}) == (False, "expire")


def test_survives_connection_close_and_close():
    with EmbeddedServer(db=":memory:", requests_per_connection=3) as closing:
        with onep_for(closing.url) as onep:
            cik = closing.root_cik
            for k in range(10):
                assert onep.lookup(cik, "alias", "")[0] is True
            onep.close()
            assert onep.lookup(cik, "alias", "")[0] is True  # reopens after close()
