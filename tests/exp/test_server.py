"""EXP on the embedded server, over raw HTTP: error shapes, access checks,
find semantics, persistence, fixtures on and off (spec/exp.md 2-3, 5.1)."""
import json
import time

import orjson
import pytest

import pyonep_fast.exp as exp_sdk
from pyonep_fast.cli.serve import is_loopback
from pyonep_fast.exp import _jws
from pyonep_fast.server import EmbeddedServer, Limits, spawn
from exp_helpers import SCALA_DEVICE, SCALA_USER, new_organization


@pytest.fixture
def call(server, http):
    """call(method, path, body=None, token=None, raw=None) -> (status, parsed body or bytes)."""
    def request(method, path, body=None, token=None, raw=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        response = http.request(method, server.url + path, body=data, headers=headers)
        try:
            return response.status, orjson.loads(response.data)
        except orjson.JSONDecodeError:
            return response.status, response.data
    return request


def login(call, body):
    status, auth = call("POST", "/api/auth/login", body)
    assert status == 200, auth
    return auth


def device_token(uuid, secret, **claims):
    return _jws.sign({"uuid": uuid, "type": "device", "exp": (int(time.time()) + 30) * 1000, **claims}, secret)


def test_login_outcomes(call):
    assert call("POST", "/api/auth/login", SCALA_USER)[0] == 200
    assert call("POST", "/api/auth/login", dict(SCALA_USER, password="x"))[0] == 401
    assert call("POST", "/api/auth/login", dict(SCALA_USER, organization="other"))[0] == 401
    assert call("POST", "/api/auth/login", {"token": device_token("test-uuid", "test-secret")})[0] == 200
    # the JS SDK's seconds and no exp at all are accepted too: only the signature counts
    assert call("POST", "/api/auth/login", {"token": device_token("test-uuid", "test-secret",
                                                                  exp=int(time.time()))})[0] == 200
    for token in (device_token("test-uuid", "wrong"), device_token("nobody", "test-secret"), "not.a.jwt", "x"):
        status, body = call("POST", "/api/auth/login", {"token": token})
        assert (status, body["code"]) == (401, "auth.unauthorized")
    consumer = _jws.sign({"type": "consumerApp", "uuid": "test-uuid"}, "test-api-key")
    assert call("POST", "/api/auth/login", {"token": consumer})[1]["identity"]["type"] == "consumerApp"
    # device and consumer-app uuids are separate namespaces
    as_device = _jws.sign({"type": "device", "uuid": "test-uuid"}, "test-api-key")
    assert call("POST", "/api/auth/login", {"token": as_device})[0] == 401
    for body, raw in ((None, b"{nope"), ([1], None), ({}, None), ({"token": 5}, None)):
        status, answer = call("POST", "/api/auth/login", body, raw=raw)
        assert status == 400 and answer["code"] == "request.invalid" and answer["status"] == 400


def test_pairing_login_payload(call):
    auth = login(call, {"token": device_token("_", "_", allowPairing=True)})
    assert auth["identity"]["isPairing"] is True and auth["identity"]["organization"] is None
    assert call("GET", "/api/devices/test-uuid", token=auth["token"])[0] == 404
    assert call("POST", "/api/things", {}, token=auth["token"])[0] == 403
    assert call("PUT", "/api/data/a/b", {"v": 1}, token=auth["token"])[0] == 403


def test_tokens_are_checked_on_every_path(call, org):
    auth = login(call, org["user"])
    for method, path in [("GET", "/api/devices"), ("GET", "/api/devices/x"), ("POST", "/api/things"),
                         ("PATCH", "/api/things/x"), ("GET", "/api/data"), ("PUT", "/api/data/a/b"),
                         ("GET", "/api/connectors/feeds/x/data"), ("POST", "/api/networks/current/broadcasts"),
                         ("POST", "/api/networks/current/responses"), ("POST", "/api/auth/token"),
                         ("GET", "/api/delivery//x/y"), ("GET", "/api/locations/x/layout"),
                         ("POST", "/api/logs")]:
        for token in (None, "garbage", auth["restrictedToken"]):
            status, body = call(method, path, {}, token=token)
            assert (status, body["code"]) == (401, "auth.unauthorized"), (method, path, token)
    assert call("POST", "/api/logs", {"level": "info"}, token=auth["token"]) == (200, b"")


def test_error_shapes(call, org):
    token = login(call, org["user"])["token"]
    status, body = call("POST", "/api/things", token=token, raw=b"{bad json")
    assert (status, body["code"], body["status"]) == (400, "request.invalid", 400) and body["message"]
    assert call("POST", "/api/things", [1, 2], token=token)[0] == 400
    assert call("POST", "/api/things", {"uuid": 5}, token=token)[0] == 400
    assert call("GET", "/api/things/nope", token=token) == \
        (404, {"code": "resource.notFound", "message": "Thing not found.", "status": 404})
    assert call("POST", "/api/content", {}, token=token)[1]["code"] == "request.notAllowed"
    assert call("DELETE", "/api/content/root", token=token)[0] == 405
    assert call("PUT", "/api/devices", {}, token=token)[0] == 405
    # an integer beyond 64 bits is refused, not stored rounded
    assert call("POST", "/api/things", token=token, raw=b"{\"n\": 1180591620717411303424}")[0] == 400
    assert call("POST", "/api/things", token=token, raw=b"{\"n\": NaN}")[0] == 400
    created = call("POST", "/api/things", {"uuid": "mine"}, token=token)[1]
    assert created["uuid"] == "mine" and created["org"] == org["organization"]
    assert call("POST", "/api/things", {"uuid": "mine"}, token=token)[0] == 409
    # uuid and organization cannot be changed; the rest merges
    patched = call("PATCH", "/api/things/mine", {"uuid": "other", "org": "scala", "x": 1}, token=token)[1]
    assert (patched["uuid"], patched["org"], patched["x"], patched["name"]) == \
        ("mine", org["organization"], 1, created["name"])
    assert call("DELETE", "/api/things/mine", token=token) == (204, b"")
    assert call("DELETE", "/api/things/mine", token=token)[0] == 404


def test_find_filters_and_paging(call, org):
    token = login(call, org["user"])["token"]
    for n in range(5):
        call("POST", "/api/things", {"name": f"t{n}", "n": n, "odd": n % 2 == 1,
                                     "location": {"zones": [{"key": f"k{n}"}, {"key": "all"}]}}, token=token)
    def names(query):
        status, body = call("GET", "/api/things?" + query, token=token)
        assert status == 200
        return [thing["name"] for thing in body["results"]], body["total"]
    assert names("") == (["t0", "t1", "t2", "t3", "t4"], 5)
    assert names("n=3") == (["t3"], 1)
    assert names("odd=true") == (["t1", "t3"], 2)
    assert names("location.zones.key=k2") == (["t2"], 1)
    assert names("location.zones.key=all&limit=2&skip=1") == (["t1", "t2"], 5)
    assert names("missing.path=1") == ([], 0)
    assert call("GET", "/api/things?limit=many", token=token)[0] == 400


def test_organizations_cannot_reach_each_other(call, server, http):
    first, second = new_organization(server, http), new_organization(server, http)
    token = login(call, first["user"])["token"]
    other = login(call, second["user"])["token"]
    thing = call("POST", "/api/things", {"name": "private"}, token=other)[1]
    call("PUT", "/api/data/g/k", {"secret": 1}, token=other)
    assert call("GET", f"/api/things/{thing['uuid']}", token=token)[0] == 404
    assert call("PATCH", f"/api/things/{thing['uuid']}", {"name": "mine"}, token=token)[0] == 404
    assert call("DELETE", f"/api/things/{thing['uuid']}", token=token)[0] == 404
    assert call("GET", "/api/data/g/k", token=token)[0] == 404
    assert call("GET", "/api/things", token=token)[1]["total"] == 0
    assert call("GET", f"/api/devices/{second['device']['uuid']}", token=token)[0] == 404
    # the content tree is per organization; delivery paths of another one are not served
    rt = login(call, first["user"])["restrictedToken"]
    own = call("GET", f"/api/delivery/{first['organization']}/Folder 1/image.png?_rt={rt}".replace(" ", "%20"))
    assert own[0] == 200 and own[1].startswith(b"\x89PNG")
    foreign = call("GET", f"/api/delivery/{second['organization']}/Folder%201/image.png?_rt={rt}")
    assert foreign[0] == 404
    assert call("GET", f"/api/things/{thing['uuid']}", token=other)[1]["name"] == "private"


def test_state_survives_a_restart_and_fixtures_are_seeded_once(tmp_path):
    db = str(tmp_path / "exp.db")
    with EmbeddedServer(db=db) as server:
        exp = exp_sdk.start(host=server.url, enable_network=False, **SCALA_USER)
        things = [exp.create_thing({"name": f"kept {n}", "n": n}) for n in range(3)]
        things[1].document["n"] = 10
        things[1].save()
        exp.create_data("g", "k", {"v": 1})
        exp.delete_device("test-uuid")
        token = exp.get_auth()["token"]
        exp.stop()
    with EmbeddedServer(db=db) as server:
        exp = exp_sdk.start(host=server.url, enable_network=False, **SCALA_USER)
        try:
            found = exp.find_things()
            assert [(t.name, t.document["n"]) for t in found] == [("kept 0", 0), ("kept 1", 10), ("kept 2", 2)]
            assert exp.get_data("g", "k").value == {"v": 1}
            assert exp.get_device("test-uuid") is None  # deleted fixtures stay deleted
            status, _ = exp._sdk.api.send("GET", "/api/things", token=token)
            assert status == 200  # tokens are signed with a key the database keeps
        finally:
            exp.stop()


def test_no_fixtures(tmp_path):
    with EmbeddedServer(db=str(tmp_path / "bare.db"), exp_fixtures=False) as server:
        with pytest.raises(exp_sdk.AuthenticationError):
            exp_sdk.start(host=server.url, enable_network=False, **SCALA_DEVICE)
        exp_sdk.stop()
        from urllib.request import Request, urlopen
        from urllib.error import HTTPError
        with pytest.raises(HTTPError) as raised:
            urlopen(Request(server.url + "/api/fixtures/organizations", method="POST"))
        assert raised.value.code == 404 and json.loads(raised.value.read())["code"] == "resource.notFound"


def test_serve_flags(tmp_path):
    with spawn(db=str(tmp_path / "serve.db"), extra_args=["--no-exp-fixtures", "--exp-token-lifetime", "5"]) \
            as server:
        with pytest.raises(exp_sdk.AuthenticationError):
            exp_sdk.start(host=server.url, enable_network=False, **SCALA_USER)
        exp_sdk.stop()
    with spawn(db=str(tmp_path / "serve2.db"), extra_args=["--exp-token-lifetime", "5"]) as server:
        exp = exp_sdk.start(host=server.url, enable_network=False, **SCALA_USER)
        assert 0 < exp.get_auth()["expiration"] / 1000 - time.time() <= 5
        exp.stop()


def test_fixtures_warning_beyond_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("example.test")


def test_location_layouts_store_and_serve_image_bytes(call, http, server, org, start):
    """A layout is the image PUT at /api/locations/{uuid}/layout (and named
    variants of it); get_layout_url()'s URL serves its bytes with their type,
    read with the restricted token as query or cookie, or a Bearer token."""
    from pyonep_fast.server.exp.content import png

    user = start(enable_network=False, **org["user"])
    token = user.get_auth()["token"]
    location = user.create_location({"name": "Lobby"})
    layout_path = f"/api/locations/{location.uuid}/layout"
    url = server.url + location.get_layout_url()
    assert http.request("GET", url).status == 404  # none stored yet
    big, small = png(200, 100), png(20, 10)
    assert call("PUT", layout_path, raw=big, token=token) == (
        200, {"location": location.uuid, "variant": None, "mimeType": "image/png", "size": len(big)})
    assert call("PUT", layout_path + "?variant=thumbnail", raw=small, token=token)[0] == 200
    served = http.request("GET", url)
    assert (served.status, served.headers["Content-Type"], served.data) == (200, "image/png", big)
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert http.request("GET", url + "&variant=thumbnail").data == small
    assert http.request("GET", url + "&variant=other").status == 404
    rt = user.get_auth()["restrictedToken"]
    assert http.request("GET", server.url + layout_path, headers={"Cookie": f"_rt={rt}"}).data == big
    assert http.request("GET", server.url + layout_path, headers={"Authorization": f"Bearer {token}"}).data == big
    head = http.request("HEAD", url)
    assert head.status == 200 and int(head.headers["Content-Length"]) == len(big)
    # a new image replaces the old, with its own type
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    assert call("PUT", layout_path, raw=gif, token=token)[1]["mimeType"] == "image/gif"
    assert http.request("GET", url).headers["Content-Type"] == "image/gif"
    # not an image, a variant before the layout, a restricted token writing, another organization
    for not_raster in (b"hello", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'):
        status, body = call("PUT", layout_path, raw=not_raster, token=token)
        assert (status, body["code"]) == (400, "request.invalid")
    assert http.request("GET", url).data == gif  # the stored image is kept
    other = user.create_location()
    status, body = call("PUT", f"/api/locations/{other.uuid}/layout?variant=v", raw=small, token=token)
    assert status == 400 and "before its variants" in body["message"]
    assert call("PUT", layout_path, raw=small, token=rt)[0] == 401
    stranger = login(call, new_organization(server, http)["user"])
    assert call("PUT", layout_path, raw=small, token=stranger["token"])[0] == 404
    assert http.request("GET", f"{server.url}{layout_path}?_rt={stranger['restrictedToken']}").status == 404
    # DELETE of a variant keeps the layout; of the layout removes all; the location's delete too
    assert call("DELETE", layout_path + "?variant=thumbnail", token=token)[0] == 204
    assert http.request("GET", url + "&variant=thumbnail").status == 404 and http.request("GET", url).data == gif
    assert call("DELETE", layout_path, token=token)[0] == 204
    assert http.request("GET", url).status == 404
    assert call("PUT", layout_path, raw=big, token=token)[0] == 200
    location.delete()
    status, body = call("GET", f"{layout_path}?_rt={rt}")
    assert (status, body["message"]) == (404, "Location not found.")
    recreated = call("POST", "/api/locations", {"uuid": location.uuid}, token=token)
    assert recreated[0] == 200 and http.request("GET", url).status == 404  # no bytes left behind


def test_a_find_past_the_page_budgets_is_refused_413_and_pages_within_them_answer(http):
    """No default page limit (spec 3.3), but a page is bounded by the server's
    items_per_request and response_bytes: past them, EXP's error, not a truncation."""
    with EmbeddedServer(limits=Limits(items_per_request=5, response_bytes=4000)) as small:
        def call(method, path, body=None, token=None):
            response = http.request(method, small.url + path, body=None if body is None else orjson.dumps(body),
                                    headers={"Authorization": f"Bearer {token}"} if token else {})
            return response.status, orjson.loads(response.data)

        token = call("POST", "/api/auth/login", new_organization(small, http)["user"])[1]["token"]
        names = [f"thing {n}" for n in range(6)]
        for name in names:
            assert call("POST", "/api/things", {"name": name}, token=token)[0] == 200
        status, refused = call("GET", "/api/things", token=token)
        assert (status, refused["code"], refused["status"]) == (413, "response.tooLarge", 413)
        status, page = call("GET", "/api/things?limit=5&skip=1", token=token)
        assert status == 200 and page["total"] == 6 and [thing["name"] for thing in page["results"]] == names[1:]
        assert call("GET", "/api/things?name=thing%205", token=token)[1]["results"][0]["name"] == "thing 5"
        for key in ("a", "b"):
            assert call("PUT", f"/api/data/big/{key}", {"text": "x" * 1500}, token=token)[0] == 200
        assert call("GET", "/api/data?group=big", token=token)[1]["total"] == 2
        assert call("PUT", "/api/data/big/c", {"text": "x" * 1500}, token=token)[0] == 200
        status, refused = call("GET", "/api/data?group=big", token=token)
        assert (status, refused["code"]) == (413, "response.tooLarge")
        assert call("GET", "/api/data?group=big&limit=2", token=token)[1]["total"] == 3
