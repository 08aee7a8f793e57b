"""`ExpUser`: a Locust user whose `client` is an EXP SDK instance
(pyonep_fast.exp, `exp_sdk` 5.0.0) logged in as its own device.

Every REST request of the instance (its login included) is one Locust
request of type "EXP" named by its endpoint template (`GET
/api/devices/{uuid}`), timed from the request's first byte to the
response's last; a 4xx/5xx answer is a failure (the SDK raises ApiError as
usual, after it is recorded). `self.broadcast(channel, name, ...)` is
reported as one request "broadcast NAME": its time is the broadcast's round
trip, responses included (the server collects them for `timeout` seconds),
its context holds the number of responses, and fewer than `expect` is a
failure.

`self.device` is the simulated device {uuid, secret}: created on first use
in an organization of this process (made through the server's fixture
endpoint, whose user creates the devices), or dealt from a fleet file of
such JSON lines (`fleet_file`, or the run option `fleet`); devices of one
fleet share an organization, hence channels.

The SDK's real-time network (`network = True`) runs every instance's
socket on one event-loop thread. Under Locust that thread is a greenlet
(gevent patches threading) whose asyncio loop waits in gevent's selector,
so it yields to the users and they to it (tests/loadtest/test_exp.py).
"""
import concurrent.futures
import threading
import time
from typing import Any, NamedTuple

import gevent

from .. import exp as exp_sdk
from ..exceptions import PyonepFastError
from . import events
from .fleet import FleetError, FleetUser, base_url, fixture_credential, fleet_failure, proxy_for

ORGANIZATIONS_PATH = "/api/fixtures/organizations"
CONNECT_WAIT = 30.0  # seconds a user waits for its instance's socket


class ExpDevice(NamedTuple):
    uuid: str
    secret: str


def create_organization(url):
    """The user credentials of a fresh organization (the server's fixture endpoint)."""
    return fixture_credential(url, ORGANIZATIONS_PATH, 200, "create an EXP organization", "user",
                              " (a server started with --no-exp-fixtures has no fixtures)")


def _start(url, **credentials):
    base = base_url(url)
    try:
        return exp_sdk.start(host=base, transport_options={"proxy": proxy_for(base)}, **credentials)
    except PyonepFastError as exc:
        raise fleet_failure("log in to EXP", base_url(url), exc) from None


def create_device(user):
    """A device of the user's organization, with its secret."""
    try:
        document = user.create_device({"name": "loadtest device"}).document
        return ExpDevice(document["uuid"], document["secret"])
    except (PyonepFastError, KeyError, TypeError) as exc:
        raise fleet_failure("create an EXP device", user._sdk.api.base_url, exc) from None


_organizations: dict[str, Any] = {}  # base URL -> the user instance of this process's organization
_organizations_lock = threading.Lock()


def process_user(url):
    """An instance logged in as the user of this process's organization at `url` (made once)."""
    with _organizations_lock:
        if url not in _organizations:
            _organizations[url] = _start(url, enable_network=False, **create_organization(url))
        return _organizations[url]


def _judge_broadcast(expect):
    def judge(responses):
        count = len(responses) if isinstance(responses, list) else 0
        if count < expect:
            return events.RequestFailed(f"{count} of {expect} responses within the timeout"), {"responses": count}
        return None, {"responses": count}
    return judge


class ExpUser(FleetUser):
    """A simulated EXP device: `self.client` (its Exp instance, started on
    first use) and `self.device` (ExpDevice)."""

    abstract = True
    record = ExpDevice
    #: start the instance's real-time network (channels, listeners)
    network = True

    def __init__(self, environment):
        super().__init__(environment)
        self._client = None

    @property
    def client(self):
        if self._client is None:
            device = self.device
            try:
                self._client = _start(self.url, uuid=device.uuid, secret=device.secret,
                                      enable_network=self.network)
            except FleetError as exc:
                self._fail_fast(exc)
        return self._client

    def wait_connected(self, timeout=CONNECT_WAIT):
        """Wait until the instance's socket is connected (True), or `timeout` seconds (False)."""
        deadline = time.monotonic() + timeout
        while not self.client.is_connected:
            if time.monotonic() > deadline:
                return False
            gevent.sleep(0.02)
        return True

    def broadcast(self, channel, name, payload=None, timeout=0.1, expect=0):
        """channel.broadcast(name, payload, timeout) reported as "broadcast NAME"; the responses."""
        return self.reporter.measure("EXP", f"broadcast {name}", _judge_broadcast(expect), channel.broadcast,
                                     name, payload, timeout)

    def new_device(self):
        return create_device(process_user(self.url))

    @classmethod
    def create_device(cls, url):
        user = _start(url, enable_network=False, **create_organization(url))
        try:
            return create_device(user)
        finally:
            user.stop()

    @classmethod
    def create_fleet(cls, url, count, parallel=8):
        """`count` devices of one fresh organization, `parallel` at a time."""
        user = _start(url, enable_network=False, **create_organization(url))
        try:
            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                return list(pool.map(lambda _: create_device(user), range(count)))
        finally:
            user.stop()

    @classmethod
    def check_device(cls, url, device):
        """The fleet's first device logs in."""
        _start(url, uuid=device.uuid, secret=device.secret, enable_network=False).stop()

    def on_stop(self):
        if self._client is not None:
            try:
                self._client.stop()
            except exp_sdk.RuntimeError:  # stopped already
                pass
