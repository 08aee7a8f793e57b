"""EXP in the portal, in headless Chromium: a user of the seeded `scala`
organization signs in with username, password and organization, sees its
devices and content, and watches its network traffic live; another
organization's broadcasts never reach that view."""
import re

import orjson
import pytest
import urllib3
from exp_helpers import SCALA_DEVICE, SCALA_USER, network_threads
from playwright.sync_api import expect
from portal_helpers import HOSTILE

import pyonep_fast.exp as exp_sdk
from pyonep_fast.server.portal.browser import sign_in


@pytest.fixture
def sdk(portal_server):
    """sdk(**credentials): a started EXP SDK instance on the portal's server, stopped after the test."""
    yield lambda **credentials: exp_sdk.start(host=portal_server.url, **credentials)
    exp_sdk.stop()
    assert network_threads() == []


@pytest.fixture
def other_organization(portal_server):
    with urllib3.PoolManager() as http:
        answer = http.request("POST", portal_server.url + "/api/fixtures/organizations")
    assert answer.status == 200
    return orjson.loads(answer.data)


def cells(page, selector):
    return page.eval_on_selector_all(f"{selector} tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def test_a_user_sees_the_fixture_devices_and_content(page, portal_server):
    sign_in(page, portal_server.url, SCALA_USER, api="exp")
    assert page.text_content("#who") == "EXP: test@goexp.io (scala)"
    page.wait_for_selector("#devices")
    rows = cells(page, "#devices")
    assert rows[0] == ["name", "uuid", "secret", "subtype"]
    test_device = next(row for row in rows[1:] if row[1] == SCALA_DEVICE["uuid"])
    assert test_device[0] == "Test device" and test_device[2] == "…" + SCALA_DEVICE["secret"][-4:]
    assert SCALA_DEVICE["secret"] not in page.content()
    page.click('#tree .node[data-page="content"]')
    page.wait_for_selector("#content-tree")
    paths = page.eval_on_selector_all("#content-tree li", "items => items.map(i => i.dataset.path)")
    assert {"/scala/Folder 1", "/scala/Folder 1/image.png", "/scala/Folder 1/Sub folder/readme.txt",
            "/scala/Player/index.html"} <= set(paths)
    assert page.evaluate("document.querySelectorAll('#signin-form input').length") == 4   # the fields stay empty
    assert page.evaluate("[...document.querySelectorAll('#signin-form input')].every(i => i.value === '')")


def test_broadcasts_of_the_organization_appear_live_and_no_other(page, portal_server, sdk, other_organization):
    sign_in(page, portal_server.url, SCALA_USER, api="exp")
    page.click('#tree .node[data-page="traffic"]')
    expect(page.locator("#traffic-status")).to_have_text(re.compile("^live"))
    scala = sdk(**SCALA_DEVICE)
    other = sdk(**other_organization["device"])
    other.get_channel("portal channel").broadcast("secret-plan", {"from": "elsewhere"}, timeout=0)
    scala.get_channel("portal channel").broadcast("hello", {"n": 1, "text": HOSTILE}, timeout=0)
    scala.get_channel(HOSTILE).broadcast("hello", {"n": 2}, timeout=0)
    page.wait_for_function("() => document.querySelectorAll('#traffic tr.message').length >= 2")
    log = cells(page, "#traffic")[1:]
    assert [row[1:] for row in log] == [[HOSTILE, "hello", '{"n":2}'],
                                        ["portal channel", "hello", orjson.dumps({"n": 1, "text": HOSTILE}).decode()]]
    assert sorted(cells(page, "#traffic-channels")[1:]) == [[HOSTILE, "1"], ["portal channel", "1"]]
    assert "elsewhere" not in page.content() and "secret-plan" not in page.content()
    assert page.dialogs == []


def test_a_wrong_password_or_organization_is_refused(page, portal_server, other_organization):
    page.goto(portal_server.url + "/portal/")
    page.select_option("#signin-api", "exp")
    for organization, password in ((SCALA_USER["organization"], "wrong"),
                                   (other_organization["organization"], SCALA_USER["password"])):
        page.fill("#signin-username", SCALA_USER["username"])
        page.fill("#signin-password", password)
        page.fill("#signin-organization", organization)
        page.click("#signin-form button[type=submit]")
        expect(page.locator("#signin-error")).not_to_be_empty()
        assert page.text_content("#signin-error") == "That user does not sign in to EXP."
        page.evaluate("document.getElementById('signin-error').textContent = ''")
    assert page.is_hidden("#app") and page.context.cookies() == []
    assert page.request.get(portal_server.url + "/portal/api/exp/devices").status == 401
