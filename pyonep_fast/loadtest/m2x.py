"""`M2XUser`: a Locust user whose `client` is pyonep_fast's `M2XClient`,
holding its own device key.

Every HTTP request of the client is one Locust request of type "M2X" named
by its endpoint template (`POST /v2/devices/{id}/streams/{name}/values`),
timed from the request's first byte to the response's last; a 4xx/5xx
answer is a failure (the client raises HTTPError as usual, after it is
recorded).

`self.device` is the simulated device: {key, device, stream}, a device key
(permissions GET/POST/PUT/DELETE, bound to its device) with one stream.
It is created on first use under an account of this process (made through
the server's fixture endpoint), or dealt from a fleet file of such JSON
lines (`fleet_file`, or the run option `fleet`). `self.stream` is that
stream as the client's Stream object, built without a request.
"""
import concurrent.futures
import contextlib
import threading
from typing import NamedTuple


from .. import transport
from ..exceptions import PyonepFastError
from ..m2x.client import M2XClient
from ..m2x.v2.devices import Device
from ..m2x.v2.streams import Stream
from .fleet import FleetUser, base_url, fixture_credential, fleet_failure, proxy_for

STREAM = "value"
DEVICE_KEY = {"name": "loadtest device", "permissions": ["GET", "POST", "PUT", "DELETE"]}
ACCOUNTS_PATH = "/_fixtures/m2x/accounts"


class M2XDevice(NamedTuple):
    key: str  # the device key (X-M2X-KEY)
    device: str  # the device id
    stream: str  # its stream's name


def create_account(url):
    """The master key of a fresh account (the server's fixture endpoint)."""
    return fixture_credential(url, ACCOUNTS_PATH, 201, "create an M2X account", "key")


def create_device(master):
    """A device with one stream and its own device key, made with `master`
    (an M2XClient of an account's master key)."""
    try:
        device = master.create_device(name="loadtest device", visibility="private")
        device.create_stream(STREAM)
        key = device.create_key(**DEVICE_KEY)
        return M2XDevice(key.key, device.id, STREAM)
    except (PyonepFastError, AttributeError, KeyError) as exc:
        raise fleet_failure("create an M2X device", master.endpoint, exc) from None


@contextlib.contextmanager
def m2x_client(key, url):
    """An M2XClient of `key` at `url`, its connections closed at the end."""
    base = base_url(url)
    client = M2XClient(key, endpoint=base, timeout=transport.DEFAULT_TIMEOUT, proxy=proxy_for(base))
    try:
        yield client
    finally:
        client.api.close()


_accounts: dict[str, str] = {}  # base URL -> master key of this process's account
_accounts_lock = threading.Lock()


def process_account(url):
    """The master key of this process's account at `url` (made once)."""
    with _accounts_lock:
        if url not in _accounts:
            _accounts[url] = create_account(url)
        return _accounts[url]


class M2XUser(FleetUser):
    """A simulated M2X device: `self.client` (M2XClient with the device's
    own key), `self.device` (M2XDevice) and `self.stream` (its Stream)."""

    abstract = True
    record = M2XDevice

    def __init__(self, environment):
        super().__init__(environment)
        self._client = None
        self._stream = None

    @property
    def client(self):
        if self._client is None:
            base = base_url(self.url)
            self._client = M2XClient(self.device.key, endpoint=base, timeout=transport.DEFAULT_TIMEOUT,
                                     proxy=proxy_for(base))
        return self._client

    @property
    def stream(self):
        if self._stream is None:
            api = self.client.api
            self._stream = Stream(api, Device(api, id=self.device.device), name=self.device.stream)
        return self._stream

    def new_device(self):
        with m2x_client(process_account(base_url(self.url)), self.url) as master:
            return create_device(master)

    @classmethod
    def create_device(cls, url):
        with m2x_client(create_account(url), url) as master:
            return create_device(master)

    @classmethod
    def create_fleet(cls, url, count, parallel=8):
        """`count` devices under one fresh account, `parallel` at a time."""
        with m2x_client(create_account(url), url) as master, \
                concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            return list(pool.map(lambda _: create_device(master), range(count)))

    @classmethod
    def check_device(cls, url, device):
        """The fleet's first device key reads its device."""
        with m2x_client(device.key, url) as client:
            try:
                client.device(device.device)
            except PyonepFastError as exc:
                raise fleet_failure("use the fleet's first device key", base_url(url), exc) from None

    def on_stop(self):
        if self._client is not None:
            self._client.api.close()
