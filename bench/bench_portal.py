"""The portal in a real browser on a big dataport: first chart, zoom, live value.

    python bench/bench_portal.py [--points 10000000] [--zooms 10] [--writes 10]

A `pyonep-fast serve` subprocess on a temporary database; a fountain client
with one float dataport of --points points (one a second, ending now),
stored with pyonep_fast.ingest. Headless Chromium (the system's, driven by
Playwright) signs in to the portal and:
  * opens the dataport: the first chart, timed from the click in the tree
    to the frame that paints it (cold: no chunk summary cached yet), then
    again after opening another resource (warm);
  * zooms --zooms times by drag-selecting a part of the plot: each timed
    in the page from the selection to the painted frame;
  * sees --writes values written through the RPC (`record`, one point
    newer than the rest): each timed from just before the RPC call to the
    moment the page's chart holds the value;
  * downloads the whole dataport as CSV with the page's session (the
    link the page offers), timed to the last byte, every line counted.
Prints each figure with its target (issue 16).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
import orjson
import urllib3

from pyonep_fast.ingest import ingest
from pyonep_fast.onep import OnepV1
from pyonep_fast.server import spawn
from pyonep_fast.server.portal.browser import launch, open_resource, sign_in, wait_drawn

TARGETS = {"first chart": 1.0, "zoom": 0.2, "live value": 1.0}


def line(name, seconds, target, detail=""):
    verdict = "ok" if seconds <= target else "OVER"
    print(f"{name:34}{seconds * 1000:9.0f} ms   target <= {target * 1000:.0f} ms  {verdict}  {detail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--zooms", type=int, default=10)
    parser.add_argument("--writes", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    workdir = tempfile.mkdtemp(prefix="bench-portal-")
    server = spawn(db=os.path.join(workdir, "bench.db"))
    try:
        host, port = server.url.rsplit("/", 1)[1].rsplit(":", 1)
        client = OnepV1(host=host, port=port, https=False)
        with urllib3.PoolManager() as http:
            cik = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]
        ok, rid = client.create(cik, "dataport", {"format": "float", "name": "big",
                                                  "retention": {"count": "infinity", "duration": "infinity"}})
        assert ok, rid
        ok, other = client.create(cik, "dataport", {"format": "float", "name": "other"})
        assert ok, other
        client.map(cik, rid, "big")
        end = int(time.time())
        ts = np.arange(end - args.points, end, dtype=np.int64)
        values = 20 + 5 * np.sin(np.arange(args.points) / 86400.0) + np.random.default_rng(1).normal(0, 0.5,
                                                                                                     args.points)
        started = time.perf_counter()
        report = ingest(cik, {"big": (ts, values)}, client=client, progress=False)
        assert report.ok, report.summary()
        print(f"{args.points:,} points stored in {time.perf_counter() - started:.1f} s; server {server.url}")
        print(f"chromium, headless, 1280x800 viewport; {os.cpu_count()} cores shared by server, browser, bench")

        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            sign_in(page, server.url, cik)
            for label in ("first chart (cold)", "first chart (warm)"):
                if label.endswith("(warm)"):
                    open_resource(page, other)
                    page.wait_for_selector("#description")
                began = time.perf_counter()
                open_resource(page, rid)
                first = wait_drawn(page, 1)[0]
                line(label + ", click to paint", time.perf_counter() - began, TARGETS["first chart"],
                     f"({first['points']:,} points drawn for {first['count']:,}; request to paint "
                     f"{first['ms']:.0f} ms)")

            box = page.locator("#chart .u-over").bounding_box()
            y = box["y"] + box["height"] / 2
            zooms = []
            for i in range(args.zooms):
                page.evaluate("() => window.portalChart.show(window.portalChart.first, window.portalChart.last, "
                              "'range')")
                drawn = len(wait_drawn(page, 1))
                a = 0.05 + 0.8 * i / max(1, args.zooms)
                b = a + 0.02 + 0.1 * (i % 3)     # 2 %, 12 %, 22 % of the range
                page.mouse.move(box["x"] + box["width"] * a, y)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] * b, y, steps=4)
                page.mouse.up()
                zoomed = wait_drawn(page, drawn + 1)[-1]
                assert zoomed["what"] == "zoom"
                zooms.append(zoomed)
            times = sorted(z["ms"] / 1000 for z in zooms)
            line(f"zoom, median of {len(times)}", statistics.median(times), TARGETS["zoom"],
                 f"(max {times[-1] * 1000:.0f} ms; {min(z['count'] for z in zooms):,} to "
                 f"{max(z['count'] for z in zooms):,} points in range)")

            page.evaluate("() => window.portalChart.show(window.portalChart.first, window.portalChart.last, 'range')")
            wait_drawn(page, len(wait_drawn(page, 1)))
            page.wait_for_function("() => window.portalChart.following")
            lives = []
            for i in range(args.writes):
                t = end + 1 + i
                value = 1000.0 + i
                began = time.perf_counter()
                ok, answer = client.record(cik, rid, [[t, value]])
                assert ok, answer
                page.wait_for_function(f"() => window.portalChart.data[0].includes({t})", polling=5)
                lives.append(time.perf_counter() - began)
            lives.sort()
            line(f"live value, median of {len(lives)}", statistics.median(lives), TARGETS["live value"],
                 f"(max {lives[-1] * 1000:.0f} ms; RPC record to the value in the page's chart)")
            csv_download(server.url, rid, page.context.cookies(), args.points + args.writes)
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def csv_download(url, rid, cookies, points):
    """Times the CSV download of the whole dataport, as the page's link asks it."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
    began = time.perf_counter()
    with urllib3.PoolManager() as http:
        answer = http.request("GET", f"{url}/portal/api/onep/csv?rid={rid}", headers={"Cookie": cookie},
                              preload_content=False)
        assert answer.status == 200, answer.status
        size = lines = 0
        for piece in answer.stream(1 << 20):
            size += len(piece)
            lines += piece.count(b"\n")
        answer.release_conn()
    seconds = time.perf_counter() - began
    assert lines == points + 1, (lines, points)      # the header line, then every point
    print(f"{'CSV of all of it':34}{seconds * 1000:9.0f} ms   {points / seconds / 1e6:.1f} M points/s, "
          f"{size / seconds / 1e6:.0f} MB/s  ({points:,} points, {size / 1e6:.0f} MB)")


if __name__ == "__main__":
    sys.exit(main())
