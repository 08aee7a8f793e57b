"""M2X value lists through the entries parser (parse_m2x): C == Python
column for column, both equal to a model over orjson + datetime, times
written in every ISO 8601 variant the client's parse_date reads, hostile
text an error from both (the same one), never a crash."""
import datetime
import json
import math
import struct

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast._core.entries import (ENTRY_INVALID, M2X_MAX_MS, M2X_MIN_MS, VALUE_FLOAT, VALUE_INT,
                                       VALUE_STRING, CEntries, PyEntries)
from pyonep_fast.exceptions import CoreError
from pyonep_fast.m2x.utils import parse_date

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
MS = datetime.timedelta(milliseconds=1)


def bits(values):
    return [struct.pack("<d", v) for v in values]


def snapshot(cls, text, port=None):
    """What parse_m2x (then normalize for a port) leaves, or ("error", code)."""
    entries = cls()
    try:
        views = [entries.parse_m2x(text)]
        if port is not None:
            views += [entries.normalize(port, 0), entries.invalid(), entries.invalid_positions()]
        views += [list(entries.timestamps()), list(entries.kinds()), list(entries.ints()),
                  bits(entries.floats()), entries.strings()]
        return views
    except CoreError as exc:
        return ("error", exc.code)


def both(text, port=None):
    c_view, py_view = snapshot(CEntries, text, port), snapshot(PyEntries, text, port)
    assert c_view == py_view, (text[:300], port, c_view, py_view)
    return c_view


def model_time(value):
    """The reference reading: parse_date's datetime, then datetime arithmetic."""
    if type(value) is not str or not value.isascii():
        return None
    try:
        moment = parse_date(value)
    except ValueError:   # ParseError, or a zone of 24 h or more
        return None
    ms = (moment - EPOCH) // MS
    return ms if M2X_MIN_MS <= ms <= M2X_MAX_MS else None


def model_rows(text):
    """(kind, t, value) per element, from orjson.loads."""
    rows = []
    for item in orjson.loads(text):
        t = model_time(item.get("timestamp")) if type(item) is dict else None
        value = item.get("value") if type(item) is dict else None
        kind = ENTRY_INVALID
        if type(value) is int:
            kind, value = (VALUE_INT, value) if INT64_MIN <= value <= INT64_MAX else (VALUE_FLOAT, float(value))
        elif type(value) is float:
            kind = VALUE_FLOAT
        elif type(value) is str:
            kind = VALUE_STRING
        rows.append((ENTRY_INVALID, t or 0, None) if t is None or kind == ENTRY_INVALID else (kind, t, value))
    return rows


def model_snapshot(text):
    rows = model_rows(text)
    return [len(rows), [t for _, t, _ in rows], [kind for kind, _, _ in rows],
            [value if kind == VALUE_INT else 0 for kind, _, value in rows],
            bits([value if kind == VALUE_FLOAT else 0.0 for kind, _, value in rows]),
            [value if kind == VALUE_STRING else None for kind, _, value in rows]]


# --- timestamps -------------------------------------------------------------------
moments = st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30))
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1)


def spell(moment, offset, style):
    """moment (naive, in the zone `offset` minutes east) written in one of
    the forms parse_date reads; the text and its milliseconds since the epoch."""
    dash, colon, sep, digits, zone_style = style
    date = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}" if dash else f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
    c = ":" if colon else ""
    fraction = f"{moment.microsecond:06d}"[:digits] if digits else ""
    text = f"{date}{sep}{moment.hour:02d}{c}{moment.minute:02d}{c}{moment.second:02d}" + (
        "." + fraction if digits else "")
    hours, minutes = divmod(abs(offset), 60)
    sign = "-" if offset < 0 else "+"
    if zone_style == "Z" and offset == 0:
        text += "Z"
    elif zone_style in ("Z", "colon"):
        text += f"{sign}{hours:02d}:{minutes:02d}"
    elif zone_style == "compact":
        text += f"{sign}{hours:02d}{minutes:02d}"
    elif minutes == 0:
        text += f"{sign}{hours:02d}"
    else:
        text += f"{sign}{hours:02d}:{minutes:02d}"
    kept = int(fraction.ljust(6, "0")) if digits else 0
    aware = moment.replace(microsecond=kept, tzinfo=datetime.timezone(datetime.timedelta(minutes=offset)))
    return text, (aware - EPOCH) // MS


styles = st.tuples(st.booleans(), st.booleans(), st.sampled_from("T "), st.integers(0, 9),
                   st.sampled_from(["Z", "colon", "compact", "hours"]))


@given(st.lists(st.tuples(moments, offsets, styles), min_size=1, max_size=20))
def test_times_in_every_written_form_read_as_datetime_reads_them(cases):
    texts, expected = zip(*(spell(*case) for case in cases))
    body = orjson.dumps([{"timestamp": text, "value": 1} for text in texts])
    view = both(body)
    in_range = [ms if M2X_MIN_MS <= ms <= M2X_MAX_MS else 0 for ms in expected]
    assert view[1] == in_range, texts


date_texts = st.one_of(
    st.builds(lambda m, o, s: spell(m, o, s)[0], moments, offsets, styles),
    st.text(st.sampled_from("0123456789-:T .,Z+z\u0661"), max_size=32),
    st.from_regex(r"\A[0-9]{4}(-[0-9]{1,2}(-[0-9]{1,2})?|[0-9]{4})?([T ][0-9]{2}(:?[0-9]{2}(:?[0-9]{1,2}"
                  r"([.,][0-9]+)?)?)?(Z|[-+][0-9]{2}:?([0-9]{2})?)?)?\Z"),
    st.text(max_size=12))

values = st.one_of(st.integers(-(1 << 70), 1 << 70), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(max_size=8), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
items = st.one_of(
    st.fixed_dictionaries({"timestamp": date_texts, "value": values}),
    st.fixed_dictionaries({}, optional={"timestamp": st.one_of(date_texts, values), "value": values,
                                        "other": values}),
    values)


@given(st.lists(items, max_size=25), st.booleans())
def test_value_lists_match_the_model(elements, ascii_only):
    text = json.dumps(elements, ensure_ascii=ascii_only).encode()
    view = both(text)
    assert view == model_snapshot(text)
    for port in ("float", "string"):
        both(text, port)


def test_fields_out_of_range_and_the_edges_of_the_range():
    texts = ["2015-02-29T00:00:00Z", "2016-02-29T00:00:00Z", "2015-13-01", "2015-00-10", "0000-01-01",
             "2015-01-01T24:00:00Z", "2015-01-01T23:60:00Z", "2015-01-01T23:59:60Z", "2015-01-01T00:00:00+24:00",
             "2015-01-01T00:00:00+23:99", "2015-01-01T00:00:00+05:", "201501", "2015T10", "2015-01-01T1",
             "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59.9999999Z",
             "9999-12-31T23:59:59.999-00:01", "1969-12-31T23:59:59.9995Z", "2015-01-01t00:00:00z",
             "\u0662\u0660\u0661\u0665-01-01"]
    body = orjson.dumps([{"timestamp": text, "value": 1} for text in texts])
    assert both(body)[1] == [model_time(text) or 0 for text in texts]
    assert both(body)[1][:3] == [0, 1456704000000, 0]
    assert both(body)[1][-3] == -1   # before 1970, truncated toward the past


def test_normalize_keeps_times_before_1970_and_names_invalid_positions():
    body = orjson.dumps([{"timestamp": "1969-01-01T00:00:00Z", "value": "7.5"},
                         {"timestamp": "2015-01-01T00:00:00Z", "value": True},
                         {"value": 1},
                         {"timestamp": "1960-01-01T00:00:00Z", "value": 2},
                         {"timestamp": "1969-01-01T00:00:00Z", "value": 3}])
    view = both(body, "float")
    _, count, invalid, positions, ts, kinds, _, floats, _ = view
    assert (count, positions, invalid) == (2, [1, 2], [1420070400000, None])
    assert ts == [-315619200000, -31536000000]     # sorted, the later of equal times kept
    assert floats == bits([2.0, 3.0])
    assert kinds == [VALUE_FLOAT, VALUE_FLOAT]
    assert both(body, "string")[-1] == ["2", "3"]


def test_the_last_of_repeated_members_counts():
    body = (b'[{"timestamp": "2015-01-01T00:00:00Z", "value": "a", "value": 2},'
            b' {"value": 1, "timestamp": "2015-01-01T00:00:00Z", "timestamp": 5},'
            b' {"\\u0074imestamp": "2015-01-01T00:00:0\\u0030Z", "valu\\u0065": "x\\ny"}]')
    view = both(body)
    assert view[1:3] == [[1420070400000, 0, 1420070400000], [VALUE_INT, ENTRY_INVALID, VALUE_STRING]]
    assert view[5][2] == "x\ny"


@pytest.mark.parametrize("text", [b"", b"[", b"{}", b'[{"timestamp"', b'[{"timestamp": }]', b'[{"a" 1}]',
                                  b'[{"value": 1,}]', b'[{"value": [1, 2}]', b'[1] x', b'"x"',
                                  b"[" + b'{"value":' * 600 + b"1" + b"}" * 600 + b"]",
                                  b'[{"value": "\xff"}]', b'[{"timestamp": "2015\\ud800"}]'])
def test_malformed_text_is_the_same_error_from_both(text):
    assert both(text)[0] == "error"


@given(st.lists(items, min_size=1, max_size=8), st.data())
def test_hostile_cuts_and_flips_agree(elements, data):
    text = json.dumps(elements).encode()
    cut = data.draw(st.integers(0, len(text)))
    flip = data.draw(st.integers(0, max(len(text) - 1, 0)))
    byte = data.draw(st.integers(0, 255))
    both(text[:cut])
    if text:
        both(text[:flip] + bytes([byte]) + text[flip + 1:])


def test_numbers_beyond_the_double_range_are_invalid_values():
    body = b'[{"timestamp": "2015-01-01T00:00:00Z", "value": 1e400}, {"timestamp": "2015-01-02", "value": -1e999},' \
           b' {"timestamp": "2015-01-03", "value": 123456789012345678901234567890}]'
    view = both(body)
    assert view[2] == [ENTRY_INVALID, ENTRY_INVALID, VALUE_FLOAT]
    assert math.isclose(struct.unpack("<d", view[4][2])[0], 1.2345678901234568e29)
