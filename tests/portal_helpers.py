"""Data and HTTP helpers of the portal's tests (tests/portal), shared with their conftest."""
import datetime
import time

import numpy as np
import orjson
import urllib3

BIG_POINTS = 1_000_000
BIG_START = 1_600_000_000
HOSTILE = "<script>alert(1)</script>"
RETAIN = {"count": "infinity", "duration": "infinity"}


def big_values():
    """The big dataport's points: a wave with spikes (known extremes)."""
    ts = np.arange(BIG_START, BIG_START + BIG_POINTS, dtype=np.int64)
    vals = np.round(20 + 5 * np.sin(np.arange(BIG_POINTS) / 5000.0), 3)
    vals[123_457] = 99.5
    vals[876_543] = -42.25
    return ts, vals


def new_client(url):
    """A fountain client of the server at url: {"cik", "rid"}."""
    with urllib3.PoolManager() as http:
        return orjson.loads(http.request("GET", url + "/api/create?vendor").data)


def create(client, cik, kind, desc, alias=None):
    """The RID of a resource created (and mapped to alias) through the OnepV1 client."""
    ok, rid = client.create(cik, kind, desc)
    assert ok, rid
    if alias:
        assert client.map(cik, rid, alias)[0]
    return rid


def rpc(http, url, cik, procedure, *arguments):
    """The result of one RPC call by the CIK, which must succeed."""
    answer = http.request("POST", url + "/onep:v1/rpc/process", body=orjson.dumps(
        {"auth": {"cik": cik}, "calls": [{"id": 1, "procedure": procedure, "arguments": list(arguments)}]}))
    [entry] = orjson.loads(answer.data)
    assert entry["status"] == "ok", entry
    return entry.get("result")


def iso(ms):
    """M2X's spelling of a time in epoch milliseconds: ISO 8601 in UTC with milliseconds."""
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def http_sign_in(http, url, credential, api="onep"):
    """Signs in to the portal over plain HTTP (urllib3); the session's Cookie header."""
    answer = http.request("POST", url + "/portal/api/session", headers={"Origin": url},
                          body=orjson.dumps({"api": api, "credential": credential}))
    assert answer.status == 200, answer.data
    return {"Cookie": answer.headers["Set-Cookie"].split(";")[0]}


def read_event(stream, seconds=10.0):
    """The next event of a server-sent event stream: (event name, data bytes),
    None once it ends; comments skipped. Fails when none came within
    `seconds` (keepalive comments, every 15 s, stop a wait for one that never comes)."""
    deadline = time.monotonic() + seconds
    name, data = "message", None
    while True:
        assert time.monotonic() < deadline, "no event came"
        line = stream.readline()
        if not line:
            return None
        line = line.rstrip(b"\n")
        if line.startswith(b":"):
            continue
        if not line:
            if data is not None:
                return name, data
            continue
        field, _, value = line.partition(b": ")
        if field == b"event":
            name = value.decode()
        elif field == b"data":
            data = value
