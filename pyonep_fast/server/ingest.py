"""record/recordbatch entries -> typed, sorted, unique Columns."""
from .descriptions import value_kind
from .timeseries import Columns
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
