"""The rules a point must meet before it is sent (spec §1.8, §2.3, §3.4-3.5).

One implementation for every client path that turns user values into
points: bulk ingest's sources (CSV cells, objects) and the buffered
Datastore. Each check returns the value to send or raises ValueError
saying why the value cannot be stored.

  * timestamps are whole seconds since the epoch, 0 <= t < 2**63: epoch
    seconds ("1421906172"; also "1421906172.0" or "1.421906172e9" below
    2**53, where a double holds them exactly) or ISO 8601 read by
    `datetime.fromisoformat` (no offset means UTC). A fraction of a second
    is an error (the server stores whole seconds), and so is a negative
    time (the server would read it as "seconds before its own clock");
  * integer dataports take integers within int64 ("3.0" is not one); float
    dataports take finite numbers (no NaN or infinity); string dataports
    take text up to 64 KB of UTF-8, numbers as their JSON text.
"""
import datetime
import math
import numbers
import re

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
KINDS = ("int", "float", "string")
FORMAT_KINDS = {"integer": "int", "float": "float", "string": "string"}  # dataport format -> kind
STRING_MAX_BYTES = 65536  # spec §1.8: longer strings are `invalid`
EXACT_FLOAT = 2 ** 53     # below this, a whole number read as a double is exact
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = datetime.timedelta(seconds=1)
INTEGER = re.compile(r"[+-]?[0-9]+")
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def kind_of_info(result):
    """The value kind ("int", "float", "string") in the result of
    info(..., {"description": True}), or None if it describes no dataport."""
    description = result.get("description") if isinstance(result, dict) else None
    return FORMAT_KINDS.get(description.get("format")) if isinstance(description, dict) else None


def check_timestamp(t, shown):
    if t < 0:
        raise ValueError(f"timestamp {shown} is negative: the server reads negative times as seconds "
                         "before its own clock (spec §3.4), which an ingest can neither resume nor verify")
    if t > INT64_MAX:
        raise ValueError(f"timestamp {shown} does not fit in int64")
    return t


def parse_timestamp(text):
    """Epoch seconds or ISO 8601 text -> int seconds (ValueError says why not)."""
    s = text.strip()
    if INTEGER.fullmatch(s):
        return check_timestamp(int(s), s)
    if NUMBER.fullmatch(s):
        value = float(s)
        if value != value // 1:
            raise ValueError(f"timestamp {s!r} has a fraction of a second; the server stores whole seconds")
        if abs(value) >= EXACT_FLOAT:
            raise ValueError(f"timestamp {s!r} is too large to read exactly in this notation: write it as an integer")
        return check_timestamp(int(value), s)
    try:
        moment = datetime.datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"timestamp {s!r} is neither epoch seconds nor ISO 8601") from None
    return timestamp_of_datetime(moment, s)


def timestamp_of_datetime(moment, shown):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.microsecond:
        raise ValueError(f"timestamp {shown!r} has a fraction of a second; the server stores whole seconds")
    return check_timestamp((moment - EPOCH) // ONE_SECOND, repr(shown))


def coerce_timestamp(x):
    """A timestamp given as an object (int, integral float, str, datetime)."""
    if isinstance(x, str):
        return parse_timestamp(x)
    if isinstance(x, datetime.datetime):
        return timestamp_of_datetime(x, x.isoformat())
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):
        return check_timestamp(int(x), str(x))
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        if not math.isfinite(x) or x != int(x):
            raise ValueError(f"timestamp {x!r} is not a whole number of seconds")
        return check_timestamp(int(x), repr(x))
    if type(x).__name__ == "datetime64":
        seconds = x.astype("datetime64[s]")
        if seconds != x or str(x) == "NaT":
            raise ValueError(f"timestamp {x} is not a whole number of seconds")
        return check_timestamp(int(seconds.astype("int64")), str(x))
    raise ValueError(f"timestamp {x!r} is not a number, a datetime or text")


def parse_value(text, kind):
    """A CSV cell for a dataport of `kind` (ValueError says why not)."""
    if kind == "string":
        if len(text.encode("utf-8")) > STRING_MAX_BYTES:
            raise ValueError("text longer than 64 KB (the server's limit)")
        return text
    s = text.strip()
    if kind == "int":
        if not INTEGER.fullmatch(s):
            raise ValueError(f"{text!r} is not an integer (integer dataport)")
        return check_int(int(s), s)
    if "_" in s:
        raise ValueError(f"{text!r} is not a number (float dataport)")
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"{text!r} is not a number (float dataport)") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number: NaN and infinity cannot be stored")
    return value


def check_int(value, shown):
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ValueError(f"{shown} does not fit in int64 (integer dataport)")
    return value


def coerce_value(x, kind):
    """A value given as an object for a dataport of `kind`."""
    if isinstance(x, str):
        return parse_value(x, kind)
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ValueError(f"{x!r} is not a number or text")
    if kind == "int":
        if not isinstance(x, numbers.Integral):
            raise ValueError(f"{x!r} is not an integer (integer dataport)")
        return check_int(int(x), str(x))
    if not math.isfinite(x):
        raise ValueError(f"{x!r} is not a finite number: NaN and infinity cannot be stored")
    if kind == "float":
        return float(x)
    return str(int(x)) if isinstance(x, numbers.Integral) else repr(float(x))
