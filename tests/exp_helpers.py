"""Shared by the EXP tests (tests/exp/)."""
import threading
import time

import orjson

SCALA_USER = {"username": "test@goexp.io", "password": "test-Password1", "organization": "scala"}
SCALA_DEVICE = {"uuid": "test-uuid", "secret": "test-secret"}
SCALA_CONSUMER = {"uuid": "test-uuid", "api_key": "test-api-key"}


def network_threads():
    """The SDK's threads: the shared network loop and its auth executor."""
    return [thread for thread in threading.enumerate() if thread.name.startswith("exp-sdk")]


def eventually(condition, timeout=10.0, interval=0.01):
    """Polls condition() until it is truthy (returned) or the deadline passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(interval)


def new_organization(server, http):
    response = http.request("POST", server.url + "/api/fixtures/organizations")
    assert response.status == 200, response.data
    return orjson.loads(response.data)
