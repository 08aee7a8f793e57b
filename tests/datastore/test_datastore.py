"""The buffered Datastore against the embedded server over loopback HTTP."""
import time

import pytest
import urllib3
from polling import eventually

from pyonep_fast import datastore
from pyonep_fast.cli.demo import fountain_client
from pyonep_fast.datastore import Datastore, datastore_config, transport_config
from pyonep_fast.exceptions import NotStoredError
from pyonep_fast.onep import OnepV1
from pyonep_fast.server import spawn


def transport_of(url):
    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    return {"host": host, "port": port, "https": False, "timeout": 3}


def make(url, cik, interval=1, autocreate=False, **config):
    return Datastore(cik, interval, autocreate, dict(datastore_config, **config), transport_of(url))


@pytest.fixture
def onep(server):
    transport = transport_of(server.url)
    with OnepV1(transport["host"], transport["port"], https=False) as client:
        yield client


def points(onep, cik, alias, limit=100):
    ok, result = onep.read(cik, {"alias": alias}, {"limit": limit, "sort": "asc"})
    assert ok, result
    return [tuple(p) for p in result]




def test_writes_keep_the_last_value_records_flush_on_close(server, onep, fresh_client):
    cik = fresh_client["cik"]
    store = make(server.url, cik)
    assert store.createDataport("t", "float") == (True, True)
    assert store.createDataport("t", "float") == (False, "Alias already existed.")
    assert store.createDataport("n", "integer", name="counter") == (True, True)
    assert store.record("t", [[100, 1.5], [101, "2.5"], [102, 3]]) is None
    assert store.write("n", 1) is True
    assert store.write("n", 2) is False            # replaced: only the last value of the interval goes out
    assert store.write("missing", 1) is False
    assert store.record("missing", [[1, 1]]) is False
    before = int(time.time())
    assert [(t, v) for t, v, _ in store.close()["missing"]][1:] == [(1, 1)]  # reported, not stored
    assert points(onep, cik, "t") == [(100, 1.5), (101, 2.5), (102, 3.0)]
    [(stamp, value)] = points(onep, cik, "n")
    assert value == 2 and before <= stamp <= time.time()


def test_worker_flushes_every_interval_and_read_sees_buffered_points(server, onep, fresh_client):
    cik = fresh_client["cik"]
    store = make(server.url, cik)
    store.createDataport("h", "float")
    store.createDataport("live", "string")
    store.record("h", [[-10, 40.0]])                # 10 s ago, resolved now: a retry stores the same point
    assert [v for _, v in store.read("h", 1)] == [40.0]   # read flushes what is buffered for h first
    store.start()
    assert store.isThreadAlive()
    store.write("live", "on")
    store.record("h", [[1000, 41.0], [1001, 42.0]])
    assert eventually(lambda: len(points(onep, cik, "h")) == 3 and points(onep, cik, "live"))
    assert store.read("h", 2) == [[int(t), v] for t, v in reversed(points(onep, cik, "h")[-2:])]
    store.stop()
    assert not store.isThreadAlive() and store.failures() == {}


def test_refused_points_are_reported_and_the_worker_carries_on(server, onep, fresh_client, caplog):
    cik = fresh_client["cik"]
    store = make(server.url, cik)
    store.createDataport("gone", "float")
    store.createDataport("kept", "integer")
    store.record("gone", [[1, 1.0], [2, 2.0]])
    ok, rid = onep.lookup(cik, "alias", "gone")
    assert onep.drop(cik, rid) == (True, "ok")       # the dataport disappears before the flush
    store.start()
    assert eventually(lambda: store.failures())
    store.record("kept", [[5, 5]])
    assert eventually(lambda: points(onep, cik, "kept") == [(5, 5)]) and store.isThreadAlive()
    store.write("kept", "seven")                    # not an integer: reported, never sent
    with pytest.raises(NotStoredError) as raised:
        with store:
            pass
    report = raised.value.report
    assert report["gone"] == [(1, 1.0, "restricted"), (2, 2.0, "restricted")]   # a dropped RID is unreachable
    [(_, value, status)] = report["kept"]
    assert value == "seven" and status.startswith("invalid")


def test_points_unsendable_at_shutdown_are_reported_with_the_reason(tmp_path):
    server = spawn(db=str(tmp_path / "down.db"))
    try:
        with urllib3.PoolManager() as http:
            cik = fountain_client(http, server.url)
        store = make(server.url, cik, flush_timeout=0.3)
        store.createDataport("x", "float")
        store.record("x", [[10, 1.0], [11, 2.0]])
        store.write("x", 3.0)
    finally:
        server.kill()
        server.wait(10)
    failures = store.close()
    assert [(t, v) for t, v, _ in failures["x"][:2]] == [(10, 1.0), (11, 2.0)]
    assert len(failures["x"]) == 3 and failures["x"][2][1] == 3.0
    assert all(status.startswith("not sent") for _, _, status in failures["x"])


def test_autocreate_and_transport_dict_left_alone(server, onep, fresh_client):
    cik = fresh_client["cik"]
    transport = dict(transport_of(server.url), https=False)
    frozen, module_default = dict(transport), dict(transport_config)
    store = Datastore(cik, 0.2, {"format": "integer", "preprocess": [], "count": 0, "duration": 0,
                                 "visibility": "private"}, datastore_config, transport)
    assert transport == frozen and datastore.transport_config == module_default
    assert store.write("made", 4) is True
    assert onep.info(cik, {"alias": "made"}, {"description": True})[1]["description"]["format"] == "integer"
    assert store.comment("made", "public", "hello") == (True, "ok")
    assert onep.info(cik, {"alias": "made"}, {"comments": True})[1]["comments"] == [["public", "hello"]]
    assert store.close() == {}
    assert [v for _, v in points(onep, cik, "made")] == [4]


def test_autocreate_true_chooses_the_format_from_the_first_value(server, onep, fresh_client):
    cik = fresh_client["cik"]
    store = make(server.url, cik, 0.2, autocreate=True)
    assert store.write("count", 3) is True
    assert store.record("ratio", [[100, 0.5], [101, 1]]) is None
    assert store.record("label", [[-5, "on"]]) is None
    assert store.close() == {}
    formats = {alias: onep.info(cik, {"alias": alias}, {"description": True})[1]["description"]["format"]
               for alias in ("count", "ratio", "label")}
    assert formats == {"count": "integer", "ratio": "float", "label": "string"}
    assert [v for _, v in points(onep, cik, "count")] == [3]
    assert points(onep, cik, "ratio") == [(100, 0.5), (101, 1.0)]
    assert [v for _, v in points(onep, cik, "label")] == ["on"]


@pytest.mark.parametrize("autocreate, message", [
    ("yes", "autocreate must be False, True or a dict"),
    ({"format": "integer", "retention": {}}, "unknown option(s) 'retention'"),
    ({"format": "boolean"}, "format must be one of integer, float, string"),
])
def test_autocreate_of_another_shape_is_refused_by_the_constructor(autocreate, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Datastore("0" * 40, 1, autocreate, datastore_config, transport_of("http://127.0.0.1:1"))


def test_points_for_a_missing_alias_are_reported_not_dropped(server, onep, fresh_client):
    cik = fresh_client["cik"]
    store = make(server.url, cik)
    before = int(time.time())
    assert store.record("nowhere", [[10, 1.0], [-1, 2.0]]) is False
    assert store.write("nowhere", 3.0) is False
    assert store.record("nowhere", []) is False
    failures = store.close()
    assert list(failures) == ["nowhere"]
    (t1, v1, why), (t2, v2, _), (t3, v3, _) = failures["nowhere"]
    assert (t1, v1) == (10, 1.0) and v2 == 2.0 and before - 1 <= t2 <= time.time() and v3 == 3.0
    assert before <= t3 <= time.time()
    assert why == "not stored: no dataport with alias 'nowhere' (autocreate is off)"
    with pytest.raises(NotStoredError, match="1 points not stored: late: 1"):
        with make(server.url, cik) as other:
            other.record("late", [[5, 1.0]])
    assert onep.lookup(cik, "alias", "nowhere")[0] is False
