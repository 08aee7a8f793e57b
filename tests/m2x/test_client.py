"""Every method of the client (spec §5) against the embedded server, with
the shapes and quirks the contract fixes."""
import datetime
import threading
import time

import pytest

from pyonep_fast.m2x.api import HTTPResponse
from pyonep_fast.m2x.errors import HTTPError
from pyonep_fast.m2x.v2.collections import Collection, CollectionDevice
from pyonep_fast.m2x.v2.commands import Command
from pyonep_fast.m2x.v2.devices import Device
from pyonep_fast.m2x.v2.distributions import Distribution, DistributionDevice
from pyonep_fast.m2x.v2.jobs import Job
from pyonep_fast.m2x.v2.keys import Key
from pyonep_fast.m2x.v2.streams import Stream

UTC = datetime.timezone.utc


def test_status_and_time(client):
    assert client.status() == {"api": "OK", "triggers": "OK"}
    now = client.time()
    assert set(now) == {"seconds", "millis", "iso8601"}
    assert abs(now["millis"] - time.time() * 1000) < 60_000
    assert isinstance(client.time_seconds(), int) and isinstance(client.time_millis(), int)
    stamp = client.time_iso8601()
    assert isinstance(stamp, bytes) and stamp.endswith(b"Z") and len(stamp) == 24


def test_create_get_list_update_remove_device(client):
    device = client.create_device(name="foobar", visibility="public", description="d", tags=["a", "b"])
    assert isinstance(device, Device)
    assert device.name == "foobar" and device.visibility == "public" and device.status == "enabled"
    assert device.tags == ["a", "b"] and device.serial is None
    assert device.url.endswith("/v2/devices/" + device.id)
    assert isinstance(device.created, datetime.datetime) and device.created.tzinfo == UTC
    assert device["streams"] == {"count": 0, "url": device.url + "/streams"}
    assert client.last_response.status == 201
    plain = client.create_device(name="untagged", visibility="private")
    assert plain.tags is None
    assert client.device(device.id).data == device.data
    assert [d.id for d in client.devices()] == [device.id, plain.id]
    assert [d.id for d in client.devices(q="foo")] == [device.id]
    assert [d.id for d in client.devices(tags="a")] == [device.id]
    assert [d.id for d in client.devices(visibility="private")] == [plain.id]
    assert client.last_response.json["total"] == 1
    assert client.device_tags() == {"a": 1, "b": 1}
    assert Device.by_tags(client.api) == {"a": 1, "b": 1}
    assert [d.id for d in client.device_catalog()] == [device.id]
    assert [d.id for d in Device.catalog(client.api)] == [device.id]
    assert [d.id for d in client.devices_search(params={"q": "untag"})] == [plain.id]
    assert [d.id for d in Device.search(client.api, data={"visibility": "public"})] == [device.id]
    merged = device.update(name="renamed", visibility="private", tags=["c"])
    assert merged is device.data and merged["name"] == "renamed" and merged["tags"] == ["c"]
    assert client.last_response.status == 204
    assert client.device(device.id).name == "renamed"
    assert device.remove() is None
    with pytest.raises(HTTPError):
        client.device(device.id)
    assert client.last_response.status == 404


def test_device_without_tags_in_the_tag_map(client):
    assert client.device_tags() == []  # empty map: []
    client.create_device(name="x", visibility="private")
    assert client.device_tags() == []
    with pytest.raises(TypeError):
        client.device_tags(q="x")


def test_pagination_reaches_every_device(client):
    created = [client.create_device(name=f"d{i}", visibility="private").id for i in range(5)]
    first = client.devices(limit=2)
    assert [d.id for d in first] == created[:2]
    page = client.last_response.json
    assert (page["total"], page["pages"], page["limit"], page["current_page"]) == (5, 3, 2, 1)
    assert [d.id for d in client.devices(limit=2, page=3)] == created[4:]


def test_streams_crud(client, device):
    stream = device.create_stream("temperature", unit={"symbol": "C", "label": "Celsius"}, type="numeric")
    assert isinstance(stream, Stream) and stream.device is device
    assert stream.name == "temperature" and stream.unit == {"symbol": "C", "label": "Celsius"}
    assert stream.url.endswith(f"/devices/{device.id}/streams/temperature")
    assert client.last_response.status == 201
    bare = device.create_stream("bare")
    assert bare.name == "bare" and bare.type == "numeric"
    out = device.update_stream("temperature", unit={"symbol": "F", "label": "Fahrenheit"})
    assert out["unit"]["label"] == "Fahrenheit" and client.last_response.status == 200
    assert [s.name for s in device.streams()] == ["temperature", "bare"]
    fetched = device.stream("temperature")
    assert fetched.unit["symbol"] == "F" and Stream.fetch(client.api, device, "bare").name == "bare"
    assert stream.update(display_name="Temp")["display_name"] == "Temp"
    assert bare.remove() is None
    assert [s.name for s in device.streams()] == ["temperature"]


def test_values_round_trip_newest_first(client, device, local_zone):
    local_zone("UTC")
    stream = device.create_stream("t")
    assert stream.add_value(1.5, timestamp=datetime.datetime(2015, 4, 21, 3, 0, 0)) == {"status": "accepted"}
    assert stream.update_value(2.5, "2015-04-21T04:00:00.000Z") == {"status": "accepted"}
    assert client.last_response.status == 202
    stream.post_values([{"timestamp": datetime.datetime(2015, 4, 21, 5), "value": 3.5},
                        {"timestamp": "2015-04-21T06:00:00.123456Z", "value": 4}])
    read = stream.values()
    assert read["limit"] == 100 and "end" in read
    assert read["values"] == [{"timestamp": "2015-04-21T06:00:00.123Z", "value": 4.0},
                              {"timestamp": "2015-04-21T05:00:00.000Z", "value": 3.5},
                              {"timestamp": "2015-04-21T04:00:00.000Z", "value": 2.5},
                              {"timestamp": "2015-04-21T03:00:00.000Z", "value": 1.5}]
    window = stream.values(start="2015-04-21T04:00:00Z", end="2015-04-21T05:00:00Z", limit=1)
    assert window["values"] == [{"timestamp": "2015-04-21T05:00:00.000Z", "value": 3.5}]
    assert window["start"] == "2015-04-21T04:00:00.000Z"
    stats = stream.stats()["stats"]
    assert stats == {"count": 4.0, "min": 1.5, "max": 4.0, "avg": 2.875, "stddev": pytest.approx(0.9601432)}
    assert stream.stats(start="2015-04-21T05:00:00Z")["stats"]["count"] == 2.0  # filters from the JSON body
    sampled = stream.sampling(3600 * 2)
    assert sampled["interval"] == "7200"
    assert sampled["values"] == [{"timestamp": "2015-04-21T06:00:00.000Z", "value": 4.0},
                                 {"timestamp": "2015-04-21T04:00:00.000Z", "value": 3.0},
                                 {"timestamp": "2015-04-21T02:00:00.000Z", "value": 1.5}]
    assert [v["value"] for v in stream.sampling(2, type="nth")["values"]] == [3.5, 1.5]  # every 2nd, oldest on
    assert stream.delete_values(datetime.datetime(2015, 4, 21, 4), "2015-04-21T05:00:00Z") is None
    assert client.last_response.status == 204
    assert [v["value"] for v in stream.values()["values"]] == [4.0, 1.5]
    assert device.stream("t").value == 4.0


def test_add_value_with_timestamp_zero_sends_none(client, device):
    stream = device.create_stream("z")
    before = time.time()
    stream.add_value(7, timestamp=0)
    stamp = datetime.datetime.fromisoformat(stream.values()["values"][0]["timestamp"].replace("Z", "+00:00"))
    assert stamp.timestamp() >= before - 1  # the server's now, not 1970


def test_alphanumeric_stream(client, device):
    stream = device.create_stream("status", type="alphanumeric")
    stream.post_values([{"timestamp": "2015-01-01T00:00:00Z", "value": "on"},
                        {"timestamp": "2015-01-01T00:00:01Z", "value": 3}])
    assert [v["value"] for v in stream.values()["values"]] == ["3", "on"]


def test_updates_location_log_values(client, device):
    assert device.post_updates(values={"a": [{"timestamp": "2015-01-01T00:00:00Z", "value": 1},
                                             {"timestamp": "2015-01-01T00:00:01Z", "value": 2}],
                                       "b": [{"timestamp": "2015-01-01T00:00:00Z", "value": 10}]},
                               location={"latitude": "1", "longitude": "2"}) == {"status": "accepted"}
    assert device.post_update(timestamp="2015-01-01T00:00:02Z", values={"a": 3, "c": 30}) == {"status": "accepted"}
    assert sorted(s.name for s in device.streams()) == ["a", "b", "c"]
    values = device.values()
    assert values["values"][0] == {"timestamp": "2015-01-01T00:00:02.000Z", "values": {"a": 3.0, "c": 30.0}}
    assert values["values"][-1] == {"timestamp": "2015-01-01T00:00:00.000Z", "values": {"a": 1.0, "b": 10.0}}
    assert [row["values"] for row in device.values(streams="b")["values"]] == [{"b": 10.0}]
    assert device.values_search(streams=["a"], limit=1)["values"] == [
        {"timestamp": "2015-01-01T00:00:02.000Z", "values": {"a": 3.0}}]
    fresh = client.device(device.id)
    assert fresh.location()["latitude"] == "1"  # the cached location: no request
    assert device.location()["waypoints"][0]["longitude"] == "2"
    assert device.update_location(latitude="-32.8836", longitude="-56.1819") == {"status": "accepted"}
    assert device.location_history()["waypoints"][0]["latitude"] == "-32.8836"
    assert len(device.location_history(limit=1)["waypoints"]) == 1
    assert device.delete_location_history(data={"from": "2000-01-01T00:00:00Z",
                                                 "end": "2100-01-01T00:00:00Z"}) == {"status": "accepted"}
    assert device.location_history()["waypoints"] == []
    log = device.log()["requests"]
    assert log[0]["http_method"] == "GET" and log[0]["path"] == f"/devices/{device.id}/location/waypoints"
    assert {entry["status"] for entry in log} >= {200, 202}


def test_location_never_set_is_empty(client, device):
    assert device.location() == {}
    assert client.last_response.status == 204


def finished_job(client, job_id, deadline=30.0):
    """The job once it is no longer working (polled until the deadline)."""
    give_up = time.monotonic() + deadline
    while True:
        job = client.job(job_id)
        if job.state != "working" or time.monotonic() > give_up:
            return job
        time.sleep(0.01)


def test_values_export_job(client, device):
    device.post_updates(values={"a": [{"timestamp": "2015-01-01T00:00:00Z", "value": 1}],
                                "b": [{"timestamp": "2015-01-01T00:00:01Z", "value": "x, \"quoted\""}]})
    response = device.values_export()
    assert isinstance(response, HTTPResponse) and response.status == 202
    job_id = response.headers["location"].rsplit("/", 1)[1]
    job = finished_job(client, job_id)
    assert isinstance(job, Job) and job.state == "complete"
    assert job.result["url"].endswith(f"/jobs/{job_id}/result")
    csv_text = client.get(f"jobs/{job_id}/result").text
    assert csv_text == 'timestamp,a,b\n2015-01-01T00:00:00.000Z,1.0,\n2015-01-01T00:00:01.000Z,,"x, ""quoted"""\n'
    only_a = device.values_export(streams="a").headers["location"].rsplit("/", 1)[1]
    assert finished_job(client, only_a).state == "complete"
    assert client.get(f"jobs/{only_a}/result").text == "timestamp,a\n2015-01-01T00:00:00.000Z,1.0\n"


def test_metadata(client, device):
    assert device.read_metadata() == {}
    assert device.update_metadata({"owner": "me", "floor": 3}) is None
    assert device.read_metadata() == {"owner": "me", "floor": 3}
    assert device.update_metadata_field("floor", 4) is None
    assert device.read_metadata_field("floor") == {"value": 4}
    assert device.metadata_field_path("x") == f"devices/{device.id}/metadata/x"
    with pytest.raises(HTTPError):
        device.read_metadata_field("missing")


def test_keys(client, device):
    master = client.keys()
    assert [k.name for k in master] == ["Master Key", "Primary Key"]
    key = client.create_key(name="reader", permissions=["GET"])
    assert isinstance(key, Key) and key.master is True and key.permissions == ["GET"] and key.expired is False
    assert client.key(key.key).name == "reader"
    device_key = device.create_key(name="dev", permissions=["GET", "PUT"])
    assert device_key.device.endswith("/devices/" + device.id) and device_key.master is False
    assert device_key.device_access == "public"
    assert sorted(k.name for k in device.keys()) == ["Primary Key", "dev"]
    old = key.key
    assert key.regenerate() is None
    assert key.key != old and client.key(key.key).name == "reader"
    with pytest.raises(HTTPError):
        client.key(old)
    # deviation (spec §8 #4): update and remove work on keys
    assert key.update(name="renamed", permissions=["GET", "POST"])["name"] == "renamed"
    assert client.key(key.key).permissions == ["GET", "POST"]
    assert key.remove() is None
    with pytest.raises(HTTPError):
        client.key(key.key)


def test_distributions(client):
    distribution = client.create_distribution(name="Distribution test", visibility="public")
    assert isinstance(distribution, Distribution)
    assert distribution.tags == [] and distribution["devices"] == {"unregistered": 0, "registered": 0, "total": 0}
    assert [d.id for d in client.distributions()] == [distribution.id]
    assert client.distribution(distribution.id).name == "Distribution test"
    added = distribution.add_device({"serial": "serial1"})
    assert isinstance(added, DistributionDevice) and added.serial == "serial1"
    assert added.distribution.endswith("/distributions/" + distribution.id)
    with pytest.raises(HTTPError):
        distribution.add_device({"serial": "serial1"})
    assert client.last_response.status == 422
    assert client.last_response.json["reason"] == {"serial": ["taken"]}
    devices = distribution.devices()
    assert [d.id for d in devices] == [added.id] and isinstance(devices[0], DistributionDevice)
    assert client.distribution(distribution.id)["devices"]["total"] == 1
    distribution.update_metadata_field("batch", "b1")
    assert distribution.read_metadata() == {"batch": "b1"}
    assert distribution.update(name="renamed", visibility="public")["name"] == "renamed"
    assert distribution.remove() is None
    with pytest.raises(HTTPError):
        client.device(added.id)


def test_collections(client, device):
    parent = client.create_collection(name="site")
    child = client.create_collection(name="room", parent=parent.id)
    assert isinstance(child, Collection) and child.parent == parent.id
    assert client.collection(parent.id)["collections"] == 1
    assert [c.id for c in client.collections()] == [parent.id, child.id]
    assert child.add_device(device.id) is None
    members = child.devices()
    assert [d.id for d in members] == [device.id] and isinstance(members[0], CollectionDevice)
    assert client.collection(child.id)["devices"] == 1
    assert child.remove_device(device.id) is None
    assert child.devices() == []
    child.update_metadata({"k": "v"})
    assert child.read_metadata_field("k") == {"value": "v"}
    assert child.update(name="room 2")["name"] == "room 2"
    assert child.remove() is None
    assert [c.id for c in client.collections()] == [parent.id]


def test_commands(client, device):
    other = client.create_device(name="other", visibility="private")
    command = client.send_command(name="reboot", data={"delay": 5}, targets={"devices": [device.id, other.id]})
    assert isinstance(command, Command) and command.name == "reboot"
    assert client.last_response.status == 202
    assert command["status_counts"] == {"sent": 2, "pending": 2, "processed": 0, "rejected": 0}
    assert [c.id for c in client.commands()] == [command.id]
    listed = device.commands()
    assert listed["total"] == 1 and listed["commands"][0]["status"] == "pending"
    assert device.command(command.id)["data"] == {"delay": 5}
    assert device.process_command(command.id, result="ok") is None
    assert other.reject_command(command.id, reason="busy") is None
    assert device.command(command.id)["status"] == "processed"
    assert device.command(command.id)["response_data"] == {"result": "ok"}
    assert other.command(command.id)["status"] == "rejected"
    assert client.command(command.id)["status_counts"] == {"sent": 2, "pending": 0, "processed": 1, "rejected": 1}
    with pytest.raises(HTTPError):
        device.process_command(command.id)
    assert client.last_response.status == 422


def test_resource_attribute_machinery(client, device):
    with pytest.raises(AttributeError, match="'nope'"):
        device.nope
    with pytest.raises(KeyError):
        device["nope"]
    assert callable(device.streams) and isinstance(device["streams"], dict)  # methods shadow fields
    import copy
    clone = copy.copy(device)  # a Resource copied without __init__ must not recurse
    assert clone.data is device.data


def test_sixteen_threads_share_one_client(client, device):
    stream = device.create_stream("shared")
    errors = []

    def work(index):
        try:
            for k in range(10):
                stream.add_value(index * 100 + k, timestamp=f"2015-01-01T00:{index:02d}:{k:02d}Z")
                assert client.last_response.status == 202
        except Exception as exc:  # reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert stream.stats()["stats"]["count"] == 160.0
