"""The embedded server's composition: one package per API over shared storage.

Each API package (onep/, provision/, ...) exposes
  NAME               its attribute on the Store (store.onep, store.provision)
  open_state(store)  its state over store.storage; it may use the states of
                     packages listed before it in APIS
  routes(store)      its aiohttp routes (RouteDefs)
  setup(app, store)  optional: what it adds to the app besides routes (its
                     settings from app[CONFIG], startup/shutdown hooks)
and APIS lists them once: a new API appends its package here and touches
nothing else. No two APIs claim a path (tests/server/test_composition.py).
"""
from aiohttp import web

from . import exp, m2x, onep, portal, provision
from .http import CONFIG, ConnectionBudget, body_refusals, client_disconnects
from .limits import DEFAULT, Limits
from .storage import Storage

APIS = [onep, provision, exp, m2x, portal]   # the portal reads the others' states: last

__all__ = ["APIS", "Limits", "Store", "build_app"]


class Store:
    """Every API's state over one Storage (one SQLite file, one group commit)."""

    # each API's state, set by __init__ under the API's NAME; declared for type checkers
    onep: onep.OnepState
    provision: provision.ProvisionState
    exp: exp.ExpState
    m2x: m2x.M2XState

    def __init__(self, path=":memory:", synchronous="NORMAL"):
        self.storage = Storage(path, synchronous)
        for api in APIS:
            setattr(self, api.NAME, api.open_state(self))

    @property
    def loop(self):
        return self.storage.loop

    @loop.setter
    def loop(self, loop):
        self.storage.loop = loop

    def commit(self):
        self.storage.commit()

    def close(self):
        self.storage.close()


def build_app(store, *, null=False, limits=DEFAULT, requests_per_connection=None, **api_options):
    """The aiohttp Application serving every API of `store` within `limits`
    (limits.Limits); `api_options` (e.g. exp_fixtures) go into app[CONFIG]
    for the APIs' setup()."""
    app = web.Application(client_max_size=limits.max_body, middlewares=[client_disconnects, body_refusals])
    app[CONFIG] = {"null": null, "limits": limits, "requests_per_connection": requests_per_connection,
                   **api_options}
    if requests_per_connection:
        app.on_response_prepare.append(ConnectionBudget(requests_per_connection).on_response_prepare)
    for api in APIS:
        app.router.add_routes(api.routes(store))
        setup = getattr(api, "setup", None)
        if setup is not None:
            setup(app, store)
    return app
