"""Serialization rules of m2x 5.5.0 (spec m2x.md §3), quirks included.

`to_utc` reads a datetime's wall-clock fields as *local* time and ignores
its tzinfo (upstream used `time.mktime`): code written for m2x depends on
the timestamps that produced, so they are reproduced exactly. `parse_date`
accepts the ISO 8601 forms the `iso8601` package accepted (naive strings
are UTC) and raises ParseError for anything else.
"""
import datetime
import json
import re
import time

UTC = datetime.timezone.utc

_ISO_8601 = re.compile(r"""
    (?P<year>\d{4})
    (?:
        -(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?
      | (?P<cmonth>\d{2})(?P<cday>\d{2})
    )?
    (?:
        [T\ ](?P<hour>\d{2})
        (?::?(?P<minute>\d{2})
            (?::?(?P<second>\d{1,2})(?:[.,](?P<fraction>\d+))?)?
        )?
        (?P<zone>Z|(?P<sign>[-+])(?P<zh>\d{2}):?(?P<zm>\d{2})?)?
    )?
    \Z""", re.VERBOSE | re.ASCII)   # \d: ASCII digits only (int() would read any script's)


class ParseError(ValueError):
    """A string that is not one of the accepted ISO 8601 forms."""


def parse_date(text):
    """An aware datetime for an ISO 8601 string (UTC when it names no zone)."""
    try:
        match = _ISO_8601.match(text)
    except TypeError as exc:
        raise ParseError(exc) from None
    if match is None:
        raise ParseError(f"Unable to parse date string {text!r}")
    parts = match.groupdict()
    has_day = parts["day"] is not None or parts["cday"] is not None
    if parts["hour"] is not None and not has_day:
        raise ParseError(f"Unable to parse date string {text!r}")
    fraction = parts["fraction"] or ""
    try:
        zone = UTC
        if parts["sign"]:
            offset = datetime.timedelta(hours=int(parts["zh"]), minutes=int(parts["zm"] or 0))
            zone = datetime.timezone(-offset if parts["sign"] == "-" else offset)
        return datetime.datetime(
            int(parts["year"]), int(parts["month"] or parts["cmonth"] or 1), int(parts["day"] or parts["cday"] or 1),
            int(parts["hour"] or 0), int(parts["minute"] or 0), int(parts["second"] or 0),
            int(fraction[:6].ljust(6, "0")), tzinfo=zone)
    except ValueError as exc:  # out of range fields (month 13, year 0000, a zone of 24 h or more)
        raise ParseError(exc) from None


def to_utc(dt):
    """dt's wall clock read as local time (tzinfo ignored), in UTC."""
    seconds = time.mktime(dt.timetuple())
    return datetime.datetime.fromtimestamp(seconds, UTC).replace(microsecond=dt.microsecond)


def to_iso(value):
    """'%Y-%m-%dT%H:%M:%S.%fZ' of a date/datetime or an ISO 8601 string."""
    if not isinstance(value, (datetime.date, datetime.datetime)):
        value = parse_date(value)
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DateTimeJSONEncoder(json.JSONEncoder):
    """json's encoder with dates and datetimes written by to_iso."""

    def default(self, value):
        if isinstance(value, (datetime.date, datetime.datetime)):
            return to_iso(value)
        return super().default(value)


def tags_to_server(tags):
    if not isinstance(tags, (list, tuple)):
        tags = [tags]
    return ",".join(tag for tag in tags if tag)


def from_server(name, value):
    if name == "tags":
        return value.split(",") if isinstance(value, str) else value
    try:
        return parse_date(value)
    except ParseError:
        return value


def to_server(name, value):
    if name == "tags":
        return tags_to_server(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return to_iso(value)
    return value


def attrs_from_server(attrs):
    return {name: from_server(name, value) for name, value in attrs.items()}


def attrs_to_server(attrs):
    return {name: to_server(name, value) for name, value in attrs.items()}
