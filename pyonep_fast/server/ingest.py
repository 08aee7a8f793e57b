"""record/recordbatch entries -> typed, sorted, unique Columns."""
import operator
from array import array
from itertools import islice

from .descriptions import value_kind
from .timeseries import KIND_FLOAT, KIND_INT, Columns
from .values import INVALID, convert_value

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def entries_columns(res, entries, now):
    """(Columns, [t of each invalid entry]) for a decoded entries list.

    Timestamps: integers; negative ones are relative to now. Later entries
    win at equal timestamps. An invalid entry reports its t as given (None
    when it had no integer timestamp).
    """
    if not isinstance(entries, list):
        return Columns.from_pairs(value_kind(res.desc), []), [None]
    kind = value_kind(res.desc)
    fast = _bulk_numeric(kind, entries)
    if fast is not None:
        return fast, []
    points = {}
    invalid = []
    for entry in entries:
        t = entry[0] if isinstance(entry, list) and entry else None
        if not (isinstance(t, int) and not isinstance(t, bool) and _INT64_MIN <= t <= _INT64_MAX):
            invalid.append(None)
            continue
        value = convert_value(kind, entry[1]) if len(entry) == 2 else INVALID
        if value is INVALID:
            invalid.append(t)
            continue
        points[now + t if t < 0 else t] = value
    return Columns.from_pairs(kind, sorted(points.items())), invalid


def _bulk_numeric(kind, entries):
    """Columns built list-at-a-time for the bulk shape (numeric port, [t, v]
    pairs, t >= 0 strictly increasing, values already of the port's type);
    None sends anything else through the general per-entry rules above, so
    both give the same result."""
    if kind not in (KIND_INT, KIND_FLOAT) or not entries:
        return None
    # set(map(...)) keeps the per-entry checks in C
    if set(map(type, entries)) != {list} or set(map(len, entries)) != {2}:
        return None
    ts = [e[0] for e in entries]
    values = [e[1] for e in entries]
    if set(map(type, ts)) != {int} or ts[0] < 0 or not all(map(operator.lt, ts, islice(ts, 1, None))):
        return None
    if not set(map(type, values)) <= ({int} if kind == KIND_INT else {int, float}):
        return None
    try:
        return Columns(kind, array("q", ts).tobytes(), array("q" if kind == KIND_INT else "d", values).tobytes())
    except OverflowError:    # outside int64 (or a float port's range): the general path decides
        return None
