"""The server's M2X API over raw HTTP: error shapes, key access rules and
isolation between accounts, validation, persistence across a restart."""
import orjson
import pytest
import urllib3

from pyonep_fast.m2x.client import M2XClient
from pyonep_fast.m2x.errors import HTTPError
from pyonep_fast.server import EmbeddedServer


@pytest.fixture
def call(server, http):
    """call(method, path, key=None, body=None) -> (status, decoded body or text)."""
    def request(method, path, key=None, body=None, raw=None, headers=None):
        sent = dict(headers or {})
        if key is not None:
            sent["X-M2X-KEY"] = key
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
        response = http.request(method, server.url + path, body=data, headers=sent)
        try:
            return response.status, orjson.loads(response.data) if response.data else None
        except orjson.JSONDecodeError:
            return response.status, response.data.decode()
    return request


@pytest.fixture
def settings(server, http):
    def put(**values):
        response = http.request("PUT", server.url + "/_fixtures/m2x/settings", body=orjson.dumps(values))
        assert response.status == 200
    yield put
    put(auto_accounts=True)


def test_time_endpoints_are_plain_text(server, http):
    for path in ("seconds", "millis", "iso8601"):
        response = http.request("GET", f"{server.url}/v2/time/{path}")
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert http.request("GET", server.url + "/v2/time/iso8601").data.endswith(b"Z")


def test_missing_unknown_and_revoked_keys_are_401(call, new_key, settings):
    assert call("GET", "/v2/devices") == (401, {"code": "unauthorized",
                                                "message": "Unauthorized: API key missing or invalid"})
    settings(auto_accounts=False)
    assert call("GET", "/v2/devices", key="never-seen")[0] == 401
    settings(auto_accounts=True)
    key = new_key()
    status, created = call("POST", "/v2/keys", key, {"name": "k", "permissions": ["GET"]})
    assert status == 201
    status, regenerated = call("POST", f"/v2/keys/{created['key']}/regenerate", key)
    assert status == 201 and regenerated["key"] != created["key"]
    assert call("GET", "/v2/devices", key=created["key"])[0] == 401   # never again, not even a new account
    assert call("GET", "/v2/devices", key=regenerated["key"])[0] == 200


def test_unknown_key_becomes_an_account_by_default(call):
    status, listed = call("GET", "/v2/devices", key="some-program-key")
    assert status == 200 and listed["devices"] == [] and listed["total"] == 0


def test_permissions_and_device_keys(call, new_key):
    master = new_key()
    _, mine = call("POST", "/v2/devices", master, {"name": "mine", "visibility": "private"})
    _, sibling = call("POST", "/v2/devices", master, {"name": "sibling", "visibility": "private"})
    _, reader = call("POST", "/v2/keys", master, {"name": "r", "permissions": ["GET"]})
    assert call("GET", "/v2/devices", reader["key"])[0] == 200
    status, body = call("POST", "/v2/devices", reader["key"], {"name": "x", "visibility": "private"})
    assert status == 403 and body["code"] == "forbidden"
    device_key = mine["key"]  # the device's Primary Key
    assert call("GET", f"/v2/devices/{mine['id']}", device_key)[0] == 200
    assert call("PUT", f"/v2/devices/{mine['id']}/streams/t/value", device_key, {"value": 1})[0] == 202
    # a device key never reads or writes another device, nor account-wide lists
    assert call("GET", f"/v2/devices/{sibling['id']}", device_key)[0] == 403
    assert call("PUT", f"/v2/devices/{sibling['id']}/streams/t/value", device_key, {"value": 1})[0] == 403
    assert call("GET", f"/v2/devices/{sibling['id']}/streams/t/values", device_key)[0] == 403
    assert call("GET", "/v2/devices", device_key)[0] == 403
    assert call("GET", "/v2/keys", device_key)[0] == 403
    status, listed = call("GET", f"/v2/devices/{sibling['id']}/streams", master)
    assert status == 200 and listed["streams"] == []


def test_accounts_never_see_each_other(call, new_key):
    first, second = new_key(), new_key()
    _, device = call("POST", "/v2/devices", first, {"name": "private", "visibility": "public", "tags": "x"})
    call("PUT", f"/v2/devices/{device['id']}/streams/s/value", first, {"value": 5})
    _, distribution = call("POST", "/v2/distributions", first, {"name": "d", "visibility": "private"})
    for path in (f"/v2/devices/{device['id']}", f"/v2/devices/{device['id']}/streams/s/values",
                 f"/v2/distributions/{distribution['id']}", f"/v2/keys/{first}", f"/v2/keys/{device['key']}"):
        status, body = call("GET", path, second)
        assert status == 404 and body["code"] == "not_found", path
    assert call("PUT", f"/v2/devices/{device['id']}/streams/s/value", second, {"value": 6})[0] == 404
    assert call("DELETE", f"/v2/devices/{device['id']}", second)[0] == 404
    for path in ("/v2/devices", "/v2/devices/catalog", "/v2/distributions", "/v2/collections", "/v2/commands"):
        status, body = call("GET", path, second)
        assert status == 200 and body["total"] == 0, path
    assert call("GET", "/v2/devices/tags", second)[1] == {"tags": {}}
    assert [k["name"] for k in call("GET", "/v2/keys", second)[1]["keys"]] == ["Master Key"]
    # the device key of the first account is no key for the second's devices
    _, other = call("POST", "/v2/devices", second, {"name": "o", "visibility": "private"})
    assert call("GET", f"/v2/devices/{other['id']}", device["key"])[0] in (403, 404)
    assert call("GET", f"/v2/devices/{device['id']}/streams/s/values", first)[1]["values"][0]["value"] == 5.0


@pytest.mark.parametrize("method, path, body, reason", [
    ("POST", "/v2/devices", {"visibility": "public"}, {"name": ["not_present"]}),
    ("POST", "/v2/devices", {"name": "n", "visibility": "secret"}, {"visibility": ["invalid"]}),
    ("POST", "/v2/keys", {"name": "n"}, {"permissions": ["not_present"]}),
    ("POST", "/v2/keys", {"name": "n", "permissions": ["FLY"]}, {"permissions": ["invalid"]}),
    ("POST", "/v2/distributions", {"name": "n"}, {"visibility": ["not_present"]}),
    ("POST", "/v2/commands", {"name": "n"}, {"targets": ["not_present"]}),
])
def test_validation_is_422_with_a_reason(call, new_key, method, path, body, reason):
    status, answer = call(method, path, new_key(), body)
    assert status == 422
    assert answer == {"code": "unprocessable_entity", "message": "Validation Failed", "reason": reason}


def test_value_validation(call, new_key):
    key = new_key()
    _, device = call("POST", "/v2/devices", key, {"name": "d", "visibility": "private"})
    base = f"/v2/devices/{device['id']}/streams/s"
    assert call("PUT", base, key, {"type": "numeric"})[0] == 201
    assert call("PUT", base, key, {})[0] == 200
    cases = [
        ({"values": [{"value": 1}]}, {"values[0].timestamp": ["invalid"]}),
        ({"values": [{"timestamp": "2015-01-01T00:00:00Z"}]}, {"values[0].value": ["invalid"]}),
        ({"values": [{"timestamp": "2015-02-30T00:00:00.000Z", "value": 1}]}, {"values[0].timestamp": ["invalid"]}),
        ({"values": [{"timestamp": "2015-01-01T00:00:00Z", "value": 1},
                     {"timestamp": "2015-01-01T00:00:01Z", "value": "x"}]}, {"values[1].value": ["invalid"]}),
        ({"values": [{"timestamp": "2015-01-01T00:00:00Z", "value": True}]}, {"values[0].value": ["invalid"]}),
        ({"values": "nope"}, {"values": ["invalid"]}),
        ({}, {"values": ["not_present"]}),
    ]
    for body, reason in cases:
        status, answer = call("POST", base + "/values", key, body)
        assert (status, answer.get("reason")) == (422, reason), body
    assert call("POST", base + "/values", key, raw=b"{not json")[1] == {
        "code": "bad_request", "message": "The request body is not valid JSON"}
    assert call("GET", base + "/stats", key)[1]["stats"]["count"] == 0.0   # nothing refused was stored
    assert call("GET", base + "/sampling", key)[1]["reason"] == {"interval": ["not_present"]}
    assert call("GET", base + "/values?start=yesterday", key)[1]["reason"] == {"start": ["invalid"]}
    assert call("DELETE", base + "/values", key, {"from": "2015-01-01T00:00:00Z"})[1]["reason"] == {
        "end": ["not_present"]}
    assert call("PUT", base, key, {"type": "alphanumeric"})[0] == 200  # no values yet: the type may change
    call("PUT", base + "/value", key, {"value": "x"})
    assert call("PUT", base, key, {"type": "numeric"})[0] == 422
    assert call("PUT", f"/v2/devices/{device['id']}/location", key, {"latitude": 1})[1]["reason"] == {
        "longitude": ["not_present"]}


def test_unknown_paths_are_404_in_m2x_shape(call, new_key):
    assert call("GET", "/v2/nothing/here", new_key()) == (404, {"code": "not_found", "message": "Path not found"})
    assert call("PATCH", "/v2/devices", new_key())[0] == 404


def test_values_read_back_encoded_in_c(call, new_key):
    key = new_key()
    _, device = call("POST", "/v2/devices", key, {"name": "d", "visibility": "private"})
    path = f"/v2/devices/{device['id']}/streams/s/values"
    values = [{"timestamp": f"2015-01-01T00:00:{i:02d}.5Z", "value": i + 0.25} for i in range(60)]
    assert call("POST", path, key, {"values": values}) == (202, {"status": "accepted"})
    status, read = call("GET", path + "?limit=3&start=2015-01-01T00:00:10Z&end=2015-01-01T00:00:20Z", key)
    assert read == {"start": "2015-01-01T00:00:10.000Z", "end": "2015-01-01T00:00:20.000Z", "limit": 3,
                    "values": [{"timestamp": "2015-01-01T00:00:19.500Z", "value": 19.25},
                               {"timestamp": "2015-01-01T00:00:18.500Z", "value": 18.25},
                               {"timestamp": "2015-01-01T00:00:17.500Z", "value": 17.25}]}
    # a later value at an existing timestamp replaces it
    call("POST", path, key, {"values": [{"timestamp": "2015-01-01T00:00:00.500Z", "value": -1},
                                        {"timestamp": "2015-01-01T00:00:00.500Z", "value": -2}]})
    stats = call("GET", f"/v2/devices/{device['id']}/streams/s/stats", key)[1]["stats"]
    assert (stats["count"], stats["min"]) == (60.0, -2.0)


def test_state_survives_a_restart(tmp_path):
    db = str(tmp_path / "m2x.db")
    with EmbeddedServer(db=db) as server:
        client = M2XClient("persistent-key", endpoint=server.url)
        device = client.create_device(name="kept", visibility="private", tags="a,b")
        device.create_stream("s").post_values([{"timestamp": "2015-01-01T00:00:00Z", "value": 1.5}])
        device.update_metadata({"m": 1})
        device.update_location(latitude="1", longitude="2")
        key = device.create_key(name="dk", permissions=["GET"])
        collection = client.create_collection(name="c")
        collection.add_device(device.id)
        command = client.send_command(name="go", targets={"devices": [device.id]})
        client.api.close()
    with EmbeddedServer(db=db) as server:
        client = M2XClient("persistent-key", endpoint=server.url)
        again = client.device(device.id)
        assert again.name == "kept" and again.tags == ["a", "b"]
        assert again.stream("s").values()["values"] == [{"timestamp": "2015-01-01T00:00:00.000Z", "value": 1.5}]
        assert again.read_metadata() == {"m": 1} and again.location()["latitude"] == "1"
        assert client.key(key.key).name == "dk"
        assert [d.id for d in client.collection(collection.id).devices()] == [device.id]
        assert again.command(command.id)["status"] == "pending"
        client.api.close()


def test_http_error_carries_the_m2x_error_body(client):
    with pytest.raises(HTTPError) as caught:
        client.create_device(name="no visibility")
    assert caught.value.response.json() == {"code": "unprocessable_entity", "message": "Validation Failed",
                                            "reason": {"visibility": ["not_present"]}}
    assert client.last_response.status == 422 and client.last_response.json["reason"]


def test_a_body_over_the_server_limit_is_413_in_m2x_shape():
    with EmbeddedServer(max_body=1024) as small, urllib3.PoolManager(retries=False) as pool:
        created = orjson.loads(pool.request("POST", small.url + "/_fixtures/m2x/accounts").data)["key"]
        response = pool.request("POST", small.url + "/v2/devices", body=b"{" + b" " * 4096 + b"}",
                                headers={"X-M2X-KEY": created})
    assert response.status == 413
    assert orjson.loads(response.data)["code"] == "request_entity_too_large"


def test_search_endpoints_take_query_and_body_on_get_and_post(call, new_key):
    key = new_key()
    _, first = call("POST", "/v2/devices", key, {"name": "alpha", "visibility": "public", "tags": ["t"]})
    call("POST", "/v2/devices", key, {"name": "beta", "visibility": "private"})
    for method in ("GET", "POST"):
        status, found = call(method, "/v2/devices/search?visibility=public", key, {"q": "alp"})
        assert status == 200 and [d["id"] for d in found["devices"]] == [first["id"]], method
    path = f"/v2/devices/{first['id']}"
    call("POST", path + "/update", key, {"timestamp": "2015-01-01T00:00:00Z", "values": {"a": 1, "b": "x"}})
    for method in ("GET", "POST"):
        status, found = call(method, path + "/values/search", key, {"streams": ["b"]})
        assert (status, found) == (200, {"values": [{"timestamp": "2015-01-01T00:00:00.000Z",
                                                     "values": {"b": "x"}}]}), method


def test_a_device_log_records_only_its_own_accounts_requests(call, new_key):
    owner, stranger = new_key(), new_key()
    _, device = call("POST", "/v2/devices", owner, {"name": "logged", "visibility": "private"})
    path = f"/v2/devices/{device['id']}"
    assert call("GET", path + "/streams", stranger)[0] == 404
    assert call("PUT", path + "/streams/s/value", stranger, {"value": 1})[0] == 404
    assert call("GET", path + "/streams", owner)[0] == 200
    log = call("GET", path + "/log", owner)[1]["requests"]
    assert [(entry["http_method"], entry["path"], entry["status"]) for entry in log] == [
        ("GET", f"/devices/{device['id']}/streams", 200)]


def test_no_body_is_read_without_a_key(server):
    import socket
    with socket.create_connection((server.url.split("//")[1].split(":")[0], int(server.url.rsplit(":", 1)[1]))) as sock:
        # announces a body it never sends: the 401 comes without waiting for it
        sock.sendall(b"POST /v2/devices HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{")
        sock.settimeout(10)
        assert sock.recv(65536).startswith(b"HTTP/1.1 401")


def test_a_refused_update_leaves_nothing_behind(call, new_key):
    key = new_key()
    _, device = call("POST", "/v2/devices", key, {"name": "d", "visibility": "private"})
    path = f"/v2/devices/{device['id']}"
    call("PUT", path + "/streams/numeric", key, {"type": "numeric"})
    status, body = call("POST", path + "/update", key, {"timestamp": "2015-01-01T00:00:00Z",
                                                        "values": {"fresh": 1, "numeric": "not a number"}})
    assert status == 422 and body["reason"] == {"values.numeric[0].value": ["invalid"]}
    # the stream "fresh" created on the way was rolled back with its value
    assert [s["name"] for s in call("GET", path + "/streams", key)[1]["streams"]] == ["numeric"]
    assert call("GET", path + "/streams/fresh", key)[0] == 404
    # and the state goes on from the rolled-back database
    assert call("PUT", path + "/streams/fresh/value", key, {"value": 2})[0] == 202
    assert call("GET", path + "/streams/fresh/stats", key)[1]["stats"]["count"] == 1.0


@pytest.mark.parametrize("padding", [0, 5000], ids=["small body", "large body, parsed off the loop"])
def test_value_lists_store_every_iso_form_at_its_utc_millisecond(call, new_key, padding):
    key = new_key()
    _, device = call("POST", "/v2/devices", key, {"name": "d", "visibility": "private"})
    path = f"/v2/devices/{device['id']}"
    filler = [{"timestamp": f"2001-01-01T00:{k // 60000:02d}:{k // 1000 % 60:02d}.{k % 1000:03d}Z", "value": k}
              for k in range(padding)]
    written = [{"timestamp": "1969-12-31T23:59:59.9995Z", "value": 1},       # before 1970: truncated toward the past
               {"timestamp": "20150415T101530,123456789+05:30", "value": "2.5"},
               {"timestamp": "2015-04-15 04:45:30.124-00:00", "value": 3},   # the same instant as above +1 ms
               {"timestamp": "2016", "value": 4}]
    status, _ = call("POST", path + "/updates", key, {"values": {"a": filler + written, "b": written}})
    assert status == 202
    expected = [{"timestamp": "2016-01-01T00:00:00.000Z", "value": 4.0},
                {"timestamp": "2015-04-15T04:45:30.124Z", "value": 3.0},
                {"timestamp": "2015-04-15T04:45:30.123Z", "value": 2.5}]
    read = call("GET", path + "/streams/b/values", key)[1]["values"]
    assert read == expected + [{"timestamp": "1969-12-31T23:59:59.999Z", "value": 1.0}]
    assert call("GET", path + "/streams/a/values?limit=3", key)[1]["values"] == expected
    # the first refused value by position, whichever field it is
    bad = filler + [{"timestamp": "2015-01-01T00:00:00Z", "value": " 1"}, {"value": 1}]
    status, body = call("POST", path + "/streams/a/values", key, {"values": bad})
    assert (status, body["reason"]) == (422, {f"values[{padding}].value": ["invalid"]})
    status, body = call("POST", path + "/updates", key, {"values": {"b": [{"value": 1}], "a": bad}})
    assert (status, body["reason"]) == (422, {"values.b[0].timestamp": ["invalid"]})
    assert call("GET", path + "/streams/a/stats", key)[1]["stats"]["count"] == padding + 4.0
