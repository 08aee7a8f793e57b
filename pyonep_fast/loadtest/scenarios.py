"""The presets of `pyonep-fast loadtest`: one Locust user class each.

Settings come from the run (options.get): `interval` seconds between one
user's tasks on an open-loop schedule (0: closed loop, no wait), `batch`
calls per deferred request, `points` per recordbatch or M2X post, `window`
seconds an EXP broadcast collects responses.
"""
import datetime
import functools
import itertools
import random
import time

import gevent
from locust import task

from ..exceptions import PyonepFastError
from . import options
from .exp import ExpUser
from .m2x import M2XUser
from .onep import OnepUser


def _recorded(method):
    """A task whose client errors are already in Locust's statistics: they
    end the task, not the user, and print no traceback per failure."""
    @functools.wraps(method)
    def run(self):
        try:
            method(self)
        except PyonepFastError:
            pass
    return run


def open_loop(user):
    """Locust wait_time: the next task is due `interval` seconds after the
    previous one was due, however long that one took (an arrival rate, not
    think time after a response); a late schedule catches up without waiting."""
    interval = options.get(user.environment, "interval", user.interval)
    if interval <= 0:
        return 0.0
    user.due += interval
    return max(0.0, user.due - time.monotonic())


class Scenario:
    """The schedule every preset shares (a mixin before the API's user class)."""

    wait_time = open_loop
    interval = 0.0  # the default of the `interval` setting

    def prepare(self):
        """What a user does once before its schedule starts."""

    def on_start(self):
        self.device  # noqa: B018  created (or taken from the fleet) before the first task
        self.prepare()
        interval = options.get(self.environment, "interval", self.interval)
        self.due = time.monotonic()
        if interval > 0:
            # the first call at a random phase of the interval spreads the devices'
            # schedules; waited as Locust waits (a stopping run ends it at once)
            self.due += random.uniform(0.0, interval) - interval
            self.wait()


class DevicesUser(Scenario, OnepUser):
    """N devices, each writing one value every `interval` seconds (10 by default)."""

    interval = 10.0

    @task
    @_recorded
    def write(self):
        self.client.write(self.device.cik, self.device.dataport, random.random())


class ReadersUser(Scenario, OnepUser):
    """Readers of the 10 latest points of a dataport holding 100."""

    def on_start(self):
        super().on_start()
        now = int(time.time())
        self.client.recordbatch(self.device.cik, self.device.dataport,
                                [[now - 100 + k, float(k)] for k in range(100)])

    @task
    @_recorded
    def read(self):
        self.client.read(self.device.cik, self.device.dataport, {"limit": 10, "sort": "desc"})


class DeferredUser(Scenario, OnepUser):
    """Batches of `batch` deferred writes (10 by default), each sent as one request."""

    @task
    @_recorded
    def send_batch(self):
        cik, dataport = self.device
        for _ in range(options.get(self.environment, "batch", 10)):
            self.client.write(cik, dataport, random.random(), defer=True)
        self.client.send_deferred(cik)


class IngestUser(Scenario, OnepUser):
    """History ingest: recordbatch calls of `points` points (1000 by default)
    with ever later timestamps, one second apart."""

    def on_start(self):
        super().on_start()
        self.timestamps = itertools.count(int(time.time()) - 10 * 365 * 86400)

    @task
    @_recorded
    def recordbatch(self):
        points = options.get(self.environment, "points", 1000)
        entries = [[next(self.timestamps), random.random()] for _ in range(points)]
        self.client.recordbatch(self.device.cik, self.device.dataport, entries)


def _iso_ms(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


class M2XDevicesUser(Scenario, M2XUser):
    """N M2X devices, each posting `points` values (1 by default) to its stream
    every `interval` seconds (10 by default), with its own device key."""

    interval = 10.0

    @task
    @_recorded
    def post_values(self):
        now = time.time()
        points = options.get(self.environment, "points", 1)
        self.stream.post_values([{"timestamp": _iso_ms(now - k / 1000.0), "value": random.random()}
                                 for k in range(points)])


CHANNEL = "loadtest"


class ExpNetworkUser(Scenario, ExpUser):
    """EXP devices on one channel: each broadcasts "ping" every `interval`
    seconds (5 by default) and collects the responses for `window` seconds
    (1 by default); each answers every other device's ping. Reported besides
    the REST requests: "connect" (its socket, once), "broadcast ping" (the
    round trip with the responses; none while others listen is a failure)
    and "delivery ping" (from a ping's sending to its arrival at a listener)."""

    interval = 5.0
    listening = 0  # users of this process listening on the channel

    def prepare(self):
        self.responder = None
        started = time.perf_counter()
        connected = self.wait_connected()
        self.reporter.fire(request_type="EXP", name="connect", response_time=(time.perf_counter() - started) * 1000,
                           response_length=0, response=None, context={},
                           exception=None if connected else TimeoutError("the socket did not connect"))
        self.channel = self.client.get_channel(CHANNEL)
        try:
            listener = self.channel.listen("ping")
        except PyonepFastError:
            return  # recorded by the failed "connect"; this user only broadcasts
        type(self).listening += 1
        self.responder = gevent.spawn(self._respond, listener)

    def _respond(self, listener):
        me = self.device.uuid
        while True:
            message = listener.wait(60)
            if message is None:
                continue
            payload = message.payload
            if not isinstance(payload, dict) or payload.get("from") == me:
                continue
            sent = payload.get("sent")
            if isinstance(sent, float):
                self.reporter.fire(request_type="EXP", name="delivery ping",
                                   response_time=max(0.0, time.time() - sent) * 1000, response_length=0,
                                   response=None, context={}, exception=None)
            try:
                message.respond({"from": me})
            except PyonepFastError:
                pass  # recorded

    @task
    @_recorded
    def ping(self):
        others = type(self).listening - (self.responder is not None)
        self.broadcast(self.channel, "ping", {"from": self.device.uuid, "sent": time.time()},
                       timeout=options.get(self.environment, "window", 1.0), expect=min(others, 1))

    def on_stop(self):
        if self.responder is not None:
            self.responder.kill(block=False)
            self.responder = None
            type(self).listening -= 1
        super().on_stop()


#: scenario name -> user class
SCENARIOS = {
    "devices": DevicesUser,
    "readers": ReadersUser,
    "deferred": DeferredUser,
    "ingest": IngestUser,
    "m2x-devices": M2XDevicesUser,
    "exp-network": ExpNetworkUser,
}
