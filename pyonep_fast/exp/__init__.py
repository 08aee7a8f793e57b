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

from . import api, authenticator, exceptions, network  # noqa: F401 -- upstream's submodules
from . import exp as _exp_module
from .exceptions import ApiError, AuthenticationError, ExpError, NetworkError, RuntimeError, UnexpectedError

__all__ = ["ApiError", "AuthenticationError", "ExpError", "NetworkError", "RuntimeError", "UnexpectedError",
           "start", "stop"]

DEFAULT_HOST = "https://api.goexp.io"


def _authentication_type(options):
    """The credential kind the options name (spec 1.2), or RuntimeError."""
    kind = options.get("type")
    if kind == "user" or (kind is None and (options.get("username") or options.get("password")
                                            or options.get("organization"))):
        if not options.get("username"):
            raise RuntimeError("Please specify the username.")
        if not options.get("password"):
            raise RuntimeError("Please specify the password.")
        if not options.get("organization"):
            raise RuntimeError("Please specify the organization.")
        return "user"
    if kind == "device" or (kind is None and (options.get("secret") or options.get("allow_pairing"))):
        if not options.get("uuid") and not options.get("allow_pairing"):
            raise RuntimeError("Please specify the device uuid.")
        if not options.get("secret") and not options.get("allow_pairing"):
            raise RuntimeError("Please specify the device secret.")
        return "device"
    if kind == "consumer_app" or (kind is None and options.get("api_key")):
        if not options.get("uuid"):
            raise RuntimeError("Please specify the consumer app uuid.")
        if not options.get("api_key"):
            raise RuntimeError("Please specify the consumer app api key.")
        return "consumer_app"
    raise RuntimeError("Please specify authentication type.")


def start(enable_network=True, host=DEFAULT_HOST, **options):
    """A started, authenticated Exp instance (spec 1.2)."""
    options = dict(options)
    options["host"] = host
    options["enable_network"] = enable_network
    options["type"] = _authentication_type(options)
    sdk = _exp_module.Sdk(options)
    if enable_network:
        sdk.network.start()
    instance = _exp_module.Exp(sdk)
    with _exp_module._instances_lock:
        _exp_module.instances.append(instance)
    instance.get_auth()
    return instance


def stop():
    """Stops every running instance."""
    with _exp_module._instances_lock:
        running = list(_exp_module.instances)
    for instance in running:
        try:
            instance.stop()
        except RuntimeError:  # stopped meanwhile by another thread
            pass


atexit.register(stop)
