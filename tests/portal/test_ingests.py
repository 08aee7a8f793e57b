"""Ingest progress on the server-activity page (issue 16 item 4): real
ingests into the embedded server, followed through their checkpoint files,
each seen only by the credentials its API lets read the target."""
import json
import os
import threading
import time

import numpy as np
import orjson
import pytest
import urllib3
from portal_helpers import HOSTILE

from pyonep_fast.ingest import ingest, ingest_m2x
from pyonep_fast.ingest.sources import ArraySource
from pyonep_fast.server import EmbeddedServer
from pyonep_fast.server.portal.browser import sign_in
from pyonep_fast.server.portal.ingests import STALLED_SECONDS

DEADLINE = 30.0
START = 1_500_000_000
CHUNK = 500


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """The directory of checkpoints the server follows."""
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="module")
def server(tmp_path_factory, watched):
    db = tmp_path_factory.mktemp("db") / "server.db"
    with EmbeddedServer(db=str(db), ingest_checkpoints=[watched]) as running:
        yield running


@pytest.fixture(scope="module")
def http():
    with urllib3.PoolManager() as pool:
        yield pool


def fountain_cik(http, server):
    return orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]


def session(http, server, credential, api="onep"):
    """The Cookie header of a portal session signed in with credential."""
    answer = http.request("POST", server.url + "/portal/api/session", headers={"Origin": server.url},
                          body=orjson.dumps({"api": api, "credential": credential}))
    assert answer.status == 200, answer.data
    return answer.headers["Set-Cookie"].split(";")[0]


def ingests(http, server, cookie):
    """{checkpoint name: row} of the session's activity snapshot."""
    answer = http.request("GET", server.url + "/portal/api/activity", headers={"Cookie": cookie})
    assert answer.status == 200, answer.data
    snapshot = orjson.loads(answer.data)
    assert "apis" in snapshot
    return {row["checkpoint"]: row for row in snapshot["ingests"]}


def poll(read, until, what):
    """read() again until until(value); fails after DEADLINE seconds."""
    ends = time.monotonic() + DEADLINE
    while True:
        value = read()
        if until(value):
            return value
        assert time.monotonic() < ends, f"{what}: last {value!r}"
        time.sleep(0.05)


def once_seen(http, server, cookie, name):
    """The session's rows once the portal's look at the files (about once a
    second) found `name`; a file written before it was found then too."""
    return poll(lambda: ingests(http, server, cookie), lambda rows: name in rows, f"{name} shown")


class Gated(ArraySource):
    """The real ArraySource, whose reading stops before the chunks in `stops`
    until the test lets it go on: the test sees the ingest at those points."""

    def __init__(self, series, stops, **options):
        super().__init__(series, **options)
        self.stops = {index: threading.Event() for index in stops}

    def chunks(self, kinds, chunk_points, start=None):
        for index, chunk in enumerate(super().chunks(kinds, chunk_points, start)):
            if index in self.stops:
                assert self.stops[index].wait(DEADLINE)
            yield chunk


def series(n):
    ts = np.arange(START, START + n, dtype=np.int64)
    return {"temperature": (ts, np.round(ts % 1000 * 0.25, 2))}


def run_in_thread(function, *args, **kwargs):
    outcome = {}

    def run():
        try:
            outcome["report"] = function(*args, **kwargs)
        except BaseException as exc:      # shown by the test
            outcome["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


@pytest.fixture(scope="module")
def finished(http, server, watched):
    """A finished ingest of 20 chunks by a fountain client: (CIK, checkpoint path)."""
    cik = fountain_cik(http, server)
    checkpoint = watched / "finished.ckpt"
    report = ingest(cik, series(20 * CHUNK), url=server.url, checkpoint=checkpoint, chunk_size=CHUNK, create=True,
                    connections=2, progress=False)
    assert report.ok, report.summary()
    return cik, checkpoint


def test_an_ingest_shows_its_progress_rising_until_it_finishes(http, server, watched):
    cik = fountain_cik(http, server)
    cookie = session(http, server, cik)
    total = 40 * CHUNK
    source = Gated(series(total), stops=[10, 20], input_name="history.csv")
    thread, outcome = run_in_thread(ingest, cik, source, url=server.url, checkpoint=watched / "rising.ckpt",
                                    chunk_size=CHUNK, create=True, connections=2, progress=False)

    def row():
        return ingests(http, server, cookie).get("rising.ckpt")
    quarter = poll(row, lambda r: r is not None and r["points"] == total // 4, "a quarter acknowledged")
    assert quarter["state"] == "running" and quarter["fraction"] == 0.25
    assert quarter["input"] == "history.csv" and quarter["api"] == "onep"
    assert quarter["target"] == "client fountain" and quarter["refused"] == 0 and quarter["errors"] == 0
    source.stops[10].set()
    half = poll(row, lambda r: r["points"] == total // 2, "half acknowledged")
    assert half["state"] == "running" and half["fraction"] == 0.5
    assert half["rate"] > 0 and half["eta"] is not None     # from the readings at a quarter and at half
    source.stops[20].set()
    done = poll(row, lambda r: r["state"] == "finished", "finished")
    thread.join(DEADLINE)
    assert outcome.get("report") is not None and outcome["report"].ok, outcome
    assert done["points"] == total and done["fraction"] == 1.0 and done["done"] == done["total"] == total
    assert done["rate"] is None and done["eta"] is None


def test_another_client_does_not_see_an_ingest_its_ancestor_does(http, server, finished):
    cik, _ = finished
    assert once_seen(http, server, session(http, server, cik), "finished.ckpt")["finished.ckpt"]["points"] == 20 * CHUNK
    assert "finished.ckpt" in ingests(http, server, session(http, server, server.root_cik))
    stranger = fountain_cik(http, server)
    assert "finished.ckpt" not in ingests(http, server, session(http, server, stranger))


def test_an_m2x_ingest_is_seen_by_keys_that_may_read_its_device_only(http, server, watched):
    def call(key, method, path, body=None):
        answer = http.request(method, server.url + "/v2" + path, headers={"X-M2X-KEY": key},
                              body=None if body is None else orjson.dumps(body))
        assert answer.status in (200, 201), answer.data
        return orjson.loads(answer.data)

    def account():
        return orjson.loads(http.request("POST", server.url + "/_fixtures/m2x/accounts").data)["key"]
    master = account()
    logger = call(master, "POST", "/devices", {"name": "logger", "visibility": "private"})
    neighbour = call(master, "POST", "/devices", {"name": "neighbour", "visibility": "private"})
    report = ingest_m2x(master, logger["id"], series(4 * CHUNK), url=server.url, checkpoint=watched / "m2x.ckpt",
                        chunk_size=CHUNK, create=True, progress=False)
    assert report.ok, report.summary()

    row = once_seen(http, server, session(http, server, master, "m2x"), "m2x.ckpt")["m2x.ckpt"]
    assert row["api"] == "m2x" and row["target"] == "device logger" and row["state"] == "finished"
    assert row["points"] == 4 * CHUNK and row["input"] == "arrays"
    assert "m2x.ckpt" in ingests(http, server, session(http, server, logger["key"], "m2x"))
    assert "m2x.ckpt" not in ingests(http, server, session(http, server, neighbour["key"], "m2x"))
    assert "m2x.ckpt" not in ingests(http, server, session(http, server, account(), "m2x"))
    # a One Platform session sees no M2X ingest, the root's included
    assert "m2x.ckpt" not in ingests(http, server, session(http, server, server.root_cik))


def test_unreadable_files_show_their_reason_and_the_page_still_serves(http, server, watched, finished):
    cik, checkpoint = finished
    older = json.loads(checkpoint.read_text())
    older["version"] = 1
    (watched / "older.ckpt").write_text(json.dumps(older))
    (watched / "foreign.json").write_text('{"hello": "world"}')
    (watched / "history.csv").write_text("1500000000,1.5\n")                # an input: not listed
    (watched / ".ingest-checkpoint-x1y2").write_text('{"being": "written')  # a checkpoint being written: not listed
    (watched / "torn.ckpt").write_text(checkpoint.read_text()[:200])
    rows = once_seen(http, server, session(http, server, cik), "torn.ckpt")
    assert rows["older.ckpt"]["problem"].startswith("checkpoint version 1, not 2")
    assert rows["torn.ckpt"]["problem"].startswith("not JSON")
    assert rows["foreign.json"]["problem"] == "not an ingest checkpoint"
    assert "history.csv" not in rows and ".ingest-checkpoint-x1y2" not in rows
    assert rows["finished.ckpt"]["state"] == "finished"                  # the others are still shown


def test_a_target_elsewhere_is_shown_to_no_one_and_an_idle_ingest_is_stalled(http, server, watched, finished):
    cik, checkpoint = finished
    state = json.loads(checkpoint.read_text())
    elsewhere = dict(state, fingerprint=dict(state["fingerprint"], target=dict(state["fingerprint"]["target"],
                                                                                client="e" * 40)))
    (watched / "elsewhere.ckpt").write_text(json.dumps(elsewhere))
    stopped = watched / "stopped.ckpt"
    stopped.write_text(json.dumps(dict(state, complete=False)))
    idle_since = time.time() - STALLED_SECONDS - 60
    os.utime(stopped, (idle_since, idle_since))
    row = once_seen(http, server, session(http, server, cik), "stopped.ckpt")["stopped.ckpt"]
    for credential in (cik, server.root_cik):
        assert "elsewhere.ckpt" not in ingests(http, server, session(http, server, credential))
    assert row["state"] == "stalled" and row["rate"] is None and row["updated"] == pytest.approx(idle_since)


def test_the_activity_page_renders_the_ingests_table(page, http, server, watched):
    cik = fountain_cik(http, server)
    report = ingest(cik, series(3 * CHUNK), url=server.url, checkpoint=watched / "shown.ckpt", chunk_size=CHUNK,
                    create=True, input_name=HOSTILE, progress=False)
    assert report.ok, report.summary()
    (watched / "broken.ckpt").write_text("{")
    sign_in(page, server.url, cik)
    page.click("#activity-open")
    page.wait_for_selector('#ingests tr[data-checkpoint="shown.ckpt"]')
    assert page.is_visible("#ingests-title")
    cells = page.eval_on_selector('#ingests tr[data-checkpoint="shown.ckpt"]',
                                  "row => [...row.cells].map(c => c.textContent)")
    assert cells[:4] == ["shown.ckpt", HOSTILE, "One Platform client fountain", "1,500"]   # a name renders as text
    assert cells[4].endswith("100.0 %") and cells[9] == "finished"
    assert page.eval_on_selector('#ingests tr[data-checkpoint="shown.ckpt"] progress', "bar => bar.value") == 1
    assert page.text_content('#ingests tr[data-checkpoint="broken.ckpt"]').startswith("broken.ckptunreadable: not JSON")
    assert page.locator("#ingests script").count() == 0
