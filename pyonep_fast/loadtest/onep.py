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
from typing import NamedTuple
from urllib.parse import urlsplit

import orjson

from .. import transport
from ..exceptions import PyonepFastError
from ..onep import OnepV1
from . import events
from .fleet import FleetError, FleetUser, base_url, fleet_failure

#: OnepV1's RPC methods (spec/onep-rpc.md section 4.3), each reported under its own name.
PROCEDURES = ("activate", "create", "createDataport", "deactivate", "drop", "flush", "grant", "info",
              "listing", "lookup", "map", "move", "read", "record", "recordbatch", "revoke", "share",
              "tag", "unmap", "update", "usage", "wait", "write", "writegroup")
API = "onep"
DATAPORT = {"format": "float", "name": "value",
            "retention": {"count": "infinity", "duration": "infinity"}}


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
    base = base_url(url)
    parts = urlsplit(base)
    https = parts.scheme == "https"
    return ({"host": parts.hostname, "port": str(parts.port or (443 if https else 80)), "https": https}, base)


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
        raise fleet_failure("create a device", fountain.base_url, exc) from None
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
            raise fleet_failure("make the fleet", base, exc) from None
    return devices


def _process_clients(environment, url):
    """The OnepClient and fountain Transport every OnepUser of `environment`
    shares for `url`: OnepV1 is thread-safe and keeps no per-CIK state but
    deferred queues (per CIK, so per device), and each greenlet keeps its own
    keep-alive connection either way; a client per user cost ~2 ms of CPU to
    build (transport, proxy lookup in the environment), 20 s for 10,000 users."""
    clients = environment.__dict__.setdefault("pyonep_fast_onep_clients", {})
    if url not in clients:
        client = OnepClient(environment, url)
        clients[url] = client, transport.Transport(client.url_base)
    return clients[url]


class OnepUser(FleetUser):
    """A simulated One Platform device: `self.client` (OnepClient, shared by
    the users of a process) and `self.device` (its own CIK and dataport)."""

    abstract = True
    record = Device

    def __init__(self, environment):
        super().__init__(environment)
        self.client, self.fountain = _process_clients(environment, self.url)

    def new_device(self):
        return create_device(self.client, self.fountain)

    @classmethod
    def create_device(cls, url):
        server, base = server_of(url)
        with OnepV1(**server) as client, transport.Transport(base, retries=0) as fountain:
            return create_device(client, fountain)

    @classmethod
    def create_fleet(cls, url, count):
        return make_fleet(url, count)

    @classmethod
    def check_device(cls, url, device):
        """The fleet's first CIK reads its dataport."""
        server, base = server_of(url)
        with OnepV1(**server) as client:
            try:
                ok, answer = client.read(device.cik, device.dataport, {"limit": 1})
            except PyonepFastError as exc:
                raise fleet_failure("use the fleet", base, exc) from None
        if not ok:
            raise FleetError(f"the fleet's first device cannot read its dataport at {base}: {answer!r}")

