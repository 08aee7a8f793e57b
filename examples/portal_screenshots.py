"""Screenshots of the portal's main pages for the README.

    python examples/portal_screenshots.py [--out examples/screenshots] [--points 1000000]

Starts an embedded server on a temporary database that follows the ingests'
checkpoints, stores the demo's sensor history (`pyonep-fast demo`'s
generator) into a fountain client and a day of a stream into an M2X device,
then drives headless Chromium (the system's, through Playwright) over the
portal and saves PNGs: the sign-in page; a client's tree with its latest
values; a dataport's chart over all of its history and a zoom into two
days; the server-activity page while a second ingest runs; an M2X device
with its stream chart; the M2X keys; EXP's devices and its live network
traffic.
"""
import argparse
import os
import re
import tempfile
import threading

import numpy as np
import orjson
import urllib3
from playwright.sync_api import expect, sync_playwright

import pyonep_fast.exp as exp_sdk
from pyonep_fast.cli.demo import DAY, SENSORS, START, create_dataports, generate
from pyonep_fast.ingest import ingest
from pyonep_fast.m2x.client import M2XClient
from pyonep_fast.onep import OnepV1
from pyonep_fast.server import EmbeddedServer
from pyonep_fast.server.portal.browser import launch, open_resource, sign_in, wait_drawn

#: The EXP fixtures every new database has (`--no-exp-fixtures` turns them off).
EXP_USER = {"username": "test@goexp.io", "password": "test-Password1", "organization": "scala"}
EXP_DEVICE = {"uuid": "test-uuid", "secret": "test-secret"}
M2X_POINTS = 86_400          # a day of one value per second
DEADLINE_MS = 60_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "screenshots"))
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir, \
            EmbeddedServer(db=os.path.join(workdir, "shots.db"), ingest_checkpoints=[workdir]) as server:
        host, port = server.url.rsplit("/", 1)[1].rsplit(":", 1)
        client = OnepV1(host=host, port=port, https=False)
        with urllib3.PoolManager() as http:
            cik = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]
            m2x_key = orjson.loads(http.request("POST", server.url + "/_fixtures/m2x/accounts").data)["key"]
        create_dataports(client, cik, [(alias, fmt) for alias, fmt, _ in SENSORS])
        history = os.path.join(workdir, "history.ckpt")
        assert ingest(cik, generate(args.points), client=client, progress=False, checkpoint=history,
                      input_name="sensor history").ok
        ok, rid = client.lookup(cik, "alias", "greenhouse.temperature")
        assert ok, rid
        m2x_device = m2x_greenhouse(server.url, m2x_key)

        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_context(viewport={"width": 1280, "height": 760}, device_scale_factor=1).new_page()
            page.set_default_timeout(DEADLINE_MS)
            page.goto(server.url + "/portal/")
            page.wait_for_selector("#signin-form")
            shot(page, args.out, "signin")
            sign_in(page, server.url, cik)
            page.wait_for_selector("#latest")
            shot(page, args.out, "client")
            open_resource(page, rid)
            wait_drawn(page, 1)
            shot(page, args.out, "chart")
            middle = START + 60 * DAY
            page.evaluate(f"() => window.portalChart.show({middle}, {middle + 2 * DAY}, 'zoom')")
            wait_drawn(page, 2)
            shot(page, args.out, "zoom")
            activity_during_ingest(page, client, cik, workdir, args.points, args.out)

            sign_out(page)
            sign_in(page, server.url, m2x_key, api="m2x")
            page.click(f'#tree .node[data-device="{m2x_device}"]')
            wait_drawn(page, 1)
            shot(page, args.out, "m2x-device", whole=True)
            page.click('#tree .node[data-page="keys"]')
            page.wait_for_selector("#keys")
            shot(page, args.out, "m2x-keys")

            sign_out(page)
            sign_in(page, server.url, EXP_USER, api="exp")
            page.wait_for_selector("#devices")
            shot(page, args.out, "exp-devices")
            page.click('#tree .node[data-page="traffic"]')
            expect(page.locator("#traffic-status")).to_have_text(re.compile("^live"))
            exp_traffic(server.url)
            page.wait_for_function("() => document.querySelectorAll('#traffic tr.message').length >= 6")
            shot(page, args.out, "exp-traffic")
            browser.close()


def m2x_greenhouse(url, key):
    """The id of an M2X device `greenhouse` with a day of `temperature`
    values, one a second (posted as arrays: encoded in C, split in batches)."""
    device = M2XClient(key, endpoint=url).create_device(name="greenhouse", visibility="private",
                                                         description="the demo's greenhouse, on M2X")
    stream = device.create_stream("temperature", unit={"label": "celsius", "symbol": "C"})
    seconds = np.arange(M2X_POINTS)
    stamps = np.datetime64("2024-06-01", "ms") + seconds * np.timedelta64(1, "s")
    daily = 18 + 6 * np.sin(2 * np.pi * (seconds / 86_400 - 0.3))
    stream.post_values((stamps, np.round(daily + np.random.default_rng(7).normal(0, 0.3, M2X_POINTS), 2)))
    return device.id


def activity_during_ingest(page, client, cik, workdir, points, folder):
    """The server-activity page while the history is ingested again (the
    same points: replaced in place), in small chunks so it takes a while."""
    done = threading.Event()
    checkpoint = os.path.join(workdir, "again.ckpt")

    def run():
        try:
            ingest(cik, generate(points), client=client, progress=False, checkpoint=checkpoint, chunk_size=5000,
                   connections=2, input_name="sensor history, again")
        finally:
            done.set()

    worker = threading.Thread(target=run, name="screenshot-ingest")
    page.click("#activity-open")
    expect(page.locator("#activity-status")).to_have_text(re.compile("^live"))
    worker.start()
    page.wait_for_function("""() => {
        const bar = document.querySelector('#ingests tr[data-checkpoint="again.ckpt"] progress');
        return bar && bar.value > 0.2;
    }""")
    shot(page, folder, "activity", whole=True)
    done.wait()
    worker.join()


def exp_traffic(url):
    """A few broadcasts of the fixture device on two channels."""
    device = exp_sdk.start(host=url, **EXP_DEVICE)
    try:
        for n in range(3):
            device.get_channel("lobby").broadcast("visitor", {"count": n + 1}, timeout=0)
            device.get_channel("screens").broadcast("play", {"item": f"clip-{n}.mp4"}, timeout=0)
    finally:
        exp_sdk.stop()


def sign_out(page):
    page.click("#signout")
    page.wait_for_selector("#signin-form")


def shot(page, folder, name, whole=False):
    """Saves the viewport as portal-NAME.png; whole: made as tall as the
    detail pane's content first (the pane scrolls inside a fixed page)."""
    path = os.path.join(folder, f"portal-{name}.png")
    size = page.viewport_size
    if whole:
        height = page.evaluate("() => document.getElementById('detail').scrollHeight + "
                               "document.querySelector('header').offsetHeight")
        page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    page.screenshot(path=path)
    page.set_viewport_size(size)
    print(path)


if __name__ == "__main__":
    main()
