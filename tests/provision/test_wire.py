"""The Provisioning API's wire formats (pure functions of the server side)."""
from urllib.parse import urlencode

import orjson
import pytest
from aiohttp import web
from hypothesis import given, strategies as st

from pyonep_fast.server.provision import forms as wire


def test_form_keys_with_and_without_brackets_are_one_key():
    form = wire.parse_form(b"add=true&sn%5B%5D=a&sn[]=b+c&sn=d%2Ce&options=nohistorical")
    assert form["sn"] == ["a", "b c", "d,e"]
    assert form["options"] == ["nohistorical"]
    assert wire.is_true(form, "add") and not wire.is_true(form, "remove")
    assert wire.first(form, "missing", "x") == "x"


def test_form_blank_values_and_bad_utf8_survive():
    form = wire.parse_form(b"meta=&id=%FF")
    assert form["meta"] == [""]
    assert form["id"] == ["\ufffd"]


def test_csv_keeps_commas_in_last_field_and_skips_blank_lines():
    rows = wire.parse_csv(b"a,extra, with comma\r\n\r\nb\n", 2)
    assert rows == [["a", "extra, with comma"], ["b"]]


@pytest.mark.parametrize("query, expected", [
    ("", (0, 5)), ("offset=6&limit=5", (6, 5)), ("limit=1", (0, 5)),
    ("limit=5000", (0, 1000)), ("offset=&limit=", (0, 5)),
])
def test_pagination_defaults_and_clamp(query, expected):
    assert wire.pagination(wire.parse_form(query)) == expected


@pytest.mark.parametrize("query", ["offset=x", "limit=1.5", "offset=-1"])
def test_pagination_rejects_bad_numbers(query):
    with pytest.raises(web.HTTPBadRequest) as excinfo:
        wire.pagination(wire.parse_form(query))
    assert excinfo.value.text == "HTTP/1.1 400 Bad Request\r\n"


def test_ranges_round_trip_as_bare_array_with_canonical_key_order():
    body = b'{"ranges":[{"last":1108152157695,"first":1108152157440,"casing":"upper","format":"mac:48"}]}'
    ranges = wire.parse_ranges(body)
    assert wire.ranges_json(ranges) == (
        b'[{"format":"mac:48","length":null,"casing":"upper",'
        b'"first":1108152157440,"last":1108152157695}]')
    assert wire.parse_ranges(wire.ranges_json(ranges)) == ranges


@pytest.mark.parametrize("body", [
    b"{", b'{"ranges":{}}', b'[{"format":"base8","first":1,"last":2}]',
    b'[{"format":"base10","first":3,"last":2}]', b'[{"format":"base10","first":"1","last":2}]',
    b'[{"format":"base10","first":true,"last":2}]', b'[{"format":"base10","first":1,"last":2,"length":0}]',
    b'[{"format":"base16","first":1,"last":2,"casing":"mixed"}]', b"[1]",
])
def test_bad_ranges_are_400(body):
    with pytest.raises(web.HTTPBadRequest):
        wire.parse_ranges(body)


@pytest.mark.parametrize("rng, sn, covered", [
    (("base10", None, None, 10, 20), "15", True),
    (("base10", None, None, 10, 20), "0015", True),
    (("base10", 4, None, 10, 20), "15", False),
    (("base10", 4, None, 10, 20), "0015", True),
    (("base10", None, None, 10, 20), "21", False),
    (("base10", None, None, 10, 20), "1a", False),
    (("base16", None, "upper", 0, 0xFF), "AB", True),
    (("base16", None, "upper", 0, 0xFF), "ab", False),
    (("base16", None, "lower", 0, 0xFF), "ab", True),
    (("base16", None, None, 0, 0xFF), "aB", True),
    (("mac:48", None, "upper", 0x010203040500, 0x0102030405FF), "01:02:03:04:05:0A", True),
    (("mac:48", None, "upper", 0x010203040500, 0x0102030405FF), "01:02:03:04:05:0a", False),
    (("mac:48", None, None, 0x010203040500, 0x0102030405FF), "01-02-03-04-05-0a", False),
    (("mac-48", None, None, 0x010203040500, 0x0102030405FF), "01-02-03-04-05-0a", True),
    (("mac.48", None, None, 0x010203040500, 0x0102030405FF), "0102.0304.05ff", True),
    (("mac.48", None, None, 0x010203040500, 0x0102030405FF), "0102.0304.06ff", False),
])
def test_range_covers(rng, sn, covered):
    assert wire.range_covers(rng, sn) is covered


def test_range_matches_ignores_length_and_casing_unless_given():
    stored = ("base16", 4, "upper", 1, 9)
    assert wire.range_matches(stored, ("base16", None, None, 1, 9))
    assert wire.range_matches(stored, ("base16", 4, "upper", 1, 9))
    assert not wire.range_matches(stored, ("base16", 5, None, 1, 9))
    assert not wire.range_matches(stored, ("base10", None, None, 1, 9))


@given(st.integers(0, 2**48 - 1), st.sampled_from(["upper", "lower"]))
def test_every_mac_spelling_covers_its_own_value(value, casing):
    digits = f"{value:012x}"
    digits = digits.upper() if casing == "upper" else digits
    pairs = [digits[i:i + 2] for i in range(0, 12, 2)]
    spellings = {"mac:48": ":".join(pairs), "mac-48": "-".join(pairs),
                 "mac.48": ".".join(digits[i:i + 4] for i in range(0, 12, 4))}
    for fmt, sn in spellings.items():
        assert wire.range_covers((fmt, None, casing, value, value), sn)
        assert not wire.range_covers((fmt, None, casing, value + 1, value + 2), sn)


@pytest.mark.parametrize("header, total, expected", [
    (None, 10, None), ("bytes=0-3", 10, (0, 3)), ("bytes=5-", 10, (5, 9)),
    ("bytes=-3", 10, (7, 9)), ("bytes=-30", 10, (0, 9)), ("bytes=8-100", 10, (8, 9)),
])
def test_byte_range(header, total, expected):
    assert wire.byte_range(header, total) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=4-3", "bytes=-", "items=0-1", "bytes=0-1,3-4", "bytes=-0"])
def test_bad_byte_range_is_416_with_total(header):
    with pytest.raises(web.HTTPRequestRangeNotSatisfiable) as excinfo:
        wire.byte_range(header, 10)
    assert excinfo.value.headers["Content-Range"] == "bytes */10"


def test_error_body_is_the_status_line():
    exc = wire.error(409)
    assert exc.status == 409
    assert exc.text == "HTTP/1.1 409 Conflict\r\n"
    assert exc.content_type == "text/plain"
    assert wire.method_not_allowed("PATCH", ["GET"]).text == "HTTP/1.1 405 Method Not Allowed\r\n"


def test_ranges_json_is_compact():
    assert wire.ranges_json([]) == b"[]"
    assert orjson.loads(wire.ranges_json([("base10", 3, None, 1, 2)])) == [
        {"format": "base10", "length": 3, "casing": None, "first": 1, "last": 2}]


@given(st.lists(st.tuples(st.sampled_from(["sn", "sn[]", "extra", "options[]"]),
                          st.text(st.characters(blacklist_categories=("Cs",)))), max_size=8))
def test_form_round_trip(pairs):
    """What a client form-encodes (pyonep's urlencode), the server reads back."""
    expected = {}
    for key, value in pairs:
        expected.setdefault(key.removesuffix("[]"), []).append(value)
    assert wire.parse_form(urlencode(pairs).encode()) == expected
