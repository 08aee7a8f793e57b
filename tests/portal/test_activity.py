"""Server activity: the middleware's figures per API, and the live page."""
import re

import numpy as np
import orjson
import urllib3
from playwright.sync_api import expect

from pyonep_fast.server.portal.activity import HISTORY, WINDOW, Activity
from pyonep_fast.server.portal.browser import sign_in


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_rates_history_and_percentiles_per_api():
    clock = Clock(1000.5)
    activity = Activity(clock)
    rng = np.random.default_rng(7)
    recorded = {}
    for second in range(1000, 1000 + HISTORY + 5):    # older seconds fall out of the history and the window
        clock.now = second + 0.25
        latencies = rng.exponential(0.002, size=second % 7 + 1)
        recorded[second] = latencies
        for latency in latencies:
            activity.record("onep", float(latency))
        if second % 3 == 0:
            activity.record("m2x", 0.5)
    clock.now = 1000 + HISTORY + 5
    now = int(clock.now)
    snapshot = activity.snapshot()
    onep, m2x = snapshot["apis"]["onep"], snapshot["apis"]["m2x"]
    assert onep["history"] == [len(recorded[s]) for s in range(now - HISTORY, now)]
    assert onep["rate"] == len(recorded[now - 1])
    assert onep["total"] == sum(len(v) for v in recorded.values())
    window = np.concatenate([recorded[s] for s in range(now - WINDOW + 1, now)])
    for p in (50, 90, 99):
        assert abs(onep[f"p{p}"] - np.percentile(window, p) * 1000) < 1e-9
    assert m2x["history"] == [1 if s % 3 == 0 else 0 for s in range(now - HISTORY, now)] and m2x["p99"] == 500.0
    clock.now += 2 * HISTORY                      # idle: nothing in the window
    idle = activity.snapshot()["apis"]["onep"]
    assert idle["rate"] == 0 and idle["history"] == [0] * HISTORY and idle["p50"] is None


def test_the_activity_page_shows_requests_as_they_happen(page, portal_server):
    url = portal_server.url
    with urllib3.PoolManager() as http:
        cik = orjson.loads(http.request("GET", url + "/api/create?vendor").data)["cik"]
        assert http.request("GET", url + "/portal/api/activity").status == 401      # nothing without a session
        sign_in(page, url, cik)
        page.click("#activity-open")
        expect(page.locator("#activity-status")).to_have_text(re.compile("^live"))
        before = page.evaluate("() => Number(document.querySelector('#activity tr[data-api=onep] td:nth-child(3)')"
                               "?.textContent || 0)")
        calls = 25
        for n in range(calls):
            answer = http.request("POST", url + "/onep:v1/rpc/process", body=orjson.dumps(
                {"auth": {"cik": cik}, "calls": [{"id": n, "procedure": "lookup", "arguments": ["alias", ""]}]}))
            assert answer.status == 200
        assert http.request("GET", url + "/v2/devices", headers={"X-M2X-KEY": "activity-test-key"}).status == 200
    page.wait_for_function(f"() => Number(document.querySelector('#activity tr[data-api=onep] td:nth-child(3)')"
                           f"?.textContent || 0) >= {before + calls}", timeout=10000)
    page.wait_for_selector("#activity tr[data-api=m2x]")
    rows = page.eval_on_selector_all("#activity tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    by_api = {row[0]: row for row in rows[1:]}
    assert "portal" not in by_api                          # the portal's own requests are not counted
    assert float(by_api["onep"][3]) > 0 and float(by_api["onep"][3]) <= float(by_api["onep"][5])
    assert page.locator("#activity-chart .uplot").count() == 1
