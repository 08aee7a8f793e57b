"""The portal in headless Chromium: sign-in, the tree, a 1,000,000-point
chart with zoom, live values, CSV, escaping of hostile names."""
import csv
import io

import numpy as np
from playwright.sync_api import expect
from portal_helpers import BIG_POINTS, BIG_START, HOSTILE, RETAIN, big_values, create, new_client

from pyonep_fast.server.portal.browser import open_resource, sign_in, wait_drawn


def test_root_redirects_browsers_and_nothing_shows_before_sign_in(page, portal_server):
    page.goto(portal_server.url + "/")
    assert page.url == portal_server.url + "/portal/"
    page.wait_for_selector("#signin-form")
    assert page.is_hidden("#app")
    answer = page.request.get(portal_server.url + "/portal/api/onep/tree")
    assert answer.status == 401


def test_a_wrong_cik_is_refused_with_a_message(page, portal_server):
    page.goto(portal_server.url + "/portal/")
    page.fill("#signin-credential", "0" * 40)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-error")).not_to_be_empty()
    assert page.text_content("#signin-error") == "That CIK does not sign in to One Platform."
    assert page.is_hidden("#app")
    assert page.context.cookies() == []


def test_sign_in_shows_the_tree_and_the_latest_values(signed_in, onep_data):
    page = signed_in
    names = page.eval_on_selector_all("#tree .node .name", "nodes => nodes.map(n => n.textContent)")
    assert {"temperature", "counter", HOSTILE, "child port"} <= set(names)
    page.wait_for_selector("#latest")
    rows = page.eval_on_selector_all("#latest tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["counter"][2] == "counter" and by_name["counter"][4] == "81"
    assert by_name["temperature"][4] == repr(float(big_values()[1][-1]))
    # the session cookie is out of the page's reach
    assert "pf_portal" not in page.evaluate("document.cookie")


def test_a_million_point_chart_zooms_to_exact_points(signed_in, onep_data):
    page = signed_in
    open_resource(page, onep_data["temperature"])
    [first] = wait_drawn(page, 1)
    assert first["count"] == BIG_POINTS
    assert 0 < first["points"] <= 4 * 1280       # min/max per pixel column, not a million points
    shown = page.evaluate("() => window.portalChart.data[1]")
    ts, vals = big_values()
    assert max(shown) == vals.max() and min(shown) == vals.min()   # the spikes survive downsampling

    box = page.locator("#chart .u-over").bounding_box()   # drag-select a tenth of the range: a zoom
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.10, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.20, y, steps=5)
    page.mouse.up()
    zoomed = wait_drawn(page, 2)[-1]
    start, end = page.evaluate("() => window.portalChart.view")
    assert zoomed["what"] == "zoom" and BIG_START < start < end < BIG_START + BIG_POINTS
    in_range = (ts >= start) & (ts <= end)
    assert zoomed["count"] == int(in_range.sum())
    shown_t, shown_v = page.evaluate("() => window.portalChart.data")
    assert max(shown_v) == vals[in_range].max() and min(shown_v) == vals[in_range].min()

    page.evaluate(f"() => window.portalChart.show({BIG_START + 1000}, {BIG_START + 1099}, 'zoom')")
    exact = wait_drawn(page, 3)[-1]
    shown_t, shown_v = page.evaluate("() => window.portalChart.data")
    assert exact["count"] == 100 and shown_t == ts[1000:1100].tolist() and shown_v == vals[1000:1100].tolist()


def test_a_value_written_through_rpc_appears_on_the_open_chart(signed_in, onep_data, onep_client):
    page = signed_in
    open_resource(page, onep_data["counter"])
    wait_drawn(page, 1)
    page.wait_for_selector("#live-value[data-state=open]", state="attached")   # watching from here on
    newest = BIG_START + 10_000
    assert onep_client.record(onep_data["cik"], {"alias": "counter"}, [[newest, 4242]])[0]
    page.wait_for_function(f"() => window.portalChart.data[0].includes({newest})")
    shown_t, shown_v = page.evaluate("() => window.portalChart.data")
    assert shown_t[-1] == newest and shown_v[-1] == 4242
    assert page.text_content("#live-value").startswith("live: 4242 at ")


def test_the_first_value_written_to_an_empty_dataport_draws_its_chart(page, portal_server, onep_client):
    cik = new_client(portal_server.url)["cik"]
    rid = create(onep_client, cik, "dataport", {"format": "float", "name": "empty", "retention": RETAIN})
    sign_in(page, portal_server.url, cik)
    open_resource(page, rid)
    page.wait_for_selector("#live-value[data-state=open]", state="attached")      # watching from here on
    assert page.text_content("#chart-status") == "No points yet." and page.is_hidden("#chart")
    assert onep_client.record(cik, rid, [[BIG_START, 21.5]])[0]
    page.wait_for_function(f"() => window.portalChart && window.portalChart.data && "
                           f"window.portalChart.data[0].includes({BIG_START})")
    assert page.evaluate("() => window.portalChart.data") == [[BIG_START], [21.5]] and page.is_visible("#chart")
    assert onep_client.record(cik, rid, [[BIG_START + 60, -3.25]])[0]             # and the next values follow
    page.wait_for_function(f"() => window.portalChart.data[0].includes({BIG_START + 60})")
    assert page.evaluate("() => window.portalChart.data") == [[BIG_START, BIG_START + 60], [21.5, -3.25]]


def test_csv_download_of_the_shown_range(signed_in, onep_data):
    page = signed_in
    open_resource(page, onep_data["temperature"])
    wait_drawn(page, 1)
    page.evaluate(f"() => window.portalChart.show({BIG_START + 10}, {BIG_START + 2009}, 'zoom')")
    wait_drawn(page, 2)
    with page.expect_download() as download:
        page.click("#csv")
    rows = list(csv.reader(io.StringIO(open(download.value.path()).read())))
    ts, vals = big_values()
    assert rows[0] == ["timestamp", "value"]
    assert [int(t) for t, _ in rows[1:]] == ts[10:2010].tolist()
    assert np.array_equal(np.array([float(v) for _, v in rows[1:]]), vals[10:2010])


def test_hostile_names_render_as_text(signed_in, onep_data):
    page = signed_in
    names = page.eval_on_selector_all(f'#tree .node[data-rid="{onep_data["hostile"]}"] .name, '
                                      f'#tree .node[data-rid="{onep_data["child"]}"] .name',
                                      "nodes => nodes.map(n => n.textContent)")
    assert names == [HOSTILE, HOSTILE]
    open_resource(page, onep_data["hostile"])
    page.wait_for_selector("#description")
    assert page.text_content("#resource-name") == HOSTILE
    assert page.text_content("#chart-status") == "1 text values (no chart)"
    open_resource(page, onep_data["child"])
    page.wait_for_selector("#latest")
    assert page.text_content("#resource-name") == HOSTILE
    assert page.evaluate("document.querySelectorAll('script').length") == 2     # uPlot and the portal's own
    assert page.dialogs == []


def test_a_client_sees_only_what_its_cik_reaches(page, portal_server, onep_data):
    sign_in(page, portal_server.url, onep_data["child_cik"])
    rids = page.eval_on_selector_all("#tree .node", "nodes => nodes.map(n => n.dataset.rid)")
    assert rids == [onep_data["child"], onep_data["child_port"]]
    for rid in (onep_data["temperature"], onep_data["rid"]):
        assert page.request.get(f"{portal_server.url}/portal/api/onep/chart?rid={rid}").status == 403
        assert page.request.get(f"{portal_server.url}/portal/api/onep/info?rid={rid}").status == 403
        assert page.request.get(f"{portal_server.url}/portal/api/onep/csv?rid={rid}").status == 403
    assert page.request.get(f"{portal_server.url}/portal/api/onep/latest?rid={onep_data['rid']}").status == 403


def test_sign_out_ends_the_session(signed_in, portal_server):
    page = signed_in
    page.click("#signout")
    page.wait_for_selector("#signin-form")
    assert page.text_content("#signin-error") == "Signed out."
    assert page.request.get(portal_server.url + "/portal/api/onep/tree").status == 401
