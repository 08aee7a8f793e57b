"""The point rules (pyonep_fast.ingest.rules) that ingest and the Datastore share."""
import pytest

from pyonep_fast.ingest.rules import parse_timestamp, parse_value


@pytest.mark.parametrize("text, expected", [
    ("1421906172", 1421906172), (" 0 ", 0), ("1421906172.000", 1421906172), ("+5", 5),
    ("1.421906172e9", 1421906172), ("9223372036854775807", 2**63 - 1),
    ("1970-01-01T00:00:10", 10), ("2015-01-22T05:56:12Z", 1421906172),
    ("2015-01-22T06:56:12+01:00", 1421906172), ("2015-01-22", 1421884800),
])
def test_timestamps_epoch_and_iso(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text, message", [
    ("-5", "negative"), ("1969-12-31T23:59:59Z", "negative"), ("1.5", "fraction"),
    ("2015-01-22T05:56:12.250Z", "fraction"), ("9223372036854775808", "int64"), ("soon", "neither"),
    ("", "neither"), ("1_000", "neither"), ("1e17", "too large"), ("1.5e0", "fraction"),
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
