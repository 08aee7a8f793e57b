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
import orjson
from aiohttp import web

from .routes import json_response, setup_routes
from .state import DEFAULT_PUBLIC_URL, M2XState

STATE = web.AppKey("m2x_state", M2XState)
DEFAULT_PAGE_LIMIT = 100


def setup(app, store, public_url=DEFAULT_PUBLIC_URL, auto_accounts=True, page_limit=DEFAULT_PAGE_LIMIT):
    """Adds the M2X routes, tables and fixture endpoints to the server's app."""
    state = M2XState(store, public_url=public_url, auto_accounts=auto_accounts)
    state.page_limit = page_limit
    app[STATE] = state
    setup_routes(app, state)

    async def new_account(request):
        with state.lock:
            account, key = state.create_account()
        await state.storage.durable()
        return json_response({"account": account["id"], "key": key["key"]}, 201)

    async def settings(request):
        try:
            body = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("auto_accounts", False), bool):
            return json_response({"code": "bad_request", "message": "expected {\"auto_accounts\": bool}"}, 400)
        if "auto_accounts" in body:
            state.auto_accounts = body["auto_accounts"]
        return json_response({"auto_accounts": state.auto_accounts})

    async def replay(request):
        try:
            body = orjson.loads(await request.read() or b"{}")
            cases = body["cases"]
            state.set_replay(cases)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return json_response({"code": "bad_request", "message": "expected {\"cases\": [{\"url\": ...}]}"},
                                 400)
        return json_response({"cases": len(cases)})

    app.router.add_post("/_fixtures/m2x/accounts", new_account)
    app.router.add_put("/_fixtures/m2x/replay", replay)
    app.router.add_put("/_fixtures/m2x/settings", settings)
    return state
