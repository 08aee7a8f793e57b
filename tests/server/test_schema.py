"""A database file written by an older server opens and keeps everything;
one written by a newer server is refused with a clear error.

data/made_by_4819069.db was written by the server of commit 4819069 (series
keyed by resource row ids, no schema versions): a fountain client with an
integer dataport (300 points by recordbatch, then 10 single writes), a
float (100 points) and a string dataport (3 points), aliases ints, floats,
strings, a datarule subscribed to ints, a child client, a share of floats,
a token reading ints and a provisioning model m1 (template: the child) with
serial number sn1; root CIK "a" * 40. data/made_by_4819069.json has the ids.
"""
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from pyonep_fast.server import EmbeddedServer, ServerError, Store
from pyonep_fast.server.onep import OnepState

DATA = Path(__file__).parent / "data"
IDS = orjson.loads((DATA / "made_by_4819069.json").read_bytes())


@pytest.fixture
def old_db(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(DATA / "made_by_4819069.db", path)
    return str(path)


def one(rpc, auth, procedure, *arguments):
    entry, = rpc(auth, [{"id": 1, "procedure": procedure, "arguments": list(arguments)}])
    assert entry["status"] == "ok", entry
    return entry.get("result")


def rpc_on(server, http):
    def call(auth, calls):
        auth = {"cik": auth} if isinstance(auth, str) else auth
        response = http.request("POST", server.url + "/onep:v1/rpc/process",
                                body=orjson.dumps({"auth": auth, "calls": calls}))
        return orjson.loads(response.data)
    return call


def check_old_content(server, http):
    rpc = rpc_on(server, http)
    cik = IDS["cik"]
    assert server.root_cik == "a" * 40
    assert one(rpc, cik, "read", {"alias": "ints"}, {"endtime": 310, "limit": 1000, "sort": "asc"}) == (
        [[t, t * 2] for t in range(1, 301)] + [[t, -t] for t in range(301, 311)])
    assert one(rpc, cik, "read", IDS["floats"], {"limit": 3, "sort": "asc"}) == [[1, 0.25], [2, 0.5], [3, 0.75]]
    assert one(rpc, cik, "read", IDS["strings"], {"limit": 5}) == [[3, "drei"], [2, "two"], [1, "one"]]
    assert one(rpc, {"token": IDS["token"]}, "read", IDS["ints"], {"endtime": 310, "limit": 1}) == [[310, -310]]
    assert one(rpc, cik, "lookup", "shared", IDS["share"]) == IDS["floats"]
    assert one(rpc, cik, "info", IDS["rule"], {"description": True})["description"]["subscribe"] == IDS["ints"]
    headers = {"X-Exosite-Token": IDS["vendortoken"]}
    models = http.request("GET", server.url + "/provision/manage/model/", headers=headers)
    assert models.status == 200 and models.data.decode().split() == ["m1"]
    sns = http.request("GET", server.url + "/provision/manage/model/m1/", headers=headers)
    assert sns.status == 200 and sns.data.decode().startswith("sn1,")


def test_database_of_4819069_opens_migrated_and_keeps_working(old_db, http):
    with EmbeddedServer(db=old_db) as server:
        check_old_content(server, http)
        rpc = rpc_on(server, http)
        cik = IDS["cik"]
        one(rpc, cik, "record", IDS["ints"], [[400, 4]], {})       # the rule subscribed to ints runs too
        new_port = one(rpc, cik, "create", "dataport", {"format": "integer"})
        one(rpc, cik, "record", new_port, [[1, 11], [2, 22]], {})
        assert one(rpc, cik, "read", IDS["rule"], {"limit": 1}) == [[400, 1]]
    with EmbeddedServer(db=old_db) as again:
        check_old_content(again, http)
        rpc = rpc_on(again, http)
        assert one(rpc, IDS["cik"], "read", new_port, {"limit": 5, "sort": "asc"}) == [[1, 11], [2, 22]]
        assert one(rpc, IDS["cik"], "info", IDS["ints"], {"storage": True})["storage"]["count"] == 311
    versions = dict(sqlite3.connect(old_db).execute("SELECT component, version FROM schema_versions"))
    assert versions["onep"] == OnepState.SCHEMA_VERSION and versions["storage"] >= 1


def test_database_of_a_newer_server_is_refused(old_db):
    Store(old_db).close()
    db = sqlite3.connect(old_db)
    db.execute("UPDATE schema_versions SET version = 99 WHERE component = 'onep'")
    db.commit()
    db.close()
    with pytest.raises(ServerError, match="onep schema version 99"):
        Store(old_db)
