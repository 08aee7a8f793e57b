"""Value lists for post_values / post_updates: encoded in C, sent in pieces
within the server's limits, failures named value by value.

An input becomes either a Series of the C core (csrc/series.c formats the
M2X shape `[{"timestamp":"...Z","value":v},...]` and the ISO 8601 times,
in UTC with milliseconds) or, when it cannot be one without changing what
is sent (mixed value types, timestamp strings, extra fields), the list
itself, encoded as m2x 5.5.0 encoded it:

  * [{"timestamp": datetime, "value": v}, ...] with all values int, all
    float or all str: a Series; each datetime is read as local wall-clock
    time (upstream's to_utc);
  * (timestamps, values) with NumPy datetime64 timestamps, a structured
    array with fields `timestamp` and `value`, or a pandas Series with a
    DatetimeIndex: a Series, from the arrays' memory (UTC; no Python object
    per point unless the values are strings);
  * any other list: sent as given (strings untouched, datetimes by to_iso).
"""
import datetime
import itertools
import operator
import sys
import time

import numpy as np

from .._core.series import Series
from .._core import ERANGE
from ..exceptions import CoreError, TransportError
from .errors import HTTPError, ValuesNotAccepted, values_not_delivered

#: A request carries at most this many values ...
MAX_VALUES_PER_REQUEST = 50_000
#: ... and at most this many body bytes (the server takes more).
MAX_BODY_BYTES = 8 << 20

_MICROS = 1_000_000

# Bytes an M2X value object takes beyond the Series' bound for an entry
# `[ts,v],` (csrc/series.c: 50 fixed characters against 24).
_M2X_EXTRA = 26


class _SeriesValues:
    """Points in a C Series (timestamps in microseconds)."""

    def __init__(self, series):
        self.series = series

    def __len__(self):
        return len(self.series)

    def count_within(self, first, max_values, max_bytes):
        """How many values from `first` on fit one body."""
        wanted = min(max_values, len(self.series) - first)
        if self.series.kind != "string":
            per_point = {"int": 44, "float": 48}[self.series.kind] + _M2X_EXTRA
            return max(1, min(wanted, (max_bytes - 2) // per_point))
        while wanted > 1 and len(self.series.encode_m2x(first, wanted, _MICROS)) > max_bytes:
            wanted //= 2
        return max(1, wanted)

    def body(self, first, n):
        return self.series.encode_m2x(first, n, _MICROS)


class _ListValues:
    """A list sent as given, encoded as m2x 5.5.0 did (api.to_json)."""

    def __init__(self, items, to_json):
        self.items = items
        self.to_json = to_json

    def __len__(self):
        return len(self.items)

    def count_within(self, first, max_values, max_bytes):
        wanted = min(max_values, len(self.items) - first)
        while wanted > 1 and len(self.body(first, wanted)) > max_bytes:
            wanted //= 2
        return max(1, wanted)

    def body(self, first, n):
        return self.to_json(self.items[first:first + n]).encode("utf-8")


def _series_of(kind, timestamps, values):
    series = Series(kind)
    series.append(timestamps, values)
    return _SeriesValues(series)


def _value_kind(values):
    """The Series kind that sends every value as m2x would, or None."""
    types = set(map(type, values))
    if types == {int}:
        return "int"
    if types == {float}:
        return "float"
    if types == {str}:
        return "string"
    return None


def _local_micros(moment):
    """Microseconds since the epoch of a datetime's wall clock read as local
    time (m2x's to_utc: time.mktime of its timetuple)."""
    return int(time.mktime(moment.timetuple())) * _MICROS + moment.microsecond


_MINUTE = 60 * _MICROS
_WALL_EPOCH = datetime.datetime(1970, 1, 1)
_ONE_MICROSECOND = datetime.timedelta(microseconds=1)


def _minute_offset(minute):
    """Seconds mktime adds to a naive wall-clock minute (its local offset)."""
    moment = _WALL_EPOCH + datetime.timedelta(minutes=minute)
    return int(time.mktime(moment.timetuple())) - minute * 60


def _local_micros_all(stamps):
    """_local_micros of every datetime, as an int64 array. Naive ones (the
    usual input) take mktime once per distinct wall-clock minute (local
    offsets change only at whole minutes), so the result is still mktime's
    to the microsecond."""
    try:
        # map() over operators: no Python frame per datetime (a third less CPU than a comprehension)
        wall = np.fromiter(map(operator.floordiv, map(operator.sub, stamps, itertools.repeat(_WALL_EPOCH)),
                               itertools.repeat(_ONE_MICROSECOND)), dtype=np.int64, count=len(stamps))
    except TypeError:  # aware datetimes: mktime ignores their tzinfo, one by one
        return list(map(_local_micros, stamps))
    minutes, inverse = np.unique(wall // _MINUTE, return_inverse=True)
    offsets = np.array([_minute_offset(minute) for minute in minutes.tolist()], dtype=np.int64)
    return wall + offsets[inverse.reshape(-1)] * _MICROS


def _from_dicts(items):
    """A Series for [{"timestamp": datetime, "value": v}, ...], else None."""
    if not items or set(map(type, items)) != {dict} or set(map(len, items)) != {2}:
        return None
    try:
        stamps = [item["timestamp"] for item in items]
        values = [item["value"] for item in items]
    except KeyError:
        return None
    if set(map(type, stamps)) != {datetime.datetime}:
        return None
    kind = _value_kind(values)
    if kind is None:
        return None
    try:
        return _series_of(kind, _local_micros_all(stamps), values)
    except CoreError as error:
        if error.code != ERANGE:  # NaN/inf, lone surrogates: refused before anything is sent
            raise
        return None  # ints past int64: sent as given, as m2x did


def _array_kind(values):
    """(kind, column) for a NumPy value column."""
    if values.dtype.kind in "iu":
        return "int", values
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            index = int(np.argmax(bad))
            raise ValueError(f"value {index} is {float(values[index])!r}: M2X values must be finite numbers")
        return "float", values.astype(np.float64, copy=False)
    items = values.tolist()
    kind = _value_kind(items)
    if kind is None:
        raise TypeError("array values must be all numbers or all str")
    return kind, items


def _from_arrays(timestamps, values):
    timestamps = np.asarray(timestamps)
    values = np.asarray(values)
    if timestamps.dtype.kind != "M":
        raise TypeError("array timestamps must be NumPy datetime64 (or a pandas DatetimeIndex)")
    if timestamps.shape != values.shape or timestamps.ndim != 1:
        raise ValueError("timestamps and values must be 1-D and equally long")
    micros = timestamps.astype("datetime64[us]").view(np.int64)
    missing = micros == np.iinfo(np.int64).min
    if missing.any():
        raise ValueError(f"timestamp {int(np.argmax(missing))} is NaT")
    kind, column = _array_kind(values)
    return _series_of(kind, np.ascontiguousarray(micros), column)


def _pandas_series(values):
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(values, pandas.Series)


def encode(values, to_json):
    """The value list as a _SeriesValues or _ListValues."""
    if _pandas_series(values):
        index = values.index
        if getattr(index, "tz", None) is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        if not hasattr(index, "asi8"):
            raise TypeError("a pandas Series of values needs a DatetimeIndex")
        return _from_arrays(index.to_numpy(), values.to_numpy())
    if isinstance(values, np.ndarray) and values.dtype.names:
        if "timestamp" not in values.dtype.names or "value" not in values.dtype.names:
            raise TypeError("a structured array of values needs fields 'timestamp' and 'value'")
        return _from_arrays(values["timestamp"], values["value"])
    if (isinstance(values, tuple) and len(values) == 2
            and all(isinstance(column, np.ndarray) for column in values)):
        return _from_arrays(*values)
    if isinstance(values, (list, tuple)):
        return _from_dicts(values) or _ListValues(list(values), to_json)
    return _ListValues(values, to_json)


def _pieces(encoded, max_values, max_bytes):
    """[(first, count)] covering the values, each within the limits."""
    pieces = []
    first = 0
    total = len(encoded)
    while first < total:
        count = encoded.count_within(first, max_values, max_bytes)
        pieces.append((first, count))
        first += count
    return pieces or [(0, 0)]


def _encoded_or_none(values, to_json):
    """encode(values), or None for something m2x's own encoding should send
    as it is (neither a list nor an array)."""
    try:
        return encode(values, to_json)
    except TypeError:
        if isinstance(values, (list, tuple, np.ndarray)) or _pandas_series(values):
            raise
        return None


def post_values(api, path, values):
    """Stream.post_values: POST {"values": [...]} in as many requests as the
    limits need; returns the last answer."""
    encoded = _encoded_or_none(values, api.to_json)
    if encoded is None:
        return api.post(path, data={"values": values})
    url = api.url(path)
    pieces = _pieces(encoded, MAX_VALUES_PER_REQUEST, MAX_BODY_BYTES)
    if len(pieces) == 1 and isinstance(encoded, _ListValues):
        return api.post(path, data={"values": values})  # byte for byte what m2x 5.5.0 sent
    result = None
    for first, count in pieces:
        body = b'{"values":' + encoded.body(first, count) + b"}"
        result = _send_piece(api, url, body, range(0, first), range(first, len(encoded)), len(pieces) > 1)
    return result


def _send_piece(api, url, body, accepted, rest, several):
    """api.send of one body; when it is one of several, a failure names the
    values stored before it (accepted) and the others (rest)."""
    try:
        return api.send("POST", url, body)
    except HTTPError as error:
        if not several:
            raise
        raise ValuesNotAccepted(f"{_count(rest)} values not accepted: {error}", error.response, accepted, rest) \
            from error
    except TransportError as error:
        if not several:
            raise
        raise values_not_delivered(error, f"{_count(rest)} values not confirmed stored: {error}", accepted, rest) \
            from error


def _count(rest):
    return sum(map(len, rest.values())) if isinstance(rest, dict) else len(rest)


def post_updates(api, path, body):
    """Device.post_updates: {"values": {stream: value list}, ...}, in the
    requests of updates_bodies; returns the last answer."""
    bodies = updates_bodies(api, body)
    if bodies is None:
        return api.post(path, data=body)
    url = api.url(path)
    result = None
    for body_bytes, accepted, rest in bodies:
        result = _send_piece(api, url, body_bytes, accepted, rest, len(bodies) > 1)
    return result


def updates_bodies(api, body):
    """The request bodies of post_updates, [(bytes, accepted, rest)] with
    the values sent before each body (accepted) and from it on (rest), as
    {stream: range}; None for a body m2x's own encoding sends as it is.
    Value lists are cut into pieces within the limits and the pieces packed
    into as few requests as fit, in order; the other fields go with the
    first."""
    lists = body.get("values")
    if not isinstance(lists, dict) or not lists:
        return None
    encoded = {}
    for name, values in lists.items():
        encoded[name] = _encoded_or_none(values, api.to_json)
        if encoded[name] is None:
            return None
    others = {key: value for key, value in body.items() if key != "values"}
    extra = b"," + api.to_json(others).encode("utf-8")[1:-1] if others else b""
    room = MAX_BODY_BYTES - len(extra) - 16
    requests = [[]]  # [[(name, first, count, member bytes), ...], ...]
    values_in, bytes_in = 0, 0
    for name, values in encoded.items():
        key = api.to_json(name).encode("utf-8") + b":"
        for first, count in _pieces(values, MAX_VALUES_PER_REQUEST, room - len(key)):
            member = key + values.body(first, count)
            if requests[-1] and (values_in + count > MAX_VALUES_PER_REQUEST or bytes_in + len(member) + 1 > room):
                requests.append([])
                values_in, bytes_in = 0, 0
            requests[-1].append((name, first, count, member))
            values_in += count
            bytes_in += len(member) + 1
    done = dict.fromkeys(encoded, 0)
    bodies = []
    for number, parts in enumerate(requests):
        members = b",".join(part[3] for part in parts)
        body_bytes = b'{"values":{' + members + b"}" + (extra if number == 0 else b"") + b"}"
        accepted = {name: range(0, done[name]) for name in encoded}
        rest = {name: range(done[name], len(values)) for name, values in encoded.items() if done[name] < len(values)}
        bodies.append((body_bytes, accepted, rest))
        for name, first, count, _ in parts:
            done[name] = first + count
    return bodies
