"""Locust users that speak the emulated APIs through pyonep_fast's clients:
`OnepUser` (OnepV1), `M2XUser` (M2XClient), `ExpUser` (an exp_sdk instance),
each a simulated device with its own credentials.

    from locust import task
    from pyonep_fast.loadtest import OnepUser

    class Device(OnepUser):
        @task
        def write(self):
            self.client.write(self.device.cik, self.device.dataport, 42.0)

runs with the stock `locust -f file.py --host http://127.0.0.1:8080`
(headless, distributed, ...) or through `pyonep-fast loadtest`.

Importing this package imports Locust, which monkey-patches the standard
library with gevent, as the `locust` command does before it reads a
locustfile. Our transport then blocks only in gevent's sockets, and each
greenlet keeps its own pooled connection (gevent makes threading.local
greenlet-local). Clients built before the patch would not: importing a
pyonep_fast client module first is refused here with that explanation.
"""
import sys

if "pyonep_fast.transport" in sys.modules and "gevent.monkey" not in sys.modules:
    raise ImportError("import pyonep_fast.loadtest (or locust) before pyonep_fast's clients: "
                      "gevent must patch the standard library before the transport is imported")

import locust  # noqa: E402,F401  monkey-patches the standard library

from .events import RequestFailed, install  # noqa: E402
from .exp import ExpDevice, ExpUser  # noqa: E402
from .fleet import FleetError  # noqa: E402
from .m2x import M2XDevice, M2XUser  # noqa: E402
from .onep import Device, OnepClient, OnepUser  # noqa: E402

__all__ = ["Device", "ExpDevice", "ExpUser", "FleetError", "M2XDevice", "M2XUser", "OnepClient", "OnepUser",
           "RequestFailed", "install"]
