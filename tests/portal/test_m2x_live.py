"""M2X stream pages live and downloadable: every write path of the API wakes
an open stream's events after its commit, the chart in Chromium shows a
value posted through the m2x client, a CSV range equals what GET values
answers, and M2X's access check decides before each update (a key deleted,
a device deleted, another device's stream: no events, no CSV)."""
import csv
import io
import time

import orjson
import pytest
import urllib3
from portal_helpers import HOSTILE, http_sign_in, iso, read_event

from pyonep_fast.m2x.client import M2XClient
from pyonep_fast.server.portal.browser import sign_in, wait_drawn

START_MS = 1_600_000_000_000
STEP_MS = 1250               # not whole seconds: times keep their milliseconds
KEEPALIVE_SECONDS = 0.2      # of the portal's event streams, in the test that waits for one


@pytest.fixture
def http():
    with urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30)) as pool:
        yield pool


class Account:
    """A fresh M2X account on the portal's server, called over /v2."""

    def __init__(self, http, url):
        self.http, self.url = http, url
        self.key = orjson.loads(http.request("POST", url + "/_fixtures/m2x/accounts").data)["key"]

    def call(self, method, path, body=None, key=None):
        answer = self.http.request(method, self.url + "/v2" + path, headers={"X-M2X-KEY": key or self.key},
                                   body=None if body is None else orjson.dumps(body))
        assert answer.status in (200, 201, 202, 204), answer.data
        return orjson.loads(answer.data) if answer.data else None

    def device(self, name):
        return self.call("POST", "/devices", {"name": name, "visibility": "private"})

    def values(self, device, stream, start, end):
        """[(timestamp, value)] oldest first, as GET .../values answers them."""
        query = f"start={iso(start)}&end={iso(end)}&limit=10000"
        found = self.call("GET", f"/devices/{device['id']}/streams/{stream}/values?{query}")["values"]
        return [(item["timestamp"], item["value"]) for item in reversed(found)]


@pytest.fixture
def account(http, portal_server):
    return Account(http, portal_server.url)


def open_events(http, url, headers, device, stream):
    events = http.request("GET", f"{url}/portal/api/m2x/events?device={device['id']}&stream={stream}",
                          headers=headers, preload_content=False)
    assert events.status == 200, events.data
    assert events.readline() == b": live\n"        # watching from here on
    return events


def next_update(events):
    name, data = read_event(events)
    assert name == "message"
    return orjson.loads(data)


def test_every_write_path_wakes_the_streams_live_events(http, portal_server, account):
    url = portal_server.url
    device = account.device("meter")
    base = f"/devices/{device['id']}"
    account.call("PUT", base + "/streams/level", {"type": "numeric"})
    events = open_events(http, url, http_sign_in(http, url, account.key, "m2x"), device, "level")

    account.call("PUT", base + "/streams/level/value", {"timestamp": iso(START_MS), "value": 1.5})
    assert next_update(events) == {"count": 1, "points": [[START_MS / 1000, 1.5]], "changed": False}
    account.call("POST", base + "/streams/level/values", {"values": [
        {"timestamp": iso(START_MS + 1), "value": 2}, {"timestamp": iso(START_MS + 2), "value": 3}]})
    assert next_update(events)["points"] == [[(START_MS + 1) / 1000, 2.0], [(START_MS + 2) / 1000, 3.0]]
    account.call("POST", base + "/updates", {"values": {"other": [{"timestamp": iso(START_MS), "value": 9}],
                                                        "level": [{"timestamp": iso(START_MS + 3), "value": 4}]}})
    assert next_update(events)["points"] == [[(START_MS + 3) / 1000, 4.0]]      # its own stream's values only
    account.call("POST", base + "/update", {"timestamp": iso(START_MS + 4), "values": {"level": 5, "other": 6}})
    assert next_update(events)["points"] == [[(START_MS + 4) / 1000, 5.0]]
    account.call("PUT", base + "/streams/level/value", {"timestamp": iso(START_MS + 5), "value": 6},
                 key=device["key"])                                            # the device's own key
    assert next_update(events)["points"] == [[(START_MS + 5) / 1000, 6.0]]
    account.call("DELETE", base + "/streams/level/values", {"from": iso(START_MS), "end": iso(START_MS + 1)})
    assert next_update(events) == {"count": 0, "points": [], "changed": True}
    account.call("DELETE", base + "/streams/level")
    assert read_event(events) == ("end", b"{}")
    assert read_event(events) is None


def test_a_key_deleted_or_limited_or_a_device_deleted_ends_the_open_stream(http, portal_server, account):
    url = portal_server.url
    device = account.device("meter")
    account.call("PUT", f"/devices/{device['id']}/streams/level/value", {"value": 1})
    reader = account.call("POST", "/keys", {"name": "reader", "permissions": ["GET"]})["key"]
    reader_session = http_sign_in(http, url, reader, "m2x")
    by_reader = open_events(http, url, reader_session, device, "level")
    by_master = open_events(http, url, http_sign_in(http, url, account.key, "m2x"), device, "level")
    writer = account.call("POST", "/keys", {"name": "writer", "permissions": ["GET", "POST"]})["key"]
    by_writer = open_events(http, url, http_sign_in(http, url, writer, "m2x"), device, "level")
    account.call("PUT", f"/keys/{writer}", {"name": "writer", "permissions": ["POST"]})     # GET taken away
    assert read_event(by_writer) == ("end", b"{}")
    account.call("DELETE", f"/keys/{reader}")           # no value written: the key's change wakes its streams
    assert read_event(by_reader) == ("end", b"{}")
    assert read_event(by_reader) is None
    answer = http.request("GET", f"{url}/portal/api/m2x/devices", headers=reader_session)
    assert answer.status == 401 and "no longer" in orjson.loads(answer.data)["error"]      # M2X's 401 ends it
    assert http.request("GET", f"{url}/portal/api/session", headers=reader_session).status == 401
    account.call("DELETE", f"/devices/{device['id']}")
    assert read_event(by_master) == ("end", b"{}")
    assert read_event(by_master) is None


def stream_of_a_key_expiring_soon(http, url, account, device, stream):
    """(open live stream of the device's stream, signed in with a GET key that
    expires a second after it was made; the key's expires_at in epoch ms). On a
    machine too slow to sign in and open the stream within that second, again
    with a key given twice as long."""
    ahead_ms = 1000
    while True:
        expires_ms = int(time.time() * 1000) + ahead_ms
        key = account.call("POST", "/keys", {"name": "brief", "permissions": ["GET"],
                                             "expires_at": iso(expires_ms)})["key"]
        signed_in = http.request("POST", url + "/portal/api/session", headers={"Origin": url},
                                 body=orjson.dumps({"api": "m2x", "credential": key}))
        if signed_in.status == 200:
            cookie = {"Cookie": signed_in.headers["Set-Cookie"].split(";")[0]}
            events = http.request("GET", f"{url}/portal/api/m2x/events?device={device['id']}&stream={stream}",
                                  headers=cookie, preload_content=False)
            if events.status == 200:
                assert events.readline() == b": live\n"
                return events, expires_ms
        assert time.time() * 1000 >= expires_ms, "refused before the key expired"
        ahead_ms *= 2


def test_a_key_that_expires_ends_its_open_stream_within_the_keepalive(http, portal_server, account, monkeypatch):
    """Nothing is written and the key is not changed: only the clock takes its access away."""
    monkeypatch.setattr(portal_server.store.portal, "keepalive_seconds", KEEPALIVE_SECONDS)
    device = account.device("meter")
    account.call("PUT", f"/devices/{device['id']}/streams/level/value", {"value": 1})
    events, expires_ms = stream_of_a_key_expiring_soon(http, portal_server.url, account, device, "level")
    assert read_event(events) == ("end", b"{}")      # read_event fails after 10 s without it
    assert time.time() * 1000 >= expires_ms
    assert read_event(events) is None


def test_a_device_key_opens_neither_events_nor_csv_of_another_device(http, portal_server, account):
    url = portal_server.url
    mine, theirs = account.device("mine"), account.device("theirs")
    elsewhere = Account(http, url).device("elsewhere")
    for device in (mine, theirs):
        account.call("PUT", f"/devices/{device['id']}/streams/level/value", {"value": 1})
    headers = http_sign_in(http, url, mine["key"], "m2x")
    open_events(http, url, headers, mine, "level").close()                        # its own device's: open
    assert http.request("GET", f"{url}/portal/api/m2x/csv?device={mine['id']}&stream=level",
                        headers=headers).status == 200
    for what in ("events", "csv"):
        for device in (theirs, elsewhere):
            answer = http.request("GET", f"{url}/portal/api/m2x/{what}?device={device['id']}&stream=level",
                                  headers=headers)
            assert answer.status == 403 and orjson.loads(answer.data)["error"].startswith("M2X answered: ")
    answer = http.request("GET", f"{url}/portal/api/m2x/csv?device={mine['id']}&stream=level")
    assert answer.status == 401                         # and nothing without a session


def test_csv_of_a_text_stream_equals_its_values(http, portal_server, account):
    """Text quoted as CSV needs, times before 1970 and after, the whole stream and a range."""
    url = portal_server.url
    device = account.device("log")
    texts = [HOSTILE, 'say "hi", then\nleave', "plain", "ünïcödé, too"]
    stamps = [-86_400_123, START_MS, START_MS + 1, START_MS + 2]
    account.call("POST", f"/devices/{device['id']}/streams/log/values",
                 {"values": [{"timestamp": iso(t), "value": v} for t, v in zip(stamps, texts)]})
    headers = http_sign_in(http, url, account.key, "m2x")
    for query, start, end in (("", stamps[0], stamps[-1]), (f"&start={-86400.123}&end={START_MS / 1000}",
                                                             stamps[0], stamps[1])):
        answer = http.request("GET", f"{url}/portal/api/m2x/csv?device={device['id']}&stream=log{query}",
                              headers=headers)
        assert answer.status == 200 and answer.headers["Content-Type"] == "text/csv; charset=utf-8"
        rows = list(csv.reader(io.StringIO(answer.data.decode())))
        assert rows[0] == ["timestamp", "value"]
        assert [tuple(row) for row in rows[1:]] == account.values(device, "log", start, end)
    assert rows[1][0] == "1969-12-30T23:59:59.877Z"


def test_a_value_posted_through_the_m2x_client_appears_on_the_open_stream_chart(page, portal_server, account):
    client = M2XClient(account.key, endpoint=portal_server.url)
    stream = client.create_device(name="meter", visibility="private").create_stream("power", type="numeric")
    stream.post_values([{"timestamp": iso(START_MS + STEP_MS * i), "value": float(i % 7)} for i in range(300)])
    sign_in(page, portal_server.url, account.key, api="m2x")
    wait_drawn(page, 1)
    page.wait_for_selector("#live-value[data-state=open]", state="attached")
    newest = START_MS + STEP_MS * 400 + 7
    stream.add_value(42.5, iso(newest))
    page.wait_for_function(f"() => window.portalChart.data[0].includes({newest / 1000})")
    shown_t, shown_v = page.evaluate("() => window.portalChart.data")
    assert (shown_t[-1], shown_v[-1]) == (newest / 1000, 42.5) and len(shown_t) == 301
    assert page.text_content("#live-value") == f"live: 42.5 at {iso(newest)}"


def test_the_first_value_posted_to_an_empty_stream_draws_its_chart(page, portal_server, account):
    device = account.device("meter")
    base = f"/devices/{device['id']}/streams/power"
    account.call("PUT", base, {"type": "numeric"})
    sign_in(page, portal_server.url, account.key, api="m2x")
    page.wait_for_selector("#live-value[data-state=open]", state="attached")      # watching from here on
    assert page.text_content("#chart-status") == "No points yet." and page.is_hidden("#chart")
    account.call("PUT", base + "/value", {"timestamp": iso(START_MS), "value": 7.5})
    page.wait_for_function(f"() => window.portalChart && window.portalChart.data && "
                           f"window.portalChart.data[0].includes({START_MS / 1000})")
    assert page.evaluate("() => window.portalChart.data") == [[START_MS / 1000], [7.5]] and page.is_visible("#chart")
    account.call("PUT", base + "/value", {"timestamp": iso(START_MS + STEP_MS), "value": 8})   # the next ones follow
    page.wait_for_function(f"() => window.portalChart.data[0].includes({(START_MS + STEP_MS) / 1000})")
    assert page.evaluate("() => window.portalChart.data") == [[START_MS / 1000, (START_MS + STEP_MS) / 1000], [7.5, 8]]


def test_csv_download_of_the_shown_range_equals_get_values(page, portal_server, account):
    device = account.device("meter")
    points = [(START_MS + STEP_MS * i, round(i * 0.1 - 20, 3)) for i in range(3000)]
    account.call("POST", f"/devices/{device['id']}/streams/power/values",
                 {"values": [{"timestamp": iso(t), "value": v} for t, v in points]})
    sign_in(page, portal_server.url, account.key, api="m2x")
    wait_drawn(page, 1)
    first, last = points[100][0], points[1099][0]
    page.evaluate(f"() => window.portalChart.show({first / 1000}, {last / 1000}, 'zoom')")
    wait_drawn(page, 2)
    with page.expect_download() as download:
        page.click("#csv")
    rows = list(csv.reader(io.StringIO(open(download.value.path()).read())))
    assert rows[0] == ["timestamp", "value"] and len(rows) == 1 + 1000
    assert [(t, float(v)) for t, v in rows[1:]] == account.values(device, "power", first, last)
