"""No two APIs of the composed server claim a path.

The check reads the router of the app that build_app composes from
app.APIS, so every API package added there is covered. A route belongs to
the package under pyonep_fast.server its handler comes from. Two routes of
different packages conflict when their methods overlap and one path matches
both: every literal path is tried against every other package's patterns,
and paths drawn from each pattern (hypothesis) are tried against the rest.
"""
import re
import sys
import types

from aiohttp import hdrs, web
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast.server import app as app_module
from pyonep_fast.server import build_app
from pyonep_fast.server.app import Store

SERVER_PACKAGE = "pyonep_fast.server."


def claims(app):
    """[(api, method, literal path or None, compiled full-match pattern)] of every route."""
    out = []
    for route in app.router.routes():
        module = route.handler.__module__
        api = module[len(SERVER_PACKAGE):].split(".")[0] if module.startswith(SERVER_PACKAGE) else module
        info = route.resource.get_info()
        if "path" in info:
            out.append((api, route.method, info["path"], re.compile(re.escape(info["path"]))))
        else:
            out.append((api, route.method, None, info["pattern"]))
    return out


def methods_overlap(a, b):
    return a == b or hdrs.METH_ANY in (a, b)


def conflicts(routes, paths_of):
    """(path, api, method, other api, other method) for each path claimed by two APIs."""
    found = []
    for api, method, literal, pattern in routes:
        for path in paths_of(literal, pattern):
            for other, other_method, _, other_pattern in routes:
                if other != api and methods_overlap(method, other_method) and other_pattern.fullmatch(path):
                    found.append((path, api, method, other, other_method))
    return found


def literal_paths(literal, pattern):
    return [literal] if literal is not None else []


def composed(store):
    return claims(build_app(store))


def test_every_api_contributes_routes_and_no_literal_path_is_claimed_twice():
    routes = composed(Store())
    assert {api for api, *_ in routes} == {api.NAME for api in app_module.APIS}
    assert conflicts(routes, literal_paths) == []


ROUTES = composed(Store())
PATTERNS = [pattern for _, _, literal, pattern in ROUTES if literal is None]


@given(st.data())
def test_no_path_drawn_from_a_pattern_is_claimed_twice(data):
    pattern = data.draw(st.sampled_from(PATTERNS))
    path = data.draw(st.from_regex(pattern, fullmatch=True))
    assert conflicts(ROUTES, lambda literal, p: [path] if p is pattern else []) == []


def test_the_check_finds_a_new_api_claiming_an_existing_path(monkeypatch):
    """A package with `/api/{collection}` would take the fountain's
    /api/create (and EXP's collections: EXP names each of its own), and one
    with `/portal/{tail}` the portal's pages."""
    future = types.ModuleType(SERVER_PACKAGE + "future")

    async def collection(request):
        return web.Response()
    collection.__module__ = future.__name__
    future.NAME = "future"
    future.open_state = lambda store: None
    future.routes = lambda store: [web.get("/api/{collection}", collection),
                                   web.get("/portal/{tail:.*}", collection)]
    monkeypatch.setitem(sys.modules, future.__name__, future)
    monkeypatch.setattr(app_module, "APIS", [*app_module.APIS, future])
    found = conflicts(composed(Store()), literal_paths)
    exp_collections = {"/api/devices", "/api/things", "/api/experiences", "/api/locations", "/api/content",
                       "/api/data"}
    portal_pages = {literal for api, method, literal, _ in ROUTES   # the GETs: future's route is one
                    if api == "portal" and method == "GET" and literal and literal.startswith("/portal/")}
    assert "/portal/api/session" in portal_pages
    assert {(path, api, other) for path, api, _, other, _ in found} == \
        {("/api/create", "onep", "future")} | {(path, "exp", "future") for path in exp_collections} | \
        {(path, "portal", "future") for path in portal_pages}
