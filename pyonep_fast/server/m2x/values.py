"""Stream values on the server: value lists parsed straight from the
request body into columns by the C entries parser (Entries.parse_m2x,
typed, sorted and unique by normalize), stored in the chunked timeseries,
and read back as M2X JSON encoded in C.

Times are int64 milliseconds since the epoch (what M2X keeps; finer
fractions are truncated toward the past).
"""
import datetime
import math

import numpy as np
import orjson

from ..._core.entries import M2X_MAX_MS as MAX_MS
from ..._core.entries import M2X_MIN_MS as MIN_MS
from ..._core.entries import Entries, m2x_time
from ..._core.series import Series as CoreSeries
from ..storage import KIND_STRING, Columns
from .storage import ALPHANUMERIC, NUMERIC

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_UNBOUNDED = 1 << 62   # M2X sets no limit on a string value: the body's size is the bound

__all__ = ["MAX_MS", "MIN_MS", "ValueList", "iso", "parse_time", "value_list", "single_values"]


def iso(ms):
    """YYYY-MM-DDTHH:MM:SS.mmmZ of milliseconds since the epoch."""
    ms = int(ms)
    moment = _EPOCH + datetime.timedelta(milliseconds=ms)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (moment.year, moment.month, moment.day, moment.hour,
                                                     moment.minute, moment.second, ms % 1000)


def parse_time(text):
    """Milliseconds of one ISO 8601 time, read as value lists' timestamps
    are (ValueError if it is not one)."""
    ms = m2x_time(text)
    if ms is None:
        raise ValueError(text)
    return ms


class ValueList:
    """One stream's value list, parsed and typed for a stream of `kind`:
    `columns` to store, `count` values given, `problem` the first refused
    one as (index, "timestamp" | "value") or None. `hint` is the kind it was
    typed for: a stream's kind, or None for a stream the values create
    (numeric unless a value is not a number). `body` and `span` locate the
    list, to type it again if the stream changed meanwhile."""

    __slots__ = ("body", "span", "hint", "kind", "count", "columns", "problem")


def value_list(body, span, hint):
    """The ValueList of the JSON array at span of body (validated JSON);
    runs in a worker thread for large bodies (the C parser releases the GIL)."""
    entries = Entries()
    parsed = ValueList()
    parsed.body, parsed.span, parsed.hint = body, span, hint
    parsed.count = entries.parse_m2x(body, span)
    parsed.kind = hint or NUMERIC
    parsed.problem = _typed(entries, parsed.kind)
    if hint is None and parsed.problem is not None and parsed.problem[1] == "value":
        entries.parse_m2x(body, span)
        parsed.kind = ALPHANUMERIC
        parsed.problem = _typed(entries, parsed.kind)
    parsed.columns = Columns.from_entries(parsed.kind, entries) if parsed.problem is None else None
    return parsed


def _typed(entries, kind):
    """Normalizes entries for kind; the first refused value, or None."""
    entries.normalize(kind, 0, _UNBOUNDED)
    positions = entries.invalid_positions()
    if not positions:
        return None
    return positions[0], "timestamp" if entries.invalid()[0] is None else "value"


def single_values(ms, values, hint):
    """The ValueList of decoded values at time ms (PUT value, POST update):
    typed by the same parser as lists."""
    items = [{"timestamp": iso(ms), "value": None if isinstance(value, (list, dict)) else value}
             for value in values]   # a container is refused either way, and may nest deeper than dumps goes
    body = orjson.dumps(items)
    return value_list(body, (0, len(body)), hint)


# --- CSV export ---------------------------------------------------------------
def csv_text(snapshot):
    """CSV of [(stream name, ms, values)]: a header `timestamp,<names>`, then
    one row per distinct time, oldest first, empty where a stream has no
    value at that time (runs in a worker thread)."""
    stamps = np.unique(np.concatenate([ms for _, ms, _ in snapshot])) if snapshot else np.zeros(0, np.int64)
    columns = []
    for _, ms, values in snapshot:
        cells = [""] * len(stamps)
        texts = values if isinstance(values, list) else [repr(value) for value in values.tolist()]
        for position, text in zip(np.searchsorted(stamps, ms).tolist(), texts):
            cells[position] = _csv_cell(text)
        columns.append(cells)
    lines = [",".join(["timestamp"] + [_csv_cell(name) for name, _, _ in snapshot])]
    lines.extend(",".join(row) for row in zip([iso(t) for t in stamps.tolist()], *columns))
    return "\n".join(lines) + "\n"


def _csv_cell(text):
    """RFC 4180 quoting where needed."""
    if any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


# --- reads --------------------------------------------------------------------
def select(series, start, end):
    """(ms array, values array-or-list) of the points with start <= t <= end."""
    stamps, values = [], []
    for view, lo, hi in series._views_in(start, end):
        stamps.append(np.frombuffer(view.ts, np.int64)[lo:hi])
        if view.vals is not None:
            values.append(np.frombuffer(view.vals, np.float64)[lo:hi])
        else:
            values.append([view.value(i) for i in range(lo, hi)])
    if not stamps:
        return np.zeros(0, np.int64), (np.zeros(0) if series.kind != KIND_STRING else [])
    ms = np.concatenate(stamps)
    if series.kind != KIND_STRING:
        return ms, np.concatenate(values)
    return ms, [value for part in values for value in part]


def newest(series, start, end, limit):
    """(ms, values) of the `limit` newest points in [start, end], newest first."""
    ranges, _ = series._selected(start, end, True, limit)
    stamps, values = [], []
    for view, lo, hi in ranges:
        stamps.append(np.frombuffer(view.ts, np.int64)[lo:hi])
        if view.vals is not None:
            values.append(np.frombuffer(view.vals, np.float64)[lo:hi])
        else:
            values.append([view.value(i) for i in range(lo, hi)])
    if not stamps:
        return np.zeros(0, np.int64), []
    ms = np.concatenate(stamps)[::-1]
    if series.kind != KIND_STRING:
        return ms, np.concatenate(values)[::-1]
    return ms, [value for part in values for value in part][::-1]


def encode(kind, ms, values):
    """The M2X JSON list [{"timestamp": ..., "value": ...}] (in C)."""
    encoder = CoreSeries("string" if kind == KIND_STRING else "float")
    if len(ms):
        encoder.append(np.ascontiguousarray(ms), values if kind == KIND_STRING else np.ascontiguousarray(values))
    return encoder.encode_m2x(0, None, 1000)


def _aggregates(column):
    """(count, sum, sum of squares, min, max) of a float64 column."""
    return (len(column), float(column.sum()), float(np.einsum("i,i->", column, column)),
            float(column.min()), float(column.max()))


class ChunkAggregates:
    """Per-chunk aggregates of a series, so stats over whole chunks read no
    points. A chunk's content is final once it is no longer the newest one
    (only the newest is rewritten in place; others are replaced by new Chunk
    objects), so entries are kept for those only, keyed by the Chunk object."""

    def __init__(self):
        self._by_chunk = {}  # id(chunk) -> (chunk, aggregates)

    def of(self, series, chunk):
        found = self._by_chunk.get(id(chunk))
        if found is not None and found[0] is chunk:
            return found[1]
        column = np.frombuffer(series._load(chunk).vals, np.float64)
        aggregates = _aggregates(column)
        if chunk is not series.chunks[-1]:
            if len(self._by_chunk) > 2 * len(series.chunks):  # forget replaced chunks
                live = {id(c) for c in series.chunks}
                self._by_chunk = {key: value for key, value in self._by_chunk.items() if key in live}
            self._by_chunk[id(chunk)] = (chunk, aggregates)
        return aggregates


def stats(series, start, end, cache=None):
    """count, min, max, avg, stddev (population) of the values in range;
    whole chunks from `cache` (a ChunkAggregates) when given."""
    parts = []
    if series.kind != KIND_STRING:
        for chunk in series.chunks:
            if chunk.t_last < start or chunk.t_first > end:
                continue
            if cache is not None and start <= chunk.t_first and chunk.t_last <= end:
                parts.append(cache.of(series, chunk))
                continue
            view = series._load(chunk).view()
            ts = np.frombuffer(view.ts, np.int64)
            lo, hi = np.searchsorted(ts, start, "left"), np.searchsorted(ts, end, "right")
            if hi > lo:
                parts.append(_aggregates(np.frombuffer(view.vals, np.float64)[lo:hi]))
    count = sum(part[0] for part in parts)
    if not count:
        return {"count": 0.0, "min": None, "max": None, "avg": None, "stddev": None}
    mean = sum(part[1] for part in parts) / count
    variance = max(sum(part[2] for part in parts) / count - mean * mean, 0.0)
    return {"count": float(count), "min": min(part[3] for part in parts), "max": max(part[4] for part in parts),
            "avg": mean, "stddev": math.sqrt(variance)}


SAMPLING_TYPES = ("avg", "min", "max", "sum", "count", "nth")


def sampling(series, start, end, interval, kind, limit):
    """[(bucket ms, value)] newest bucket first: values aggregated over
    buckets of `interval` seconds (nth: every interval-th value)."""
    ms, values = select(series, start, end)
    if not len(ms):
        return []
    if kind == "nth" or series.kind == KIND_STRING:
        step = max(int(interval), 1)
        picked = np.arange(0, len(ms), step)
        pairs = [(int(ms[i]), values[i] if series.kind == KIND_STRING else float(values[i])) for i in picked.tolist()]
        return pairs[::-1][:limit]
    width = max(int(interval * 1000), 1)
    buckets = np.floor_divide(ms, width) * width
    edges = np.flatnonzero(np.diff(buckets)) + 1
    starts = np.concatenate(([0], edges))
    if kind == "avg":
        aggregated = np.add.reduceat(values, starts) / np.diff(np.append(starts, len(ms)))
    elif kind == "sum":
        aggregated = np.add.reduceat(values, starts)
    elif kind == "min":
        aggregated = np.minimum.reduceat(values, starts)
    elif kind == "max":
        aggregated = np.maximum.reduceat(values, starts)
    else:
        aggregated = np.diff(np.append(starts, len(ms))).astype(np.float64)
    pairs = list(zip(buckets[starts].tolist(), aggregated.tolist()))
    return pairs[::-1][:limit]
