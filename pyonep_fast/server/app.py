"""HTTP front of the embedded server (aiohttp).

Routes: One Platform's (onep/routes.py: JSON-RPC, CIK fountain, HTTP Data
Interface) and, when pyonep_fast/server/provision.py exists, the
provisioning API, which plugs in through its `setup(app, store)`.
"""
import importlib

from aiohttp import web

from . import onep
from .http import BODY_TIMEOUT, CONFIG, DEFAULT_MAX_BODY, ConnectionBudget

__all__ = ["BODY_TIMEOUT", "DEFAULT_MAX_BODY", "build_app"]


def build_app(store, *, null=False, max_body=DEFAULT_MAX_BODY, body_timeout=BODY_TIMEOUT,
              requests_per_connection=None):
    """The aiohttp Application serving `store`.

    Provisioning hook: if the module pyonep_fast.server.provision exists,
    its `setup(app, store)` is called once here to add its routes.
    """
    app = web.Application(client_max_size=max_body)
    app[CONFIG] = {"null": null, "max_body": max_body, "body_timeout": body_timeout,
                   "requests_per_connection": requests_per_connection}
    if requests_per_connection:
        app.on_response_prepare.append(ConnectionBudget(requests_per_connection).on_response_prepare)
    app.router.add_routes(onep.routes(store))
    try:
        provision = importlib.import_module(f"{__package__}.provision")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.provision":
            raise
    else:
        provision.setup(app, store)
    return app
