"""EXP tests run the real SDK against the real embedded server over loopback.

Most tests work in an organization of their own (the fixture endpoint makes
one with a user, a device and a consumer app), so they cannot see each
other's documents or channels; the upstream-style ones use the seeded
`scala` fixtures of spec/exp.md 5.1."""
import pytest

import pyonep_fast.exp as exp_sdk
from exp_helpers import network_threads, new_organization


@pytest.fixture
def org(server, http):
    """A fresh organization: {organization, user, device, consumerApp, host}."""
    return new_organization(server, http)


@pytest.fixture
def start(server):
    """start(**options): exp_sdk.start against the test server; every
    instance is stopped after the test, which checks that no network thread
    outlives it."""
    def starter(**options):
        options.setdefault("host", server.url)
        return exp_sdk.start(**options)
    yield starter
    exp_sdk.stop()
    assert network_threads() == []


@pytest.fixture
def device(org, start):
    return start(**org["device"])


@pytest.fixture
def user(org, start):
    return start(**org["user"])


@pytest.fixture
def consumer(org, start):
    return start(**org["consumerApp"])
