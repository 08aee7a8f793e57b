"""M2X in the portal, in headless Chromium: a master key sees its account's
devices, a stream chart (milliseconds charted in seconds), keys and
commands; a device key only its device; a wrong key nothing."""
import numpy as np
import orjson
import pytest
import urllib3
from playwright.sync_api import expect
from portal_helpers import HOSTILE, iso

from pyonep_fast.server.portal.browser import sign_in, wait_drawn

POINTS = 5000
START_MS = 1_600_000_000_000
STEP_MS = 1500             # not whole seconds: the chart keeps the milliseconds


def stream_points():
    ms = START_MS + STEP_MS * np.arange(POINTS, dtype=np.int64)
    values = np.round(10 + 3 * np.sin(np.arange(POINTS) / 300.0), 3)
    values[4321] = 77.5
    return ms, values


@pytest.fixture(scope="module")
def m2x_data(portal_server):
    """An account with a `thermostat` (a numeric stream of POINTS values, a
    text stream) and a device named HOSTILE, a command sent to both; and a
    second account with a device of its own."""
    url = portal_server.url
    with urllib3.PoolManager() as http:
        def call(key, method, path, body=None, status=(200, 201, 202, 204)):
            answer = http.request(method, url + "/v2" + path, headers={"X-M2X-KEY": key},
                                  body=None if body is None else orjson.dumps(body))
            assert answer.status in status, answer.data
            return orjson.loads(answer.data) if answer.data else None

        def account():
            answer = http.request("POST", url + "/_fixtures/m2x/accounts")
            return orjson.loads(answer.data)["key"]

        master = account()
        thermostat = call(master, "POST", "/devices", {"name": "thermostat", "visibility": "private"})
        hostile = call(master, "POST", "/devices", {"name": HOSTILE, "visibility": "private", "description": HOSTILE})
        call(master, "PUT", f"/devices/{thermostat['id']}/streams/temperature", {"type": "numeric",
                                                                               "unit": {"symbol": "C"}})
        ms, values = stream_points()
        call(master, "POST", f"/devices/{thermostat['id']}/streams/temperature/values",
             {"values": [{"timestamp": iso(int(t)), "value": float(v)} for t, v in zip(ms, values)]})
        call(master, "PUT", f"/devices/{thermostat['id']}/streams/status/value", {"value": "on"})
        call(master, "PUT", f"/devices/{hostile['id']}/streams/{HOSTILE.replace('/', '')}/value", {"value": 1})
        call(master, "POST", "/commands", {"name": HOSTILE, "data": {"delay": 5},
                                           "targets": {"devices": [thermostat["id"], hostile["id"]]}})
        reader = call(master, "POST", "/keys", {"name": "reader", "permissions": ["GET"]})
        other_master = account()
        other = call(other_master, "POST", "/devices", {"name": "elsewhere", "visibility": "private"})
    return {"master": master, "thermostat": thermostat, "hostile": hostile, "reader": reader["key"],
            "device_key": thermostat["key"], "other": other, "other_master": other_master}


def tree_names(page):
    return page.eval_on_selector_all("#tree .node .name", "nodes => nodes.map(n => n.textContent)")


def test_a_master_key_sees_its_devices_and_a_stream_chart(page, portal_server, m2x_data):
    sign_in(page, portal_server.url, m2x_data["master"], api="m2x")
    assert page.text_content("#who").startswith("M2X: Master Key (master key …")
    assert tree_names(page) == ["thermostat", HOSTILE, "Keys", "Commands"]
    [first] = wait_drawn(page, 1)          # the first device's first numeric stream
    ms, values = stream_points()
    assert first["count"] == POINTS and 0 < first["points"] < POINTS
    shown_t, shown_v = page.evaluate("() => window.portalChart.data")
    assert max(shown_v) == 77.5 and min(shown_v) == values.min()
    assert shown_t[0] == ms[0] / 1000 and shown_t[-1] == ms[-1] / 1000
    page.evaluate(f"() => window.portalChart.show({ms[100] / 1000}, {ms[199] / 1000}, 'zoom')")
    wait_drawn(page, 2)
    shown_t, shown_v = page.evaluate("() => window.portalChart.data")
    assert shown_t == (ms[100:200] / 1000).tolist() and shown_v == values[100:200].tolist()
    rows = page.eval_on_selector_all("#streams tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert [row[:3] for row in rows[1:]] == [["temperature", "numeric", "C"], ["status", "alphanumeric", "—"]]
    assert rows[2][3] == "on"
    page.click("button.stream[data-stream=status]")
    expect(page.locator("#chart-status")).to_have_text("1 text values (no chart)")


def test_keys_are_listed_without_their_secrets(page, portal_server, m2x_data):
    sign_in(page, portal_server.url, m2x_data["master"], api="m2x")
    page.click('#tree .node[data-page="keys"]')
    page.wait_for_selector("#keys")
    rows = page.eval_on_selector_all("#keys tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert {row[0] for row in rows[1:]} == {"Master Key", "Primary Key", "reader"}
    html = page.content()
    for secret in (m2x_data["master"], m2x_data["reader"], m2x_data["device_key"]):
        assert secret not in html
    assert f"…{m2x_data['reader'][-4:]}" in {row[1] for row in rows[1:]}
    page.click('#tree .node[data-page="commands"]')
    page.wait_for_selector("#commands")
    rows = page.eval_on_selector_all("#commands tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert rows[1][:3] == [HOSTILE, rows[1][1], "2"]


def test_hostile_m2x_names_render_as_text(page, portal_server, m2x_data):
    sign_in(page, portal_server.url, m2x_data["master"], api="m2x")
    page.click(f'#tree .node[data-device="{m2x_data["hostile"]["id"]}"]')
    expect(page.locator("#resource-name")).to_have_text(HOSTILE)
    page.wait_for_selector("#device-commands")
    cells = page.eval_on_selector_all("#device-commands td", "cells => cells.map(c => c.textContent)")
    assert cells[0] == HOSTILE
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    assert page.dialogs == []


def test_a_device_key_sees_only_its_device(page, portal_server, m2x_data):
    url = portal_server.url
    sign_in(page, url, m2x_data["device_key"], api="m2x")
    assert tree_names(page) == ["thermostat"]
    assert "…" + m2x_data["device_key"][-4:] in page.text_content("#device-fields")
    assert m2x_data["device_key"] not in page.content()
    for path in ("keys", "commands", f"device?id={m2x_data['hostile']['id']}",
                 f"chart?device={m2x_data['hostile']['id']}&stream=x"):
        assert page.request.get(f"{url}/portal/api/m2x/{path}").status == 403
    # another account's device is not found, as through /v2
    assert page.request.get(f"{url}/portal/api/m2x/device?id={m2x_data['other']['id']}").status == 403


def test_a_master_key_never_reaches_another_account(page, portal_server, m2x_data):
    url = portal_server.url
    sign_in(page, url, m2x_data["master"], api="m2x")
    answer = page.request.get(f"{url}/portal/api/m2x/device?id={m2x_data['other']['id']}")
    assert answer.status == 404 and answer.json()["error"] == "M2X answered: Device not found"
    assert page.request.get(f"{url}/portal/api/m2x/chart?device={m2x_data['other']['id']}&stream=x").status == 404
    devices = page.request.get(f"{url}/portal/api/m2x/devices").json()["devices"]
    assert {d["id"] for d in devices} == {m2x_data["thermostat"]["id"], m2x_data["hostile"]["id"]}


def test_a_wrong_key_is_refused_and_makes_no_account(page, portal_server, m2x_data):
    wrong = "f" * 32
    page.goto(portal_server.url + "/portal/")
    page.select_option("#signin-api", "m2x")
    page.fill("#signin-credential", wrong)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-error")).not_to_be_empty()
    assert page.text_content("#signin-error") == "That API key does not sign in to M2X."
    assert page.is_hidden("#app") and page.context.cookies() == []
    assert wrong not in portal_server.store.m2x.keys
    assert page.request.get(portal_server.url + "/portal/api/m2x/devices").status == 401
