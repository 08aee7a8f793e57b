"""CSV downloads while the series is written: the portal's server writes a
download in steps of a few hundred points here, and between two steps runs
writes made through the APIs themselves (RPC, /v2), so each lands at a
known point of the download. Every point is in the file exactly once, a
rewritten or new chunk included; a series no longer readable fails the
download instead of ending it short."""
import asyncio
import csv
import io

import orjson
import pytest
import urllib3
from portal_helpers import RETAIN, http_sign_in, iso, new_client, rpc

STEP_POINTS = 700
START = 1_500_000_000
BATCH = 5000                 # points per record call: a stored chunk each (more than a small chunk's)
START_MS = 1_600_000_000_000
STEP_MS = 1250


class WritesBetweenSteps:
    """The portal's exports.between_steps: after step n of a download, runs
    writes[n]() (blocking calls to the server) in a thread while the
    download waits; what a write raised is kept in `errors`."""

    def __init__(self, writes):
        self.writes = writes
        self.steps = 0
        self.errors = []

    async def __call__(self):
        self.steps += 1
        write = self.writes.get(self.steps)
        if write is not None:
            try:
                await asyncio.to_thread(write)
            except Exception as exc:     # shown by the test
                self.errors.append(exc)


@pytest.fixture
def http():
    with urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30)) as pool:
        yield pool


@pytest.fixture
def writer():
    """A connection pool of the writes run between steps (in their own thread)."""
    with urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30)) as pool:
        yield pool


@pytest.fixture
def between_steps(portal_server, monkeypatch):
    """between_steps(writes): downloads of the portal's server go STEP_POINTS at a time, with those writes."""
    exports = portal_server.store.portal.exports
    monkeypatch.setattr(exports, "step_points", STEP_POINTS)

    def install(writes):
        hook = WritesBetweenSteps(writes)
        monkeypatch.setattr(exports, "between_steps", hook)
        return hook
    return install


def csv_rows(data):
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["timestamp", "value"]
    return rows[1:]


def test_a_download_has_every_point_once_while_chunks_are_rewritten_and_added(http, writer, portal_server,
                                                                              between_steps):
    url = portal_server.url
    cik = new_client(url)["cik"]
    port = rpc(http, url, cik, "create", "dataport", {"format": "integer", "retention": RETAIN})
    expected = {}
    for batch in range(4):                   # 4 chunks: [START, START + 2, ...] with values 0, 1, ...
        points = [[START + 2 * i, i] for i in range(batch * BATCH, (batch + 1) * BATCH)]
        rpc(http, url, cik, "record", port, points)
        expected.update(points)

    def record(points, ahead=True):
        """Stores points; those ahead of the download are in its file, with these values."""
        rpc(writer, url, cik, "record", port, points)
        if ahead:
            expected.update(points)

    def behind_and_in_the_third_chunk():
        record([[START + 2 * i, -1] for i in range(300, 400)], ahead=False)      # written: their first values
        record([[START + 2 * i, 10 ** 6 + i] for i in range(10_000, 10_100)]     # new values at stored times
               + [[START + 2 * i + 1, -i] for i in range(12_000, 12_050)])       # and new times between them
    hook = between_steps({1: behind_and_in_the_third_chunk,
                          3: lambda: record([[START + 2 * 2500, 42]]),           # the chunk being read
                          10: lambda: record([[START + 100_000 + i, i] for i in range(BATCH)])})   # after the newest
    answer = http.request("GET", f"{url}/portal/api/onep/csv?rid={port}", headers=http_sign_in(http, url, cik))
    assert answer.status == 200 and hook.errors == []
    assert hook.steps > 10
    assert [(int(t), int(v)) for t, v in csv_rows(answer.data)] == sorted(expected.items())


def test_a_download_fails_when_its_series_goes_away(http, writer, portal_server, between_steps):
    url = portal_server.url
    cik = new_client(url)["cik"]
    port = rpc(http, url, cik, "create", "dataport", {"format": "float", "retention": RETAIN})
    rpc(http, url, cik, "record", port, [[START + i, i / 4] for i in range(BATCH)])
    hook = between_steps({2: lambda: rpc(writer, url, cik, "drop", port)})
    answer = http.request("GET", f"{url}/portal/api/onep/csv?rid={port}", headers=http_sign_in(http, url, cik),
                          preload_content=False)
    assert answer.status == 200
    with pytest.raises(urllib3.exceptions.ProtocolError):    # the body has no end: no file that looks whole
        answer.read()
    assert hook.errors == [] and hook.steps == 2


class M2X:
    """A fresh M2X account's device, called over /v2."""

    def __init__(self, http, url):
        self.http, self.url = http, url
        self.key = orjson.loads(http.request("POST", url + "/_fixtures/m2x/accounts").data)["key"]
        self.device = self.call(http, "POST", "/devices", {"name": "meter", "visibility": "private"})["id"]

    def call(self, http, method, path, body=None, key=None):
        answer = http.request(method, self.url + "/v2" + path, headers={"X-M2X-KEY": key or self.key},
                              body=None if body is None else orjson.dumps(body))
        assert answer.status in (200, 201, 202, 204), answer.data
        return orjson.loads(answer.data) if answer.data else None

    def post(self, http, points):
        self.call(http, "POST", f"/devices/{self.device}/streams/level/values",
                  {"values": [{"timestamp": iso(t), "value": v} for t, v in points]})


def test_an_m2x_download_has_every_value_once_while_values_are_posted(http, writer, portal_server, between_steps):
    url = portal_server.url
    m2x = M2X(http, url)
    expected = {}
    for batch in range(3):
        points = [(START_MS + STEP_MS * i, float(i)) for i in range(batch * 1000, (batch + 1) * 1000)]
        m2x.post(http, points)
        expected.update(points)

    def post(points):
        m2x.post(writer, points)
        expected.update(points)
    hook = between_steps({1: lambda: post([(START_MS + STEP_MS * i, -0.5) for i in range(1500, 1600)]),
                          2: lambda: post([(START_MS + STEP_MS * 5000 + i, 1.25) for i in range(10)])})
    reader = m2x.call(http, "POST", "/keys", {"name": "reader", "permissions": ["GET"]})["key"]
    answer = http.request("GET", f"{url}/portal/api/m2x/csv?device={m2x.device}&stream=level",
                          headers=http_sign_in(http, url, reader, "m2x"))
    assert answer.status == 200 and hook.errors == []
    assert [(t, float(v)) for t, v in csv_rows(answer.data)] == [(iso(t), v) for t, v in sorted(expected.items())]

    second = m2x.call(http, "POST", "/keys", {"name": "second", "permissions": ["GET"]})["key"]
    headers = http_sign_in(http, url, second, "m2x")
    hook = between_steps({1: lambda: m2x.call(writer, "DELETE", f"/keys/{second}")})
    answer = http.request("GET", f"{url}/portal/api/m2x/csv?device={m2x.device}&stream=level", headers=headers,
                          preload_content=False)
    assert answer.status == 200
    with pytest.raises(urllib3.exceptions.ProtocolError):    # the key is gone: the download fails
        answer.read()
    assert hook.errors == [] and hook.steps == 1
