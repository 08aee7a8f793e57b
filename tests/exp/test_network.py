"""The real-time network (spec/exp.md 1.7, 4): channels, listeners,
broadcasts and responses between SDK instances through the server."""
import threading
import time

import pytest

import pyonep_fast.exp as exp_sdk
from pyonep_fast.exp import network
from pyonep_fast.exp._channels import channel_id, parse_channel_id
from pyonep_fast.server import EmbeddedServer
from exp_helpers import SCALA_DEVICE, network_threads, new_organization
from polling import eventually


def test_channel_id_matches_the_sdks():
    assert channel_id("scala", "test_channel") == "WyJzY2FsYSIsInRlc3RfY2hhbm5lbCIsMCwwXQ=="
    assert parse_channel_id("WyJzY2FsYSIsInRlc3RfY2hhbm5lbCIsMCwwXQ==") == ("scala", "test_channel", False, False)
    assert channel_id("o", "é", True, True) == channel_id("o", "\u00e9", 1, 1)
    assert parse_channel_id(channel_id("o", "é", True, True)) == ("o", "é", True, True)
    for bad in ("not base64!", "WyJ4Il0=", 5, None, channel_id("o", "x")[:-4]):
        assert parse_channel_id(bad) is None


def test_listen_then_broadcast_on_the_same_instance(device):
    channel = device.get_channel("test_channel")
    assert channel is device.get_channel("test_channel")  # cached per id
    listener = channel.listen("test_message", timeout=5)
    assert device.is_connected
    assert channel.broadcast("test_message", {"a": 1}, timeout=1) == []  # nobody responds
    # the message was emitted before the request was held open: it is here, no waiting needed
    broadcast = listener.wait(0)
    assert broadcast is not None and broadcast.payload == {"a": 1}
    assert listener.wait(0) is None
    channel.broadcast("other_name", {"a": 2})
    channel.broadcast("test_message", None, timeout=0)
    assert listener.wait(2).payload is None
    assert listener.wait(0) is None  # other names are not queued here


def test_listeners_get_independent_copies_in_order(device):
    channel = device.get_channel("copies")
    first = channel.listen("m", timeout=5)
    second = channel.listen("m", timeout=5)
    for n in range(3):
        channel.broadcast("m", {"n": n, "list": [n]}, timeout=0)
    received = [first.wait(2) for _ in range(3)]
    assert [b.payload["n"] for b in received] == [0, 1, 2]
    payload = received[0].payload
    payload["list"].append("changed")
    assert received[0].payload == {"n": 0, "list": [0]}
    assert second.wait(2).payload == {"n": 0, "list": [0]}


def test_listener_max_age_drops_old_messages(device):
    channel = device.get_channel("aging")
    listener = channel.listen("m", timeout=5, max_age=1)
    channel.broadcast("m", {"old": True})
    eventually(lambda: listener._queue)
    listener._queue[0]._received -= 2  # received two seconds ago
    channel.broadcast("m", {"new": True})
    eventually(lambda: len(listener._queue) == 2)
    assert listener.wait(0).payload == {"new": True}
    assert listener.wait(0) is None


def test_cancelled_listener_gets_nothing_more(device):
    channel = device.get_channel("cancel")
    kept = channel.listen("m", timeout=5)
    cancelled = channel.listen("m", timeout=5)
    cancelled.cancel()
    channel.broadcast("m", 1)
    assert kept.wait(2).payload == 1
    assert cancelled.wait(0) is None


def test_broadcast_collects_responses_from_another_instance(org, start):
    responder = start(**org["device"])
    broadcaster = start(**org["consumerApp"])
    listener = responder.get_channel("consumer_channel", consumer=True).listen("hi", timeout=5)

    def respond():
        broadcast = listener.wait(5)
        broadcast.respond({"b": broadcast.payload["a"] + 1})
    thread = threading.Thread(target=respond)
    thread.start()
    responses = broadcaster.get_channel("consumer_channel", consumer=True).broadcast("hi", {"a": 1}, timeout=2)
    thread.join()
    assert responses == [{"b": 2}]


def test_fling_and_identify_are_broadcasts(device):
    channel = device.get_channel("player")
    flings = channel.listen("fling", timeout=5)
    identifies = channel.listen("identify", timeout=5)
    channel.fling({"uuid": "content"})
    channel.identify()
    assert flings.wait(2).payload == {"uuid": "content"}
    assert identifies.wait(2).payload is None


def test_listen_without_network_times_out(start, org):
    exp = start(enable_network=False, **org["device"])
    assert not exp.is_connected
    with pytest.raises(exp_sdk.NetworkError) as raised:
        exp.get_channel("x").listen("m", timeout=0.2)
    assert raised.value.message == "Listen timed out."


def test_organizations_are_isolated(server, http, start):
    first = new_organization(server, http)
    second = new_organization(server, http)
    a = start(**first["device"])
    b = start(**second["device"])
    listener = b.get_channel("shared name").listen("m", timeout=5)
    a.get_channel("shared name").broadcast("m", "from a", timeout=0)
    b.get_channel("shared name").broadcast("m", "from b", timeout=0)
    assert listener.wait(2).payload == "from b"
    assert listener.wait(0.2) is None
    # a channel id of another organization: refused on broadcast, dropped on subscribe
    foreign = b.get_channel("shared name").id
    with pytest.raises(exp_sdk.ApiError) as raised:
        a.post("/api/networks/current/broadcasts", {"channel": foreign, "name": "m", "payload": 1})
    assert raised.value.status_code == 403
    with pytest.raises(exp_sdk.NetworkError):
        a._sdk.network._channel(foreign).listen("m", timeout=0.5)
    # and nobody else's documents
    assert a.get_device(second["device"]["uuid"]) is None
    assert second["device"]["uuid"] not in [d.uuid for d in a.find_devices()]


def test_consumer_apps_use_consumer_channels_only(org, start):
    consumer = start(**org["consumerApp"])
    with pytest.raises(exp_sdk.NetworkError):
        consumer.get_channel("not for consumers").listen("m", timeout=0.5)
    with pytest.raises(exp_sdk.ApiError) as raised:
        consumer.get_channel("not for consumers").broadcast("m")
    assert raised.value.status_code == 403
    assert consumer.get_channel("for consumers", consumer=True).listen("m", timeout=5)


def test_only_the_server_broadcasts_on_system_channels(org, start):
    user = start(**org["user"])
    thing = user.create_thing({"name": "watched"})
    updates = thing.get_channel(system=True).listen("update", timeout=5)
    with pytest.raises(exp_sdk.ApiError) as raised:
        thing.get_channel(system=True).broadcast("update", {})
    assert raised.value.status_code == 403
    thing.name = "saved"
    thing.save()
    assert updates.wait(2).payload["name"] == "saved"


def test_pairing_device_connects_but_uses_no_channel(start):
    exp = start(allow_pairing=True)
    eventually(lambda: exp.is_connected)
    with pytest.raises(exp_sdk.NetworkError):
        exp.get_channel("x").listen("m", timeout=0.3)


def test_bad_broadcasts_get_exp_errors(device):
    for body, params, status in [
        ({"channel": "%%%", "name": "m"}, None, 400),
        ({"channel": {"name": "x"}}, None, 400),
        ({"channel": {"name": "x"}, "name": "m"}, {"timeout": "soon"}, 400),
        ({"channel": {"name": "x"}, "name": "m"}, {"timeout": "nan"}, 400),
    ]:
        with pytest.raises(exp_sdk.ApiError) as raised:
            device.post("/api/networks/current/broadcasts", body, params=params)
        assert raised.value.status_code == status and raised.value.code == "request.invalid"
    # a channel given as an object, in the caller's organization
    listener = device.get_channel("by object").listen("m", timeout=5)
    device.post("/api/networks/current/broadcasts", {"channel": {"name": "by object"}, "name": "m", "payload": 3})
    assert listener.wait(2).payload == 3
    assert device.post("/api/networks/current/responses", {"id": "unknown", "channel": "x", "payload": 1}) == {}


def test_is_connected_and_reconnect_after_a_server_restart(tmp_path):
    db = str(tmp_path / "restart.db")
    server = EmbeddedServer(db=db).start()
    port = int(server.url.rsplit(":", 1)[1])
    exp = exp_sdk.start(host=server.url, **SCALA_DEVICE)
    try:
        listener = exp.get_channel("survives").listen("m", timeout=5)
        first_socket = exp._sdk.network._socket
        server.stop()  # every socket dropped
        eventually(lambda: not exp.is_connected)
        server = EmbeddedServer(db=db, port=port).start()  # same port, same database
        # the token (signed with the key kept in the database) is still good: reconnect, re-subscribe
        eventually(lambda: exp.is_connected and exp._sdk.network._socket is not first_socket, timeout=10)
        eventually(lambda: exp.get_channel("survives")._subscribed, timeout=5)
        exp.get_channel("survives").broadcast("m", "after restart", timeout=0)
        assert listener.wait(5).payload == "after restart"
    finally:
        exp_sdk.stop()
        server.stop()
    assert network_threads() == []


def test_stop_during_reconnect_attempts_ends_the_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(network, "RETRY_SECONDS", 120.0)  # stop() must not wait for a retry pause
    server = EmbeddedServer(db=str(tmp_path / "gone.db")).start()
    exp = exp_sdk.start(host=server.url, **SCALA_DEVICE)
    eventually(lambda: exp.is_connected)
    server.stop()  # the network now retries every second, in vain
    eventually(lambda: not exp.is_connected)
    started = time.monotonic()
    exp.stop()
    assert time.monotonic() - started < 60
    assert network_threads() == []


def test_engine_io_3_clients_are_refused_with_a_clear_answer(server, http, org):
    """The hosted EXP spoke Engine.IO 3 (socketIO-client 0.7, socket.io-client
    1.x); this server is python-socketio 5 (Engine.IO 4 only, spec 4.1): an
    EIO=3 handshake gets a 400 naming the protocol version, an EIO=4 one
    with the same token opens a session."""
    token = exp_sdk.start(host=server.url, enable_network=False, **org["device"]).get_auth()["token"]
    legacy = http.request("GET", f"{server.url}/socket.io/?EIO=3&transport=polling&token={token}")
    assert legacy.status == 400 and b"unsupported version" in legacy.data
    current = http.request("GET", f"{server.url}/socket.io/?EIO=4&transport=polling&token={token}")
    assert current.status == 200 and current.data.startswith(b"0{") and b'"sid"' in current.data


def test_a_listener_added_while_the_socket_finishes_connecting_is_subscribed(org, start, monkeypatch):
    """Between the connect handler (which subscribes the channels that have
    listeners) and python-socketio marking the client connected, a new
    listener's own subscribe must still go out. The loop is held in that
    window (as a busy loop would) while the listener is added."""
    import socketio

    handled = threading.Event()
    original = socketio.AsyncClient._handle_connect

    async def then_hold_the_loop(self, namespace, data):
        await original(self, namespace, data)
        if not handled.is_set():
            handled.set()
            time.sleep(0.5)  # `connected` is set only once the loop runs on

    monkeypatch.setattr(socketio.AsyncClient, "_handle_connect", then_hold_the_loop)
    device = start(**org["device"])
    assert handled.wait(10)
    listener = device.get_channel("late").listen("hi", timeout=5)
    start(enable_network=False, **org["user"]).get_channel("late").broadcast("hi", {"n": 1})
    assert eventually(lambda: listener.wait(0.1)).payload == {"n": 1}
