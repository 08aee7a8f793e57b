"""exp_sdk.start / stop (spec/exp.md 1.2-1.3)."""
import builtins
import inspect
import socket
import threading
import time

import pytest

import pyonep_fast.exp as exp_sdk
from exp_helpers import SCALA_CONSUMER, SCALA_DEVICE, SCALA_USER, network_threads
from polling import eventually

# (options, message) of the validation table, evaluated in its order
INVALID_STARTS = [
    ({}, "Please specify authentication type."),
    ({"uuid": "x"}, "Please specify authentication type."),
    ({"uuid": "x", "secret": None}, "Please specify authentication type."),
    ({"uuid": "x", "api_key": None}, "Please specify authentication type."),
    ({"secret": "s"}, "Please specify the device uuid."),
    ({"uuid": "x", "type": "device"}, "Please specify the device secret."),
    ({"type": "device"}, "Please specify the device uuid."),
    ({"username": "u"}, "Please specify the password."),
    ({"password": "p"}, "Please specify the username."),
    ({"username": "u", "password": "p"}, "Please specify the organization."),
    ({"password": "p", "organization": "o"}, "Please specify the username."),
    ({"type": "user", "uuid": "x", "secret": "s"}, "Please specify the username."),
    ({"api_key": "k"}, "Please specify the consumer app uuid."),
    ({"type": "consumer_app", "uuid": "x"}, "Please specify the consumer app api key."),
    ({"type": "consumer_app", "api_key": "k"}, "Please specify the consumer app uuid."),
    # user credentials win over device ones, device ones over consumer ones
    ({"username": "u", "secret": "s", "uuid": "x"}, "Please specify the password."),
    ({"secret": "s", "api_key": "k"}, "Please specify the device uuid."),
    ({"type": "something"}, "Please specify authentication type."),
]


@pytest.mark.parametrize("options,message", INVALID_STARTS)
def test_start_validates_options_in_order(options, message):
    with pytest.raises(exp_sdk.RuntimeError) as raised:
        exp_sdk.start(host="http://127.0.0.1:9", **options)
    assert raised.value.message == message
    assert str(raised.value) == message
    assert isinstance(raised.value, exp_sdk.ExpError) and isinstance(raised.value, builtins.RuntimeError)
    assert network_threads() == []


def test_start_does_not_change_the_callers_options(start):
    options = dict(SCALA_DEVICE, enable_network=False)
    exp = start(**options)
    assert options == dict(SCALA_DEVICE, enable_network=False)
    assert exp._sdk.options["type"] == "device"
    assert exp._sdk.options["enable_network"] is False


def test_start_as_device_user_and_consumer(start):
    device = start(**SCALA_DEVICE)
    user = start(**SCALA_USER)
    consumer = start(**SCALA_CONSUMER)
    assert device.get_auth()["identity"] == {"type": "device", "uuid": "test-uuid", "organization": "scala"}
    assert user.get_auth()["identity"]["type"] == "user"
    assert user.get_auth()["identity"]["username"] == "test@goexp.io"
    assert consumer.get_auth()["identity"]["type"] == "consumerApp"
    assert {device._sdk.options["type"], user._sdk.options["type"], consumer._sdk.options["type"]} == \
        {"device", "user", "consumer_app"}


def test_the_5_0_0_user_fixture_logs_in_too(start):
    exp = start(username="test@test.com", password="12345test", organization="scala")
    assert exp.get_auth()["identity"]["organization"] == "scala"


def test_pairing_start_without_credentials(start):
    exp = start(allow_pairing=True)
    identity = exp.get_auth()["identity"]
    assert identity["type"] == "device" and identity["isPairing"] is True
    assert identity["organization"] is None and identity["uuid"]
    # nothing to read, nothing to write (spec 2.3)
    assert exp.get_current_device() is None
    assert exp.find_devices().total == 0
    with pytest.raises(exp_sdk.ApiError) as raised:
        exp.create_device({})
    assert raised.value.status_code == 403


def test_pairing_falls_back_when_the_secret_is_wrong(start):
    exp = start(uuid="test-uuid", secret="not the secret", allow_pairing=True)
    assert exp.get_auth()["identity"]["isPairing"] is True
    assert exp.get_auth()["identity"]["uuid"] != "test-uuid"


def test_wrong_credentials_raise_authentication_error(start):
    with pytest.raises(exp_sdk.AuthenticationError):
        start(uuid="wrong uuid", secret="test-secret")
    with pytest.raises(exp_sdk.AuthenticationError):
        start(username="test@goexp.io", password="wrong", organization="scala")
    with pytest.raises(exp_sdk.AuthenticationError):
        start(uuid="test-uuid", api_key="wrong key")


def test_unreachable_host_raises_unexpected_error(start):
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(exp_sdk.UnexpectedError):
        start(host=f"http://127.0.0.1:{port}", enable_network=False, **SCALA_DEVICE)


def test_module_stop_and_instance_stop(start):
    first = start(**SCALA_DEVICE)
    second = start(**SCALA_USER)
    third = start(**SCALA_CONSUMER)
    first.stop()
    for call in (first.get_auth, first.stop, first.find_devices, lambda: first.is_connected,
                 lambda: first.get_channel("x"), lambda: first.get("/api/devices")):
        with pytest.raises(exp_sdk.RuntimeError) as raised:
            call()
        assert raised.value.message == "This SDK instance is stopped."
    assert second.get_auth()["token"]
    exp_sdk.stop()
    with pytest.raises(exp_sdk.RuntimeError):
        second.get_auth()
    with pytest.raises(exp_sdk.RuntimeError):
        third.get_device("test-uuid")
    assert network_threads() == []


def test_instances_share_one_network_thread_that_ends_with_the_last(start):
    exps = [start(**SCALA_DEVICE) for _ in range(3)]
    assert [thread.name for thread in network_threads()].count("exp-sdk-network") == 1
    for exp in exps[:2]:
        exp.stop()
    assert eventually(lambda: exps[2].is_connected)
    exps[2].stop()
    assert network_threads() == []
    again = start(**SCALA_DEVICE)  # a new instance starts a new thread
    assert eventually(lambda: again.is_connected)


def test_a_failed_start_stays_registered_until_stop(server):
    with pytest.raises(exp_sdk.AuthenticationError):
        exp_sdk.start(host=server.url, uuid="test-uuid", secret="wrong")
    exp_sdk.stop()
    assert network_threads() == []


def test_stop_right_after_the_network_starts(server):
    """stop() at once after start(), whether or not the supervisor has run
    yet, ends it and the shared thread."""
    from pyonep_fast.exp.exp import Sdk

    for _ in range(20):
        options = dict(SCALA_DEVICE, host=server.url, type="device")
        sdk = Sdk(**options)
        sdk.network.start()
        stopper = threading.Thread(target=sdk.network.stop, daemon=True)
        stopper.start()
        stopper.join(10)
        assert not stopper.is_alive()
        sdk.api.close()
    assert network_threads() == []


def test_upstream_names_and_signatures(start, org):
    """The exp_sdk 5.0.0 names programs may use besides the README's: start
    and stop in exp_sdk.exp, Sdk(**options), the classes on sdk.api, the
    delete_ class methods, Collection(cls, answer, sdk), the mixins,
    Zone.get_current, Data's group/key setters, Authenticator.generate_jwt,
    Network.emit, and listen/wait taking extra keywords."""
    from pyonep_fast.exp import _jws, api, authenticator, exp

    assert exp.start is exp_sdk.start and exp.stop is exp_sdk.stop
    assert inspect.signature(exp.Sdk).parameters["options"].kind is inspect.Parameter.VAR_KEYWORD
    user = start(**org["user"])
    device = start(**org["device"])
    sdk = user._sdk
    for name in ("Device", "Thing", "Experience", "Location", "Zone", "Feed", "Data", "Content"):
        assert getattr(sdk.api, name) is getattr(api, name)
    assert issubclass(api.Device, (api.GetLocationMixin, api.GetExperienceMixin, api.CommonResource))
    assert issubclass(api.Location, (api.GetDevicesMixin, api.GetThingsMixin))
    found = api.Collection(api.Thing, {"results": [{"uuid": "t1", "name": "a"}], "total": 1}, sdk)
    assert found[0].uuid == "t1" and found.total == 1
    thing = user.create_thing()
    assert api.Thing.delete_(thing.uuid, sdk) is None and user.get_thing(thing.uuid) is None
    assert api.Thing.delete_(None, sdk) is None
    user.create_data("g", "k", {"v": 1})
    assert api.Data.delete_("g", "k", sdk) is None and user.get_data("g", "k") is None
    data = user.create_data("g", "k2", {"v": 2})
    data.group, data.key = "g2", "k3"
    data.save()
    assert user.get_data("g2", "k3").value == {"v": 2}
    # an answer that is not an object leaves an empty document, not None
    data.document = None
    assert data.document == {} and data.value is None
    location = user.create_location({"zones": [{"key": "z", "name": "Zone"}]})
    me = device.get_current_device()
    me.document["location"] = {"uuid": location.uuid, "zones": [{"key": "z"}]}
    me.save()
    assert [zone.key for zone in api.Zone.get_current(device._sdk)] == ["z"]
    assert api.Zone.get_current(sdk) == []
    claims = {"type": "device", "uuid": "u"}
    token = authenticator.Authenticator.generate_jwt(claims, "secret")
    assert _jws.claims_unverified(token) == claims and claims["exp"] > time.time() * 100
    _jws.verify(token, "secret")
    listener = device.get_channel("extra").listen("hi", timeout=10, unknown_option=1)
    assert listener.wait(0, unknown_option=1) is None
    assert device._sdk.network.emit("subscribe", []) is True  # connected: sent
    offline = start(enable_network=False, **org["user"])
    assert offline._sdk.network.emit("subscribe", []) is False  # no socket: nothing sent
