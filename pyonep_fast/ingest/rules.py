"""The rules a point must meet before it is sent (spec §1.8, §2.3, §3.4-3.5).

One implementation for every client path that turns user values into
points: bulk ingest's sources (CSV cells, objects) and the buffered
Datastore. Each check returns the value to send or raises ValueError
saying why the value cannot be stored.

  * timestamps are whole seconds since the epoch, from 1970 to the year
    3000: epoch seconds ("1421906172"; also "1421906172.0" or
    "1.421906172e9" below 2**53, where a double holds them exactly), or in
    a smaller unit given explicitly (ms, us: floored to the second), or
    ISO 8601 read by `datetime.fromisoformat` (no offset means UTC, or the
    zone given). A fraction of a second is an error (the server stores
    whole seconds), and so is a negative time (the server would read it as
    "seconds before its own clock"); a time after the year 3000 is a unit
    mistake (ImplausibleTime, with the hint to give --time-unit). The
    Datastore, an API that stores what pyonep stored, checks only 0 <= t < 2**63;
  * integer dataports take integers within int64 ("3.0" is not one); float
    dataports take finite numbers (no NaN or infinity); string dataports
    take text up to 64 KB of UTF-8, numbers as their JSON text.
"""
import datetime
import math
import numbers
import re
import time

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


#: Timestamps from this one on (the year 3000, in seconds) are read as a unit mistake.
PLAUSIBLE_LIMIT = 32503680000
#: --time-unit: how many of the unit make a second.
TIME_UNITS = {"s": 1, "ms": 1000, "us": 1000000}
RELATIVE = re.compile(r"-(\d+)([smhdw])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ImplausibleTime(ValueError):
    """A timestamp after the year 3000: milliseconds or microseconds read as seconds."""


def check_timestamp(t, shown):
    if t < 0:
        raise ValueError(f"timestamp {shown} is negative: the server reads negative times as seconds "
                         "before its own clock (spec §3.4), which an ingest can neither resume nor verify")
    if t > INT64_MAX:
        raise ValueError(f"timestamp {shown} does not fit in int64")
    return t


def check_plausible(t, shown):
    """check_timestamp, and no later than the year 3000 (ImplausibleTime)."""
    check_timestamp(t, shown)
    if t >= PLAUSIBLE_LIMIT:
        raise ImplausibleTime(f"timestamp {shown} is after the year 3000: milliseconds or microseconds? "
                              "give --time-unit ms (or us)")
    return t


def time_factor(unit):
    try:
        return TIME_UNITS[unit]
    except KeyError:
        raise ValueError(f"time unit must be one of {', '.join(TIME_UNITS)}, not {unit!r}") from None


def parse_timestamp(text, unit="s", tz=None, now=None):
    """Text -> int seconds, the one time parser of every command (ValueError
    says why not):
      * epoch numbers in `unit` (s, ms, us; whole seconds are kept, a
        smaller unit is floored to the second it falls in);
      * ISO 8601 (datetime.fromisoformat: dates, fractions, offsets, Z);
        no offset means `tz` (a zoneinfo name), else UTC;
      * with `now` given (commands, not data): `now` and `-30s/-30m/-2h/-1d/-1w`.
    Fractions of a second in seconds are refused (the server stores whole
    seconds); so are times before 1970, and in data (no `now`) times after
    the year 3000."""
    s = text.strip()
    check = check_plausible if now is None else check_timestamp
    if now is not None:
        if s == "now":
            return now
        match = RELATIVE.fullmatch(s)
        if match:
            return now - int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    factor = time_factor(unit)
    if INTEGER.fullmatch(s):
        return check(int(s) // factor, s)
    if NUMBER.fullmatch(s):
        value = float(s)
        if abs(value) >= EXACT_FLOAT:
            raise ValueError(f"timestamp {s!r} is too large to read exactly in this notation: write it as an integer")
        if factor == 1 and value != value // 1:
            raise ValueError(f"timestamp {s!r} has a fraction of a second; the server stores whole seconds")
        return check(int(value // factor), s)
    return timestamp_of_datetime(_iso_moment(s, now is not None), s, tz, floor=now is not None)


def _iso_moment(s, relative):
    try:
        return datetime.datetime.fromisoformat(s)
    except ValueError:
        hint = ", now, -30s/-2h/-1d/-1w" if relative else ""
        raise ValueError(f"timestamp {s!r} is neither epoch seconds{hint} nor ISO 8601") from None


ONE_MILLISECOND = datetime.timedelta(milliseconds=1)


def iso_ms(ms):
    """ISO 8601 of milliseconds since the epoch as M2X writes times: UTC,
    three fraction digits, Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def parse_command_ms(text, tz=None, now_ms=None):
    """A command's time in milliseconds since the epoch, for APIs that keep
    milliseconds (M2X): what parse_timestamp(text, tz=tz, now=...) reads,
    with the milliseconds of an ISO 8601 time kept (finer is floored) and
    `now`, `-2h` counted from now_ms (default: the clock)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    s = text.strip()
    if s == "now":
        return now_ms
    if RELATIVE.fullmatch(s) or NUMBER.fullmatch(s):
        offset = now_ms % 1000 if RELATIVE.fullmatch(s) else 0
        return parse_timestamp(s, tz=tz, now=now_ms // 1000) * 1000 + offset
    moment = _iso_moment(s, True)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz) if isinstance(tz, str) else tz or UTC)
    ms = (moment - EPOCH) // ONE_MILLISECOND
    if ms < 0:
        raise ValueError(f"timestamp {s!r} is before 1970")
    return ms


def zone(name):
    """The tzinfo of a --tz name (IANA, e.g. Europe/Paris; UTC)."""
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Paris)") from None


def timestamp_of_datetime(moment, shown, tz=None, floor=False):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz) if isinstance(tz, str) else tz or UTC)
    if moment.microsecond and not floor:
        raise ValueError(f"timestamp {shown!r} has a fraction of a second; the server stores whole seconds")
    return check_plausible((moment - EPOCH) // ONE_SECOND, repr(shown))


def coerce_timestamp(x, unit="s"):
    """A timestamp given as an object (int, integral float, str, datetime)."""
    if isinstance(x, str):
        return parse_timestamp(x, unit)
    if isinstance(x, datetime.datetime):
        return timestamp_of_datetime(x, x.isoformat())
    factor = time_factor(unit)
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):
        return check_plausible(int(x) // factor, str(x))
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        if not math.isfinite(x) or (factor == 1 and x != int(x)):
            raise ValueError(f"timestamp {x!r} is not a whole number of seconds")
        return check_plausible(int(x // factor), repr(x))
    if type(x).__name__ == "datetime64":
        seconds = x.astype("datetime64[s]")
        if seconds != x or str(x) == "NaT":
            raise ValueError(f"timestamp {x} is not a whole number of seconds")
        return check_plausible(int(seconds.astype("int64")), str(x))
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
