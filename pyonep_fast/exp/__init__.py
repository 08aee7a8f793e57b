"""`exp_sdk` 5.0.0 (Scala EXP's Python SDK) on Python 3 (spec/exp.md).

    import pyonep_fast.exp as exp_sdk        # or, after compat.install(): import exp_sdk
    exp = exp_sdk.start(uuid=..., secret=..., host="http://127.0.0.1:8080")
    exp.find_devices(); exp.get_channel("x").listen("hi"); exp.stop()

Modules keep upstream's names: api, exp, authenticator, network, exceptions.
REST calls go through pyonep_fast's Transport (`exp._sdk.api.transport`:
pooled keep-alive, timeouts, request hooks); the start option
`transport_options` (a dict) passes keyword arguments to it. The real-time
network is socket.io 5 (python-socketio), so servers speaking only the
Engine.IO 3 protocol of the hosted EXP are not reachable.

Upstream installed a SIGINT handler on import that stopped every instance;
this port changes no signal handling (network threads are daemons, and
every instance is stopped at interpreter exit).
"""
import atexit

from . import api, authenticator, exceptions, exp, network  # noqa: F401 -- upstream's submodules
from .exceptions import ApiError, AuthenticationError, ExpError, NetworkError, RuntimeError, UnexpectedError
from .exp import start, stop

__all__ = ["ApiError", "AuthenticationError", "ExpError", "NetworkError", "RuntimeError", "UnexpectedError",
           "start", "stop"]

atexit.register(stop)
