"""Exosite One Platform on the embedded server: the resource model and its
tables (state.py), the JSON-RPC engine and procedures (rpc.py), resource
descriptions, limits, errors, storing points (points.py, entries.py),
request decoding (wire.py), the HTTP Data Interface (hdi.py), the CIK
fountain (fountain.py), the rules that run (rules.py) and their routes
(routes.py)."""
from . import routes as _routes
from .state import OnepState

NAME = "onep"

__all__ = ["NAME", "OnepState", "open_state", "routes", "setup"]


def open_state(store):
    return OnepState(store.storage)


def routes(store):
    return _routes.routes(store.onep)


def setup(app, store):
    """The rules run on the server's loop while it serves (timers re-armed
    from stored state at start)."""
    rules = store.onep.rules
    app.on_startup.append(lambda app: rules.start())
    app.on_cleanup.append(lambda app: rules.stop())
