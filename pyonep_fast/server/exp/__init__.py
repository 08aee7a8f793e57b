"""Scala EXP (spec/exp.md) on the embedded server: the REST API under /api/
(state.py holds organizations, accounts, documents and data on the shared
storage; handlers.py the endpoints), the real-time network at /socket.io/
(network.py: python-socketio's AsyncServer on the same aiohttp app and
event loop), and the fixtures of spec 5.1 (content.py, and
state.seed_fixtures for the accounts).

Settings (app[CONFIG], from build_app's options): `exp_fixtures` (default
on: a database that had no EXP tables gets the fixtures, and the fixture
endpoint is open) and `exp_token_lifetime` (seconds)."""
import weakref

from ..http import CONFIG
from .handlers import Exp
from .state import DEFAULT_TOKEN_LIFETIME, ExpState

NAME = "exp"

__all__ = ["DEFAULT_TOKEN_LIFETIME", "NAME", "Exp", "ExpState", "open_state", "routes", "service_for", "setup"]

_services: weakref.WeakKeyDictionary[object, Exp] = weakref.WeakKeyDictionary()  # Store -> its Exp


def open_state(store):
    return ExpState(store.storage)


def service_for(store):
    """The Exp serving `store` (its state and network)."""
    service = _services.get(store)
    if service is None:
        service = _services[store] = Exp(store.exp)
    return service


def routes(store):
    return service_for(store).routes()


def setup(app, store):
    """Applies the settings, seeds a new database, and disconnects every
    socket when the app shuts down (open websockets would hold it)."""
    config = app[CONFIG]
    state = store.exp
    state.token_lifetime = config.get("exp_token_lifetime", DEFAULT_TOKEN_LIFETIME)
    state.fixtures = config.get("exp_fixtures", True)
    if state.fixtures and state.fresh:
        with store.storage.lock:
            state.seed_fixtures()
            store.storage.commit()
    state.fresh = False
    app.on_shutdown.append(service_for(store).network.close)
