"""Value lists: encoded by the core's Series in M2X's shape, from lists,
NumPy arrays and pandas Series; large ones split within the limits; a
failure names exactly the values not stored."""
import datetime
import threading
import zoneinfo

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyonep_fast.exceptions import TransportError
from pyonep_fast.m2x import values as m2x_values
from pyonep_fast.m2x.client import M2XClient
from pyonep_fast.m2x.errors import ConnectionError as M2XConnectionError
from pyonep_fast.m2x.errors import ConnectionFailed as M2XConnectionFailed
from pyonep_fast.m2x.errors import HTTPError, ValuesNotAccepted, ValuesNotDelivered
from pyonep_fast.m2x.errors import TransportTimeout as M2XTransportTimeout
from scripted_http import ScriptedServer, http_response


def stored(stream, limit=10_000):
    """[(timestamp, value)] oldest first."""
    return [(v["timestamp"], v["value"]) for v in reversed(stream.values(limit=limit)["values"])]


@pytest.fixture
def stream(device):
    return device.create_stream("s")


@pytest.fixture
def small_requests(monkeypatch):
    monkeypatch.setattr(m2x_values, "MAX_VALUES_PER_REQUEST", 1000)


@pytest.fixture
def requests_seen(client):
    events = []
    client.api._transport_for(client.endpoint).hooks.append(events.append)
    return events


def test_datetimes_in_a_list_are_read_as_local_time(stream, local_zone):
    local_zone("<-03>3")
    stream.post_values([{"timestamp": datetime.datetime(2015, 4, 15, 12, 0, 0, 250999), "value": 1},
                        {"timestamp": datetime.datetime(2015, 4, 15, 12, 0, 1,
                                                        tzinfo=datetime.timezone.utc), "value": 2}])
    # upstream's to_iso: wall clock as local time (UTC-3), tzinfo ignored; ms kept
    assert stored(stream) == [("2015-04-15T15:00:00.250Z", 1.0), ("2015-04-15T15:00:01.000Z", 2.0)]


def test_list_bodies_on_the_wire(local_zone):
    local_zone("UTC")
    with ScriptedServer(lambda request: http_response(b'{"status": "accepted"}', "202 Accepted")) as server:
        client = M2XClient("k", endpoint=server.url)
        device = client.api  # Stream needs only .id of its device
        from pyonep_fast.m2x.v2.streams import Stream

        class Parent:
            id = "d1"
        s = Stream(device, Parent(), name="s1")
        moment = datetime.datetime(2015, 4, 21, 5, 52, 57, 349018)
        assert s.post_values([{"timestamp": moment, "value": 1}, {"timestamp": moment, "value": 2}]) == \
            {"status": "accepted"}
        assert s.post_values([{"timestamp": "2015-04-21T05:52:57.349018Z", "value": 1.5}]) == \
            {"status": "accepted"}
        typed, verbatim = server.requests[-2:]
        client.api.close()
    assert typed.target == "/v2/devices/d1/streams/s1/values"
    assert typed.body == (b'{"values":[{"timestamp":"2015-04-21T05:52:57.349Z","value":1},'
                          b'{"timestamp":"2015-04-21T05:52:57.349Z","value":2}]}')
    # timestamp strings go as given, encoded as m2x 5.5.0 encoded them
    assert verbatim.body == b'{"values": [{"timestamp": "2015-04-21T05:52:57.349018Z", "value": 1.5}]}'


def test_mixed_value_types_are_sent_as_given(stream):
    stream.post_values([{"timestamp": "2015-01-01T00:00:00Z", "value": 1},
                        {"timestamp": datetime.datetime(2015, 1, 1, 0, 0, 1), "value": 2.5}])
    assert [value for _, value in stored(stream)] == [1.0, 2.5]


def test_numpy_pair_structured_array_and_pandas(device):
    stamps = np.array(["2015-01-01T00:00:00.001", "2015-01-01T00:00:00.002"], dtype="datetime64[ms]")
    pair = device.create_stream("pair")
    pair.post_values((stamps, np.array([1, 2], dtype=np.int32)))
    assert stored(pair) == [("2015-01-01T00:00:00.001Z", 1.0), ("2015-01-01T00:00:00.002Z", 2.0)]
    structured = np.zeros(2, dtype=[("timestamp", "datetime64[us]"), ("value", "f8")])
    structured["timestamp"] = stamps
    structured["value"] = [0.5, 0.25]
    records = device.create_stream("records")
    records.post_values(structured)
    assert stored(records) == [("2015-01-01T00:00:00.001Z", 0.5), ("2015-01-01T00:00:00.002Z", 0.25)]
    index = pd.date_range("2015-01-01 01:00", periods=3, freq="min", tz="Europe/Paris")
    series = device.create_stream("series")
    series.post_values(pd.Series([1.5, 2.5, 3.5], index=index))
    assert stored(series)[0] == ("2015-01-01T00:00:00.000Z", 1.5)  # aware index: converted to UTC
    text = device.create_stream("text", type="alphanumeric")
    text.post_values(pd.Series(["a", "é"], index=pd.DatetimeIndex(["2015-01-01", "2015-01-02"])))
    assert stored(text) == [("2015-01-01T00:00:00.000Z", "a"), ("2015-01-02T00:00:00.000Z", "é")]


def test_array_inputs_refused_with_the_offending_index(stream):
    stamps = np.array(["2015-01-01", "2015-01-02", "NaT"], dtype="datetime64[s]")
    with pytest.raises(ValueError, match="timestamp 2 is NaT"):
        stream.post_values((stamps, np.array([1.0, 2.0, 3.0])))
    with pytest.raises(ValueError, match="value 1 is nan"):
        stream.post_values((stamps[:2], np.array([1.0, np.nan])))
    with pytest.raises(TypeError, match="datetime64"):
        stream.post_values((np.array([1, 2]), np.array([1.0, 2.0])))
    with pytest.raises(TypeError, match="DatetimeIndex"):
        stream.post_values(pd.Series([1.0]))
    assert stored(stream) == []


def test_large_posts_are_split_and_all_stored(stream, small_requests, requests_seen):
    start = np.datetime64("2015-01-01T00:00:00", "ms")
    stamps = start + np.arange(3500, dtype=np.int64) * np.timedelta64(1, "s")
    assert stream.post_values((stamps, np.arange(3500, dtype=np.float64))) == {"status": "accepted"}
    assert [event.method for event in requests_seen] == ["POST"] * 4
    stats = stream.stats()["stats"]
    assert (stats["count"], stats["min"], stats["max"]) == (3500.0, 0.0, 3499.0)


def test_a_refused_piece_names_exactly_the_values_not_stored(stream, small_requests):
    values = [{"timestamp": datetime.datetime(2015, 1, 1) + datetime.timedelta(seconds=i), "value": "1.5"}
              for i in range(3500)]
    values[2345]["value"] = "not a number"  # the numeric stream refuses the third request
    with pytest.raises(ValuesNotAccepted) as caught:
        stream.post_values(values)
    error = caught.value
    assert isinstance(error, HTTPError) and error.response.status_code == 422
    assert error.accepted == range(0, 2000) and error.not_accepted == range(2000, 3500)
    assert error.response.json()["reason"] == {"values[345].value": ["invalid"]}
    assert stream.stats()["stats"]["count"] == 2000.0


def test_a_dropped_connection_names_the_values_not_confirmed(small_requests):
    answers = iter([http_response(b'{"status": "accepted"}', "202 Accepted")] * 2)

    def respond(request):
        return next(answers, None)  # the third request gets no answer
    with ScriptedServer(respond) as server:
        client = M2XClient("k", endpoint=server.url)
        from pyonep_fast.m2x.v2.streams import Stream

        class Parent:
            id = "d1"
        stamps = np.datetime64("2015-01-01", "ms") + np.arange(3500) * np.timedelta64(1, "ms")
        with pytest.raises(ValuesNotDelivered) as caught:
            Stream(client.api, Parent(), name="s").post_values((stamps, np.ones(3500)))
        assert len(server.requests) == 3
        client.api.close()
    assert isinstance(caught.value, TransportError)
    assert caught.value.accepted == range(0, 2000) and caught.value.not_accepted == range(2000, 3500)
    # what the failure was, as the client's other transport failures are (m2x.errors.TRANSPORT_ERRORS)
    assert all(isinstance(caught.value, cls) for cls in (ConnectionError, M2XConnectionFailed, M2XConnectionError))
    assert not isinstance(caught.value, TimeoutError)


def test_a_timeout_while_values_are_sent_is_also_a_timeout_error(small_requests):
    answered = iter([http_response(b'{"status": "accepted"}', "202 Accepted")])
    released = threading.Event()

    def respond(request):
        answer = next(answered, None)
        if answer is None:
            released.wait(30)    # the second request is not answered before the client gives up
        return answer
    with ScriptedServer(respond) as server:
        client = M2XClient("k", endpoint=server.url, timeout=2)   # the first answer comes well within it
        from pyonep_fast.m2x.v2.streams import Stream

        class Parent:
            id = "d1"
        stamps = np.datetime64("2015-01-01", "ms") + np.arange(1500) * np.timedelta64(1, "ms")
        with pytest.raises(ValuesNotDelivered) as caught:
            Stream(client.api, Parent(), name="s").post_values((stamps, np.ones(1500)))
        released.set()
        client.api.close()
    assert all(isinstance(caught.value, cls) for cls in (TimeoutError, M2XTransportTimeout, M2XConnectionError))
    assert not isinstance(caught.value, ConnectionError)
    assert caught.value.accepted == range(0, 1000) and caught.value.not_accepted == range(1000, 1500)


def test_post_updates_split_across_streams(device, small_requests, requests_seen):
    base = np.datetime64("2015-01-01", "ms")
    lists = {"a": (base + np.arange(1500) * np.timedelta64(1, "s"), np.arange(1500.0)),
             "b": [{"timestamp": datetime.datetime(2015, 1, 2) + datetime.timedelta(seconds=i), "value": i}
                   for i in range(700)]}
    assert device.post_updates(values=lists, location={"latitude": "1", "longitude": "2"}) == \
        {"status": "accepted"}
    assert len(requests_seen) == 3
    assert device.stream("a").stats()["stats"]["count"] == 1500.0
    assert device.stream("b").stats()["stats"]["count"] == 700.0
    assert len(device.location_history()["waypoints"]) == 1  # location sent once


def test_post_updates_failure_names_values_per_stream(device, small_requests):
    device.create_stream("a")
    lists = {"a": [{"timestamp": f"2015-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "value": "1"} for i in range(1500)],
             "b": [{"timestamp": "2015-01-02T00:00:00Z", "value": 1}]}
    lists["a"][1200]["value"] = "x"
    with pytest.raises(ValuesNotAccepted) as caught:
        device.post_updates(values=lists)
    assert caught.value.accepted == {"a": range(0, 1000), "b": range(0, 0)}
    assert caught.value.not_accepted == {"a": range(1000, 1500), "b": range(0, 1)}
    assert device.stream("a").stats()["stats"]["count"] == 1000.0


def test_encoder_limits_bodies_by_bytes(monkeypatch):
    monkeypatch.setattr(m2x_values, "MAX_BODY_BYTES", 4096)
    encoded = m2x_values.encode([{"timestamp": datetime.datetime(2015, 1, 1), "value": "x" * 300}] * 40, None)
    pieces = m2x_values._pieces(encoded, 1000, 4096)
    assert sum(count for _, count in pieces) == 40
    assert all(len(encoded.body(first, count)) <= 4096 for first, count in pieces)
    assert orjson.loads(encoded.body(0, 2)) == [{"timestamp": "2015-01-01T00:00:00.000Z", "value": "x" * 300}] * 2


ZONES = ["Europe/Paris", "Australia/Lord_Howe", "America/Montevideo", "<-03>3", "UTC"]
# around DST changes of those zones (spring and autumn, 30-minute shifts at Lord Howe)
AROUND = [datetime.datetime(2015, 3, 29, 2), datetime.datetime(2015, 10, 25, 2), datetime.datetime(2015, 4, 5, 2),
          datetime.datetime(2015, 10, 4, 2), datetime.datetime(2014, 10, 5, 2), datetime.datetime(2015, 3, 8, 2)]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # local_zone restores once, at the end
@given(zone=st.sampled_from(ZONES), base=st.sampled_from(AROUND),
       offsets=st.lists(st.integers(-3 * 3600 * 10**6, 3 * 3600 * 10**6), min_size=1, max_size=50))
def test_bulk_local_time_equals_mktime_per_datetime(local_zone, zone, base, offsets):
    local_zone(zone)
    stamps = [base + datetime.timedelta(microseconds=offset) for offset in offsets]
    for stamp, bulk in zip(stamps, m2x_values._local_micros_all(stamps)):
        allowed = {m2x_values._local_micros(stamp)}
        if "/" in zone:
            # a wall time that is repeated or skipped has two readings, and
            # which one mktime gives depends on its previous calls
            wall = (stamp - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)
            for fold in (0, 1):
                offset = stamp.replace(tzinfo=zoneinfo.ZoneInfo(zone), fold=fold).utcoffset()
                if stamp.replace(fold=0, tzinfo=zoneinfo.ZoneInfo(zone)).utcoffset() != \
                        stamp.replace(fold=1, tzinfo=zoneinfo.ZoneInfo(zone)).utcoffset():
                    allowed.add(wall - offset // datetime.timedelta(microseconds=1))
        assert bulk in allowed


def test_values_a_series_cannot_hold(stream):
    moment = datetime.datetime(2015, 1, 1)
    stream.post_values([{"timestamp": moment, "value": 2**70}])  # past int64: sent as m2x sent it
    assert stored(stream) == [("2015-01-01T00:00:00.000Z", float(2**70))]
    from pyonep_fast.exceptions import EncodeError
    with pytest.raises(EncodeError):
        stream.post_values([{"timestamp": moment, "value": float("nan")}])
