"""The AT&T M2X v2 API on the embedded server (spec m2x.md §7): every
endpoint under /v2/ on the server's port, stateful on the server's SQLite
store, plus fixture endpoints for tests:

  POST /_fixtures/m2x/accounts        -> {"account", "key"}: a fresh account and its master key
  PUT  /_fixtures/m2x/settings        {"auto_accounts": bool}
  PUT  /_fixtures/m2x/replay          {"cases": [{"url", "method"?, "status"?, "response"}]}
                                      answer those requests with the recorded answers
                                      (m2x-recorded.json's case shape); {"cases": []} ends it

With auto_accounts (the default) any unknown non-empty X-M2X-KEY becomes the
master key of a new account, so unchanged programs with their own key run
against `pyonep-fast serve`; keys that were regenerated or deleted never
authenticate again.
"""
from . import routes as _routes
from .state import M2XState

NAME = "m2x"

__all__ = ["NAME", "M2XState", "open_state", "routes"]


def open_state(store):
    return M2XState(store.storage)


def routes(store):
    return _routes.routes(store.m2x)
