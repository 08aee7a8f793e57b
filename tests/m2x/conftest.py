"""Fixtures of the M2X suites: fresh accounts on the session's embedded
server, a client per test, and the process's local zone pinned where the
upstream quirk (wall clock read as local time) is under test."""
import os
import time

import orjson
import pytest

from pyonep_fast.m2x.client import M2XClient


@pytest.fixture
def new_key(server, http):
    """new_key() -> the master key of a fresh account."""
    def make():
        response = http.request("POST", server.url + "/_fixtures/m2x/accounts")
        assert response.status == 201, response.data
        return orjson.loads(response.data)["key"]
    return make


@pytest.fixture
def client(server, new_key):
    m2x = M2XClient(new_key(), endpoint=server.url)
    yield m2x
    m2x.api.close()


@pytest.fixture
def device(client):
    return client.create_device(name="thermostat", visibility="private")


def _set_zone(zone):
    if zone is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = zone
    time.tzset()


@pytest.fixture
def local_zone():
    """local_zone(tz): the process's local time zone for this test."""
    before = os.environ.get("TZ")
    yield _set_zone
    _set_zone(before)
