"""m2x.utils (spec §3), with the upstream tests' expectations of §6."""
import datetime
import re
import json

import pytest

from pyonep_fast.m2x import utils
from pyonep_fast.m2x.utils import (DateTimeJSONEncoder, ParseError, attrs_from_server, attrs_to_server,
                                   from_server, parse_date, tags_to_server, to_iso, to_server, to_utc)

UTC = datetime.timezone.utc
URUGUAY = "<-03>3"  # POSIX form of UTC-3, where upstream's tests were written


def test_to_utc_is_aware_utc():
    assert to_utc(datetime.datetime.now()).tzinfo is UTC


def test_to_utc_reads_the_wall_clock_as_local_time_and_ignores_tzinfo(local_zone):
    local_zone(URUGUAY)
    naive = datetime.datetime(2015, 4, 15, 12, 0, 0, 123456)
    aware = naive.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=5)))
    expected = datetime.datetime(2015, 4, 15, 15, 0, 0, 123456, tzinfo=UTC)
    assert to_utc(naive) == expected
    assert to_utc(aware) == expected


@pytest.mark.parametrize("text", ["2015-04-15 12:00:00+0300", "2015-04-15 12:00:00"])
def test_to_iso_as_upstream_tests_expect_in_utc_minus_3(local_zone, text):
    local_zone(URUGUAY)
    assert to_iso(parse_date(text)) == "2015-04-15T15:00:00.000000Z"
    assert to_iso(text) == "2015-04-15T15:00:00.000000Z"
    assert to_server("timestamp", parse_date(text)) == "2015-04-15T15:00:00.000000Z"
    assert attrs_to_server({"timestamp": parse_date(text), "name": "x"}) == {
        "timestamp": "2015-04-15T15:00:00.000000Z", "name": "x"}


def test_to_iso_under_utc_keeps_the_wall_clock(local_zone):
    local_zone("UTC")
    assert to_iso("2015-04-15 12:00:00+0300") == "2015-04-15T12:00:00.000000Z"


def test_to_iso_of_a_date_fails_as_upstream():
    with pytest.raises(AttributeError):
        to_iso(datetime.date(2015, 4, 15))


def test_tags_to_server():
    assert tags_to_server(["foo", "bar"]) == "foo,bar"
    assert tags_to_server(("foo", None, "", "bar")) == "foo,bar"
    assert tags_to_server("foo") == "foo"
    assert tags_to_server(None) == ""
    assert tags_to_server([None]) == ""
    assert tags_to_server([""]) == ""


def test_from_server_splits_tags_without_trimming():
    assert from_server("tags", "foo,bar") == ["foo", "bar"]
    assert from_server("tags", "foo, bar") == ["foo", " bar"]
    assert from_server("tags", "") == [""]
    assert from_server("tags", ["a"]) == ["a"]
    assert from_server("tags", None) is None


def test_from_server_parses_any_iso_8601_string():
    assert from_server("timestamp", "2015-04-15T15:00:00.000000Z") == datetime.datetime(2015, 4, 15, 15,
                                                                                        tzinfo=UTC)
    assert from_server("created", "2015-02-04T19:15:02.375Z") == datetime.datetime(2015, 2, 4, 19, 15, 2, 375000,
                                                                                   tzinfo=UTC)
    # upstream's consequence: names and serials that look like dates become datetimes
    assert from_server("name", "2015") == datetime.datetime(2015, 1, 1, tzinfo=UTC)
    assert from_server("serial", "20150415") == datetime.datetime(2015, 4, 15, tzinfo=UTC)
    for kept in ["foo", "201504", "0000", "2015-13-01", "2015-04-15T25:00", 15, None, {"a": 1}, [1]]:
        assert from_server("name", kept) == kept


@pytest.mark.parametrize("text, expected", [
    ("2015", datetime.datetime(2015, 1, 1, tzinfo=UTC)),
    ("2015-4", datetime.datetime(2015, 4, 1, tzinfo=UTC)),
    ("2015-04-5", datetime.datetime(2015, 4, 5, tzinfo=UTC)),
    ("20150415T1230", datetime.datetime(2015, 4, 15, 12, 30, tzinfo=UTC)),
    ("2015-04-15 12:30:45,5", datetime.datetime(2015, 4, 15, 12, 30, 45, 500000, tzinfo=UTC)),
    ("2015-04-15T12:30:45.1234567Z", datetime.datetime(2015, 4, 15, 12, 30, 45, 123456, tzinfo=UTC)),
    ("2015-04-15T12-0330", datetime.datetime(2015, 4, 15, 12, tzinfo=datetime.timezone(
        -datetime.timedelta(hours=3, minutes=30)))),
    ("2015-04-15T12:00+05", datetime.datetime(2015, 4, 15, 12, tzinfo=datetime.timezone(
        datetime.timedelta(hours=5)))),
])
def test_parse_date_forms(text, expected):
    parsed = parse_date(text)
    assert parsed == expected and parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["", "15", "201504", "2015-04-15T", "2015-04-15x", "2015-04-15T12:00Z junk",
                                  "2015-02-29", b"2015"])
def test_parse_date_refuses(text):
    with pytest.raises(ParseError):
        parse_date(text)
    assert issubclass(ParseError, ValueError)


@pytest.mark.parametrize("text", ["2015-01-01T00:00+24:00", "2015-01-01T00:00-24", "2015-01-01T00:00+2360",
                                  "2015-01-01T00:00+99:99"])
def test_a_zone_of_24_hours_or_more_is_a_parse_error_and_from_server_keeps_the_string(text):
    with pytest.raises(ParseError):
        parse_date(text)
    assert from_server("name", text) == text
    assert attrs_from_server({"name": text}) == {"name": text}


def test_attrs_from_server_converts_top_level_only():
    converted = attrs_from_server({"created": "2015-02-04T19:15:02.375Z", "tags": "a,b",
                                   "location": {"timestamp": "2015-02-04T19:15:02.375Z"}})
    assert converted["created"].year == 2015
    assert converted["tags"] == ["a", "b"]
    assert converted["location"] == {"timestamp": "2015-02-04T19:15:02.375Z"}


def test_json_encoder_writes_nested_datetimes_with_microseconds(local_zone):
    local_zone("UTC")
    moment = datetime.datetime(2015, 4, 15, 12, 0, 0, 5)
    assert json.dumps({"a": [{"t": moment}]}, cls=DateTimeJSONEncoder) == \
        '{"a": [{"t": "2015-04-15T12:00:00.000005Z"}]}'
    with pytest.raises(TypeError):
        json.dumps({"a": object()}, cls=DateTimeJSONEncoder)
    assert utils.UTC is UTC


@pytest.mark.parametrize("text", ["٢٠١٥-٠٤-١٥", "2015-04-1٥", "２０１５", "2015-04-15T12:3०", "2015-04-15T12:00+0٥"])
def test_digits_outside_ascii_are_malformed_dates(text):
    """Arabic-Indic, fullwidth or Devanagari digits are refused as any other malformed date."""
    with pytest.raises(ParseError, match=f"^Unable to parse date string {re.escape(repr(text))}$"):
        parse_date(text)
    assert from_server("name", text) == text
