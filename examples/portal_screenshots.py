"""Screenshots of the portal's main pages for the README.

    python examples/portal_screenshots.py [--out examples/screenshots] [--points 1000000]

Starts an embedded server on a temporary database, stores the demo's sensor
history (`pyonep-fast demo`'s generator) into a fountain client, then drives
headless Chromium (the system's, through Playwright) over the portal and
saves PNGs: the sign-in page, a client's tree with its latest values, a
dataport's chart over all of its history, and a zoom into two days.
"""
import argparse
import os
import tempfile

import orjson
import urllib3

from pyonep_fast.cli.demo import DAY, SENSORS, START, create_dataports, generate
from pyonep_fast.ingest import ingest
from pyonep_fast.onep import OnepV1
from pyonep_fast.server import EmbeddedServer
from pyonep_fast.server.portal.browser import launch, open_resource, sign_in, wait_drawn


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "screenshots"))
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir, EmbeddedServer(db=os.path.join(workdir, "shots.db")) as server:
        host, port = server.url.rsplit("/", 1)[1].rsplit(":", 1)
        client = OnepV1(host=host, port=port, https=False)
        with urllib3.PoolManager() as http:
            cik = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]
        create_dataports(client, cik, [(alias, fmt) for alias, fmt, _ in SENSORS])
        assert ingest(cik, generate(args.points), client=client, progress=False).ok
        ok, rid = client.lookup(cik, "alias", "greenhouse.temperature")
        assert ok, rid

        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_context(viewport={"width": 1280, "height": 760}, device_scale_factor=1).new_page()
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
            browser.close()


def shot(page, folder, name):
    path = os.path.join(folder, f"portal-{name}.png")
    page.screenshot(path=path)
    print(path)


if __name__ == "__main__":
    main()
