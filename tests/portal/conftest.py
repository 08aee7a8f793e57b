"""Fixtures of the portal's tests: an embedded server with One Platform data
(a 1,000,000-point dataport, a small one, hostile names) and a headless
Chromium driven by Playwright (the system's chromium; .ci/run installs it)."""
import os
import time

import numpy as np
import pytest
from playwright.sync_api import expect
from portal_helpers import BIG_START, HOSTILE, RETAIN, big_values, create, new_client

from pyonep_fast.server.onep.points import store_columns
from pyonep_fast.server.portal.browser import chromium_path, launch, sign_in
from pyonep_fast.server.storage.timeseries import KIND_FLOAT, Columns

DEADLINE_MS = 10000     # of every wait on the page, and of expect(...) assertions, which poll until it

expect.set_options(timeout=DEADLINE_MS)


@pytest.fixture(scope="session")
def portal_server(tmp_path_factory):
    from pyonep_fast.server import EmbeddedServer

    with EmbeddedServer(db=str(tmp_path_factory.mktemp("portal") / "portal.db")) as running:
        yield running


@pytest.fixture(scope="session")
def onep_client(portal_server):
    from pyonep_fast.onep import OnepV1

    host, port = portal_server.url.rsplit("/", 1)[1].rsplit(":", 1)
    return OnepV1(host=host, port=port, https=False)


def store_directly(store, rid, ts, vals):
    """Stores float points in a dataport as a `record` call does, without the
    client and wire: a million points take seconds through the pure-Python
    backend's encoder and parser, and the portal is what these tests test."""
    with store.onep.lock, store.onep.atomic():
        columns = Columns(KIND_FLOAT, ts.astype(np.int64).tobytes(), vals.astype(np.float64).tobytes())
        store_columns(store.onep, store.onep.get(rid), columns, int(time.time()))
    store.commit()


@pytest.fixture(scope="session")
def onep_data(portal_server, onep_client):
    """A fountain client holding: `temperature` (1,000,000 float points),
    `counter` (a few ints), a dataport named HOSTILE, and a child client
    named HOSTILE with its own dataport."""
    owner = new_client(portal_server.url)
    cik = owner["cik"]
    rids = {
        "temperature": create(onep_client, cik, "dataport", {"format": "float", "name": "temperature",
                                                             "retention": RETAIN}, "temperature"),
        "counter": create(onep_client, cik, "dataport", {"format": "integer", "name": "counter",
                                                         "retention": RETAIN}, "counter"),
        "hostile": create(onep_client, cik, "dataport", {"format": "string", "name": HOSTILE, "retention": RETAIN},
                          "hostile"),
        "child": create(onep_client, cik, "client", {"name": HOSTILE, "limits": {"dataport": "inherit"}}),
    }
    store_directly(portal_server.store, rids["temperature"], *big_values())
    assert onep_client.recordbatch(cik, {"alias": "counter"}, [[BIG_START + i, i * i] for i in range(10)])[0]
    assert onep_client.write(cik, {"alias": "hostile"}, HOSTILE)[0]
    ok, child_cik = onep_client.info(cik, rids["child"], {"key": True})
    assert ok
    rids["child_cik"] = child_cik["key"]
    rids["child_port"] = create(onep_client, rids["child_cik"], "dataport",
                                {"format": "float", "name": "child port", "retention": RETAIN})
    return {"cik": cik, "rid": owner["rid"], **rids}


@pytest.fixture(scope="module")   # Playwright's sync API runs an event loop in this thread: not past the module
def browser():
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it")
        pytest.skip("no chromium here: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        running = launch(playwright)
        yield running
        running.close()


@pytest.fixture
def page(browser):
    """A fresh browser context's page; dialogs it opens are recorded (and dismissed)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.dialogs = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()
    page.on("dialog", on_dialog)
    problems = []    # uncaught script errors and Content-Security-Policy violations
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.set_default_timeout(DEADLINE_MS)
    yield page
    context.close()
    assert problems == []


@pytest.fixture
def signed_in(page, portal_server, onep_data):
    sign_in(page, portal_server.url, onep_data["cik"])
    return page
