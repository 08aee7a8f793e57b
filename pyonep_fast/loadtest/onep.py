"""`OnepUser`: a Locust user whose `client` is pyonep_fast's `OnepV1`.

Every RPC method of the client (`write`, `read`, `recordbatch`, ...) and
`send_deferred` is one Locust request of type "onep" named after the
procedure; a deferred batch is named "deferred <procedures>" with
{"calls": K} in its context. A call the server refuses ((False, status),
or a failed call in a batch) counts as a failure; exceptions are counted,
then raised as usual.

Each simulated device holds its own CIK: `self.device` is created on first
use (a fresh fountain client with one float dataport), or taken from a
fleet file of JSON lines {"cik": ..., "dataport": ...} named by the class
attribute `fleet_file` or the run option `fleet`.
"""
import concurrent.futures
import itertools
import logging
from typing import NamedTuple
from urllib.parse import urlsplit

import gevent
import orjson
from locust import User
from locust.exception import StopUser
from locust.runners import WorkerRunner

from .. import transport
from ..exceptions import PyonepFastError
from ..onep import OnepV1
from . import events, options

log = logging.getLogger(__name__)

#: OnepV1's RPC methods (spec/onep-rpc.md section 4.3), each reported under its own name.
PROCEDURES = ("activate", "create", "createDataport", "deactivate", "drop", "flush", "grant", "info",
              "listing", "lookup", "map", "move", "read", "record", "recordbatch", "revoke", "share",
              "tag", "unmap", "update", "usage", "wait", "write", "writegroup")
API = "onep"
DATAPORT = {"format": "float", "name": "value",
            "retention": {"count": "infinity", "duration": "infinity"}}


class FleetError(PyonepFastError):
    """A simulated device could not be created or loaded."""


class Device(NamedTuple):
    cik: str
    dataport: str  # RID of the device's float dataport


def _judge_call(result):
    """(isok, value) of one call: isok False is a failure."""
    if type(result) is tuple and len(result) == 2 and result[0] is False:
        return events.RequestFailed(str(result[1])[:200]), None
    return None, None


def _judge_batch(triples):
    """[(call, isok, value), ...] of a deferred batch."""
    failed = [value for _, isok, value in triples if not isok]
    context = {"calls": len(triples)}
    if failed:
        context["failed_calls"] = len(failed)
        return events.RequestFailed(f"calls failed: {str(failed[0])[:200]}"), context
    return None, context


def _measured(procedure):
    method = getattr(OnepV1, procedure)

    def call(self, *args, **kwargs):
        return self.reporter.measure(API, procedure, _judge_call, method, self, *args, **kwargs)

    call.__name__ = call.__qualname__ = procedure
    call.__doc__ = method.__doc__
    return call


def server_of(url):
    """OnepV1's (host, port, https) keywords and the base URL for `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FleetError(f"not an http(s) URL: {url!r}")
    https = parts.scheme == "https"
    return ({"host": parts.hostname, "port": str(parts.port or (443 if https else 80)), "https": https},
            f"{parts.scheme}://{parts.netloc}")


class OnepClient(OnepV1):
    """OnepV1 to `url` whose calls are Locust requests of `environment`."""

    def __init__(self, environment, url, **kwargs):
        server, self.url_base = server_of(url)
        super().__init__(**server, **kwargs)
        self.reporter = events.install(environment)

    def send_deferred(self, auth):
        procedures = sorted({method for method, _ in self.deferred.get_method_args_pairs(auth)})
        name = "deferred " + "+".join(procedures) if procedures else "deferred"
        return self.reporter.measure(API, name, _judge_batch, OnepV1.send_deferred, self, auth)


for _procedure in PROCEDURES:
    setattr(OnepClient, _procedure, _measured(_procedure))
del _procedure


def create_device(client, fountain):
    """A fresh fountain client (its own CIK) with one float dataport."""
    try:
        response = fountain.request("GET", "/api/create?vendor")
        if response.status != 200:
            raise FleetError(f"the CIK fountain at {fountain.base_url} answered HTTP {response.status}")
        cik = orjson.loads(response.data)["cik"]
        ok, rid = client.createDataport(cik, DATAPORT)
    except (PyonepFastError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, FleetError):
            raise
        raise FleetError(f"cannot create a device at {fountain.base_url}: {exc}") from None
    if not ok:
        raise FleetError(f"cannot create a device at {fountain.base_url}: createDataport answered {rid!r}")
    return Device(cik, rid)


# A device's client: every limit inherited from its owner (the fountain's unlimited client).
CLIENT = {"limits": dict.fromkeys(("client", "dataport", "datarule", "disk", "dispatch", "email",
                                   "email_bucket", "http", "http_bucket", "share", "sms", "sms_bucket",
                                   "xmpp", "xmpp_bucket"), "inherit"),
          "name": "loadtest device", "visibility": "parent", "writeinterval": "inherit"}
FLEET_BATCH = 500  # calls per deferred request while making a fleet


def _values(triples, what):
    failed = [value for _, ok, value in triples if not ok]
    if failed:
        raise FleetError(f"cannot make the fleet: {what} answered {failed[0]!r}")
    return [value for _, _, value in triples]


def make_fleet(url, count, parallel=8):
    """`count` devices under one fresh fountain client: their clients created
    and their CIKs read in deferred batches, then each device's dataport
    created with its own CIK (`parallel` at once). Far cheaper for the server
    than a fountain client per device, which matters for thousands."""
    server, base = server_of(url)
    with OnepV1(**server) as client, transport.Transport(base, retries=0) as fountain:
        owner = create_device(client, fountain).cik
        devices = []
        try:
            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                for first in range(0, count, FLEET_BATCH):
                    size = min(FLEET_BATCH, count - first)
                    for _ in range(size):
                        client.create(owner, "client", CLIENT, defer=True)
                    rids = _values(client.send_deferred(owner), "create client")
                    for rid in rids:
                        client.info(owner, rid, {"key": True}, defer=True)
                    ciks = [info["key"] for info in _values(client.send_deferred(owner), "info")]
                    answers = pool.map(lambda cik: client.createDataport(cik, DATAPORT), ciks)
                    for cik, (ok, rid) in zip(ciks, answers):
                        if not ok:
                            raise FleetError(f"cannot make the fleet: createDataport answered {rid!r}")
                        devices.append(Device(cik, rid))
        except PyonepFastError as exc:
            if isinstance(exc, FleetError):
                raise
            raise FleetError(f"cannot make the fleet at {base}: {exc}") from None
    return devices


_fleets = {}  # path -> (devices, itertools.count): shared by the users of a process


def load_fleet(path):
    """The devices of a fleet file (JSON lines {"cik", "dataport"})."""
    try:
        with open(path, "rb") as file:
            devices = [Device(record["cik"], record["dataport"])
                       for record in map(orjson.loads, filter(bytes.strip, file))]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FleetError(f"cannot read the fleet file {path}: {exc}") from None
    if not devices:
        raise FleetError(f"the fleet file {path} holds no devices")
    return devices


def save_fleet(path, devices):
    with open(path, "wb") as file:
        for device in devices:
            file.write(orjson.dumps(device._asdict()) + b"\n")


def _next_fleet_device(path, worker_index, worker_count):
    """Devices are dealt to the users of all workers without overlap (while they last):
    worker i of n takes devices i, i + n, i + 2n, ..."""
    if path not in _fleets:
        _fleets[path] = load_fleet(path), itertools.count(worker_index, max(worker_count, 1))
    devices, counter = _fleets[path]
    return devices[next(counter) % len(devices)]


class OnepUser(User):
    """A simulated One Platform device: `self.client` (OnepClient) and
    `self.device` (its own CIK and dataport)."""

    abstract = True
    #: a fleet file to take devices from instead of creating them
    fleet_file = None

    def __init__(self, environment):
        super().__init__(environment)
        url = self.host or environment.host
        if not url:
            raise FleetError("no server URL: give --host (or the class attribute host)")
        self.client = OnepClient(environment, url)
        self.fountain = transport.Transport(self.client.url_base)
        self._device = None

    @property
    def device(self):
        if self._device is None:
            path = options.get(self.environment, "fleet") or self.fleet_file
            try:
                if path:
                    runner = self.environment.runner
                    # a worker knows its index (from the master) and the workers
                    # expected (--expect-workers, which the master passes on)
                    workers = (getattr(self.environment.parsed_options, "expect_workers", 1)
                               if isinstance(runner, WorkerRunner) else 1)
                    self._device = _next_fleet_device(path, getattr(runner, "worker_index", 0), workers)
                else:
                    self._device = create_device(self.client, self.fountain)
            except FleetError as exc:
                self._fail_fast(exc)
        return self._device

    @classmethod
    def preflight(cls, url, settings):
        """Raise FleetError now, with one clear line, when this run's devices
        cannot be had (server down, fountain refusing, unreadable fleet file)."""
        path = settings.get("fleet") or cls.fleet_file
        if path:
            load_fleet(path)
            return
        server, base = server_of(url)
        with OnepV1(**server) as client, transport.Transport(base, retries=0) as fountain:
            create_device(client, fountain)

    @classmethod
    def make_fleet(cls, url, count, path):
        """Make `count` devices at `url` into the fleet file `path`."""
        save_fleet(path, make_fleet(url, count))

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

    def on_stop(self):
        self.client.close()
        self.fountain.close()
