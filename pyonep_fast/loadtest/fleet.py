"""What every API's Locust user shares: a simulated device's credentials,
created in the user or dealt from a prepared fleet file, and the one clear
line that ends a run whose fleet cannot be had.

An API's user class names its device record (a NamedTuple: the fields of
one fleet-file line) and supplies three class methods: `create_device(url)`
(one fresh device), `create_fleet(url, count)` (many, as cheaply as the
API allows) and `check_device(url, device)` (the server accepts a fleet's
credentials). Everything else is here.
"""
import itertools
import logging
from typing import Any
from urllib.parse import urlsplit

import gevent
import orjson
from locust import User
from locust.exception import StopUser
from locust.runners import WorkerRunner

from .. import transport
from ..exceptions import PyonepFastError
from . import events, options

log = logging.getLogger(__name__)


class FleetError(PyonepFastError):
    """A simulated device could not be created or loaded."""


def base_url(url):
    """scheme://host:port of an http(s) URL, or FleetError."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FleetError(f"not an http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


_proxies: dict[str, Any] = {}  # base URL -> the Transport `proxy` for it


def proxy_for(base):
    """Transport's `proxy` for `base`: the environment's proxy (False: none),
    looked up once per process: the lookup reads the whole environment, a
    millisecond per client of each of thousands of users."""
    if base not in _proxies:
        _proxies[base] = transport.env_proxy(base) or False
    return _proxies[base]


def load_fleet(path, record):
    """The devices (`record` NamedTuples) of a fleet file of JSON lines."""
    try:
        with open(path, "rb") as file:
            devices = [record(**{field: line[field] for field in record._fields})
                       for line in map(orjson.loads, filter(bytes.strip, file))]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FleetError(f"cannot read the fleet file {path}: {exc}") from None
    if not devices:
        raise FleetError(f"the fleet file {path} holds no devices")
    return devices


def save_fleet(path, devices):
    with open(path, "wb") as file:
        for device in devices:
            file.write(orjson.dumps(device._asdict()) + b"\n")


_fleets: dict[tuple[str, Any], tuple[list[Any], itertools.count]] = {}  # (path, record) -> (devices, itertools.count): shared by the users of a process


def _next_fleet_device(path, record, worker_index, worker_count):
    """Devices are dealt to the users of all workers without overlap (while they last):
    worker i of n takes devices i, i + n, i + 2n, ..."""
    key = (path, record)
    if key not in _fleets:
        _fleets[key] = load_fleet(path, record), itertools.count(worker_index, max(worker_count, 1))
    devices, counter = _fleets[key]
    return devices[next(counter) % len(devices)]


def fleet_failure(what, url, exc):
    """FleetError for `exc` raised while `what` at `url` (a FleetError as it is)."""
    if isinstance(exc, FleetError):
        return exc
    return FleetError(f"cannot {what} at {url}: {exc}")


def fixture_credential(url, path, status, what, field, hint=""):
    """`field` of the JSON answer of POST `path`, one of the server's fixture
    endpoints that make a fresh tenant for a process's devices (`what`, e.g.
    "create an M2X account"), answered with HTTP `status`; FleetError otherwise."""
    base = base_url(url)
    try:
        with transport.Transport(base, retries=0) as fixtures:
            response = fixtures.request("POST", path)
    except PyonepFastError as exc:
        raise fleet_failure(what, base, exc) from None
    if response.status != status:
        raise FleetError(f"cannot {what} at {base}: {path} answered HTTP {response.status}{hint}")
    return orjson.loads(response.data)[field]


class FleetUser(User):
    """A simulated device of one API: `self.device` (its credentials) and
    `self.reporter` (events.Reporter of the run). Subclasses set `record`
    and the three class methods of the module docstring."""

    abstract = True
    #: a fleet file to take devices from instead of creating them (the run option `fleet` wins)
    fleet_file: str | None = None
    #: the device record (NamedTuple) of this API
    record: Any = None

    def __init__(self, environment):
        super().__init__(environment)
        self.url = self.host or environment.host
        if not self.url:
            raise FleetError("no server URL: give --host (or the class attribute host)")
        self.reporter = events.install(environment)
        self._device = None

    @property
    def device(self):
        """This user's device: dealt from the fleet file, else created now."""
        if self._device is None:
            path = options.get(self.environment, "fleet") or self.fleet_file
            try:
                if path:
                    runner = self.environment.runner
                    # a worker knows its index (from the master) and the workers
                    # expected (--expect-workers, which the master passes on)
                    workers = (getattr(self.environment.parsed_options, "expect_workers", 1)
                               if isinstance(runner, WorkerRunner) else 1)
                    self._device = _next_fleet_device(path, self.record, getattr(runner, "worker_index", 0),
                                                      workers)
                else:
                    self._device = self.new_device()
            except FleetError as exc:
                self._fail_fast(exc)
        return self._device

    def new_device(self):
        """A fresh device for this user (its requests reported as the user's)."""
        return self.create_device(self.url)

    @classmethod
    def create_device(cls, url):
        raise NotImplementedError

    @classmethod
    def create_fleet(cls, url, count):
        raise NotImplementedError

    @classmethod
    def check_device(cls, url, device):
        raise NotImplementedError

    @classmethod
    def preflight(cls, url, settings):
        """Raise FleetError now, with one clear line, when this run's devices
        cannot be had (server down, credentials refused, unreadable fleet file)."""
        path = settings.get("fleet") or cls.fleet_file
        if path:
            cls.check_device(url, load_fleet(path, cls.record)[0])
        else:
            cls.create_device(url)

    @classmethod
    def make_fleet(cls, url, count, path):
        """Make `count` devices at `url` into the fleet file `path`."""
        save_fleet(path, cls.create_fleet(url, count))

    def _fail_fast(self, error):
        """One clear line, then the whole run stops (a fleet that cannot be
        made fails every user the same way)."""
        environment = self.environment
        if not getattr(environment, "pyonep_fast_fleet_error", None):
            environment.pyonep_fast_fleet_error = str(error)
            log.error("%s", error)
            environment.process_exit_code = 2
            if environment.runner is not None:
                gevent.spawn(environment.runner.quit)
        if environment.runner is None:
            raise StopUser()
        # Locust logs a traceback for a user that raises in on_start: this one
        # waits quietly for the quit already under way to end it
        while True:
            gevent.sleep(60)
