"""Authentication (spec/exp.md 2): login, refresh, the live auth dict, token
expiry against a server with short-lived tokens."""
import threading
import time

import pytest

import pyonep_fast.exp as exp_sdk
from pyonep_fast.server import EmbeddedServer
from exp_helpers import SCALA_CONSUMER, SCALA_DEVICE, SCALA_USER, network_threads
from polling import eventually


@pytest.mark.parametrize("credentials", [SCALA_DEVICE, SCALA_USER, SCALA_CONSUMER], ids=["device", "user", "consumer"])
def test_login_refresh_and_tampered_token(start, credentials):
    exp = start(**credentials)
    auth = exp.get_auth()
    assert auth is exp.get_auth()  # the live dict, not a copy
    assert auth["expiration"] > time.time() * 1000  # absolute epoch milliseconds
    assert auth["restrictedToken"] and auth["identity"]["organization"] == "scala"
    assert auth["api"]["host"] == auth["network"]["host"] == exp._sdk.options["host"]

    exp._sdk.authenticator._login()
    logged_in = exp.get_auth()
    assert logged_in is not auth and logged_in["token"] != auth["token"]
    exp._sdk.authenticator._refresh()
    refreshed = exp.get_auth()
    assert refreshed["token"] != logged_in["token"]
    assert exp.find_devices() is not None

    # a tampered token is refused at refresh; the new login uses the changed options and fails
    exp.get_auth()["token"] = "tampered" + refreshed["token"]
    exp._sdk.options["uuid"] = "blah"
    exp._sdk.options["username"] = "blah"
    with pytest.raises(exp_sdk.AuthenticationError) as raised:
        exp._sdk.authenticator._refresh()
    assert raised.value.message == "Invalid credentials."
    with pytest.raises(exp_sdk.AuthenticationError) as raised:
        exp.get_auth()
    assert raised.value.message == "Invalid credentials. Please restart the SDK with valid credentials."


def test_tampered_token_makes_api_calls_answer_401(start):
    exp = start(enable_network=False, **SCALA_DEVICE)
    exp.get_auth()["token"] += "x"
    with pytest.raises(exp_sdk.ApiError) as raised:
        exp.get_device("test-uuid")
    assert raised.value.status_code == 401 and raised.value.code == "auth.unauthorized"


def test_refresh_is_due_at_three_quarters_of_the_lifetime(start):
    exp = start(enable_network=False, **SCALA_DEVICE)
    authenticator = exp._sdk.authenticator
    auth = exp.get_auth()
    lifetime = auth["expiration"] / 1000 - time.time()
    assert 3500 < lifetime <= 3600
    assert abs(authenticator._refresh_at - (time.time() + 0.75 * lifetime)) < 5
    authenticator._refresh_at = time.time() - 2  # due
    assert exp.get_auth() is not auth
    assert exp.get_auth() is exp.get_auth()


@pytest.fixture
def short_token_server(tmp_path):
    """A server whose tokens live 2 seconds."""
    with EmbeddedServer(db=str(tmp_path / "short.db"), exp_token_lifetime=2.0) as server:
        yield server


def test_expired_tokens_are_refused_and_the_network_refreshes(short_token_server):
    exp = exp_sdk.start(host=short_token_server.url, **SCALA_DEVICE)
    try:
        first = exp.get_auth()
        first_token = first["token"]
        first_socket = eventually(lambda: exp.is_connected and exp._sdk.network._socket)
        # the network thread asks for the auth every second: it refreshes at the 75 % mark
        # and connects a new socket with the new token
        eventually(lambda: exp._sdk.authenticator._auth is not first, timeout=5)
        eventually(lambda: exp.is_connected and exp._sdk.network._socket is not first_socket, timeout=5)
        # the old token expires 2 s after it was issued
        eventually(lambda: first["expiration"] < time.time() * 1000, timeout=5)
        status, _ = exp._sdk.api.send("GET", "/api/devices/test-uuid", token=first_token)
        assert status == 401
        assert exp.get_device("test-uuid").uuid == "test-uuid"
        channel = exp.get_channel("refreshing")
        listener = channel.listen("hello", timeout=5)
        channel.broadcast("hello", {"n": 1})
        assert listener.wait(5).payload == {"n": 1}
    finally:
        exp_sdk.stop()
    assert network_threads() == []


def test_refresh_of_a_deleted_device_logs_in_again_and_fails(start, org):
    user = start(enable_network=False, **org["user"])
    created = user.create_device({"name": "short-lived"})
    device = start(enable_network=False, uuid=created.uuid, secret=created.document["secret"])
    assert device.get_current_device().uuid == created.uuid
    user.delete_device(created.uuid)
    with pytest.raises(exp_sdk.AuthenticationError):
        device._sdk.authenticator._refresh()


def test_a_created_device_logs_in_with_its_hex_secret(start, org):
    user = start(enable_network=False, **org["user"])
    created = user.create_device()
    secret = created.document["secret"]
    assert len(secret) == 96 and int(secret, 16) >= 0
    device = start(enable_network=False, uuid=created.uuid, secret=secret)
    assert device.get_current_device().document == created.document


def test_concurrent_get_auth_refreshes_once(start):
    events = []
    exp = start(enable_network=False, transport_options={"hooks": [events.append]}, **SCALA_DEVICE)
    exp.get_auth()
    exp._sdk.authenticator._refresh_at = time.time() - 2  # due
    barrier = threading.Barrier(8)
    seen = []

    def get():
        barrier.wait()
        seen.append(exp.get_auth())
    threads = [threading.Thread(target=get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(auth) for auth in seen}) == 1
    assert [event.url.rsplit("/", 1)[1] for event in events] == ["login", "token"]
