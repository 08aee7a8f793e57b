"""Shared by the EXP tests (tests/exp/)."""
import threading

import orjson

SCALA_USER = {"username": "test@goexp.io", "password": "test-Password1", "organization": "scala"}
SCALA_DEVICE = {"uuid": "test-uuid", "secret": "test-secret"}
SCALA_CONSUMER = {"uuid": "test-uuid", "api_key": "test-api-key"}


def network_threads():
    """The SDK's threads: the shared network loop and its auth executor."""
    return [thread for thread in threading.enumerate() if thread.name.startswith("exp-sdk")]


def new_organization(server, http):
    response = http.request("POST", server.url + "/api/fixtures/organizations")
    assert response.status == 200, response.data
    return orjson.loads(response.data)
