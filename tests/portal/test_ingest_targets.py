"""Who sees an ingest is its API's portal module's decision (ingest_target):
an API whose module has none shows its sessions no ingest, an ingest into an
API the portal has no module for is listed with that reason."""
import json
import time

import orjson
import urllib3
from exp_helpers import SCALA_USER
from portal_helpers import http_sign_in, new_client

from pyonep_fast.ingest import ingest
from pyonep_fast.server import EmbeddedServer
from pyonep_fast.server.portal import exp

DEADLINE = 30.0
START = 1_500_000_000


def rows_once_seen(http, url, headers, name):
    """{checkpoint: row} of the session's activity snapshot once the portal's look at the files found `name`."""
    ends = time.monotonic() + DEADLINE
    while True:
        answer = http.request("GET", url + "/portal/api/activity", headers=headers)
        assert answer.status == 200, answer.data
        rows = {row["checkpoint"]: row for row in orjson.loads(answer.data)["ingests"]}
        if name in rows:
            return rows
        assert time.monotonic() < ends, f"{name} not shown: {rows}"
        time.sleep(0.05)


def test_modules_without_ingest_target_see_none_and_unknown_apis_are_named(tmp_path):
    assert not hasattr(exp, "ingest_target")
    watched = tmp_path / "checkpoints"
    watched.mkdir()
    with EmbeddedServer(db=str(tmp_path / "server.db"), ingest_checkpoints=[watched]) as server, \
            urllib3.PoolManager() as http:
        cik = new_client(server.url)["cik"]
        ts = list(range(START, START + 500))
        report = ingest(cik, {"level": (ts, [float(t % 7) for t in ts])}, url=server.url,
                        checkpoint=watched / "onep.ckpt", chunk_size=100, create=True, progress=False)
        assert report.ok, report.summary()
        state = json.loads((watched / "onep.ckpt").read_text())
        for api in ("exp", "nope"):
            target = dict(state["fingerprint"]["target"], api=api)
            (watched / f"{api}.ckpt").write_text(json.dumps(dict(state, fingerprint=dict(state["fingerprint"],
                                                                                          target=target))))
        unknown = "an ingest into 'nope', which this server does not know"
        onep_rows = rows_once_seen(http, server.url, http_sign_in(http, server.url, cik), "nope.ckpt")
        assert onep_rows["onep.ckpt"]["state"] == "finished" and onep_rows["nope.ckpt"] == {
            "checkpoint": "nope.ckpt", "problem": unknown}
        assert "exp.ckpt" not in onep_rows
        exp_rows = rows_once_seen(http, server.url, http_sign_in(http, server.url, SCALA_USER, "exp"), "nope.ckpt")
        assert exp_rows == {"nope.ckpt": {"checkpoint": "nope.ckpt", "problem": unknown}}
