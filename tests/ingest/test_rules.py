"""The point rules (pyonep_fast.ingest.rules) that ingest and the Datastore share."""
import pytest

from pyonep_fast.ingest.rules import parse_timestamp, parse_value


@pytest.mark.parametrize("text, expected", [
    ("1421906172", 1421906172), (" 0 ", 0), ("1421906172.000", 1421906172), ("+5", 5),
    ("1.421906172e9", 1421906172), ("32503679999", 32503679999),
    ("1970-01-01T00:00:10", 10), ("2015-01-22T05:56:12Z", 1421906172),
    ("2015-01-22T06:56:12+01:00", 1421906172), ("2015-01-22", 1421884800),
])
def test_timestamps_epoch_and_iso(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text, message", [
    ("-5", "negative"), ("1969-12-31T23:59:59Z", "negative"), ("1.5", "fraction"),
    ("2015-01-22T05:56:12.250Z", "fraction"), ("9223372036854775808", "int64"), ("soon", "neither"),
    ("", "neither"), ("1_000", "neither"), ("1e17", "too large"), ("1.5e0", "fraction"),
    ("1421906172123", "after the year 3000: milliseconds or microseconds"), ("32503680000", "year 3000"),
])
def test_timestamps_the_server_would_misread_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_timestamp(text)


@pytest.mark.parametrize("text, kind, expected", [
    ("3", "int", 3), (" -7 ", "int", -7), ("2.5", "float", 2.5), ("1e3", "float", 1000.0), ("7", "float", 7.0),
    (" text, with comma ", "string", " text, with comma "), ("12", "string", "12"),
])
def test_values(text, kind, expected):
    value = parse_value(text, kind)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text, kind", [
    ("3.0", "int"), ("1e3", "int"), ("9223372036854775808", "int"), ("1_0", "int"), ("abc", "float"),
    ("nan", "float"), ("-inf", "float"), ("1e400", "float"), ("1_0.5", "float"), ("x" * 65537, "string"),
])
def test_values_the_server_would_refuse(text, kind):
    with pytest.raises(ValueError):
        parse_value(text, kind)


def test_smaller_time_units_floor_to_the_second():
    assert parse_timestamp("1421906172999", unit="ms") == 1421906172
    assert parse_timestamp("1421906172000001", unit="us") == 1421906172
    assert parse_timestamp("1421906172999.5", unit="ms") == 1421906172
    assert parse_timestamp("2015-01-22T05:56:12Z", unit="ms") == 1421906172   # ISO: no unit
    with pytest.raises(ValueError, match="time unit must be one of s, ms, us"):
        parse_timestamp("1", unit="ns")


def test_command_times_now_relative_iso_fractions_and_zones():
    now = 1_700_000_000
    assert [parse_timestamp(t, now=now) for t in ("now", "-30s", "-30m", "-2h", "-1d", "-1w")] == \
        [now, now - 30, now - 1800, now - 7200, now - 86400, now - 604800]
    assert parse_timestamp("2014-05-13T16:53:20.75Z", now=now) == 1400000000    # a query floors
    assert parse_timestamp("2014-05-13T18:53:20+02:00", now=now) == 1400000000
    assert parse_timestamp("2014-05-13T18:53:20", tz="Europe/Paris", now=now) == 1400000000
    assert parse_timestamp("2014-05-13T16:53:20Z", tz="Europe/Paris") == 1400000000  # an offset wins
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        parse_timestamp("2014-05-13T18:53:20", tz="Mars/Base")
    with pytest.raises(ValueError, match="neither epoch seconds, now, -30s/-2h/-1d/-1w nor ISO 8601"):
        parse_timestamp("yesterday", now=now)
    with pytest.raises(ValueError, match="neither epoch seconds nor ISO 8601"):
        parse_timestamp("-2h")   # data, not a command: no relative times
