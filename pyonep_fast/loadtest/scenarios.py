"""The presets of `pyonep-fast loadtest`: one Locust user class each.

Settings come from the run (options.get): `interval` seconds between one
user's tasks on an open-loop schedule (0: closed loop, no wait), `batch`
calls per deferred request, `points` per recordbatch.
"""
import functools
import itertools
import random
import time

from locust import task

from ..exceptions import PyonepFastError
from . import options
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


class Scenario(OnepUser):
    abstract = True
    wait_time = open_loop
    interval = 0.0  # the default of the `interval` setting

    def on_start(self):
        self.device  # noqa: B018  created (or taken from the fleet) before the first task
        interval = options.get(self.environment, "interval", self.interval)
        self.due = time.monotonic()
        if interval > 0:
            # the first call at a random phase of the interval spreads the devices'
            # schedules; waited as Locust waits (a stopping run ends it at once)
            self.due += random.uniform(0.0, interval) - interval
            self.wait()


class DevicesUser(Scenario):
    """N devices, each writing one value every `interval` seconds (10 by default)."""

    interval = 10.0

    @task
    @_recorded
    def write(self):
        self.client.write(self.device.cik, self.device.dataport, random.random())


class ReadersUser(Scenario):
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


class DeferredUser(Scenario):
    """Batches of `batch` deferred writes (10 by default), each sent as one request."""

    @task
    @_recorded
    def send_batch(self):
        cik, dataport = self.device
        for _ in range(options.get(self.environment, "batch", 10)):
            self.client.write(cik, dataport, random.random(), defer=True)
        self.client.send_deferred(cik)


class IngestUser(Scenario):
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


#: scenario name -> user class
SCENARIOS = {
    "devices": DevicesUser,
    "readers": ReadersUser,
    "deferred": DeferredUser,
    "ingest": IngestUser,
}
