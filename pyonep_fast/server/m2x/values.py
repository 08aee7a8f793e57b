"""Stream values on the server: value lists parsed into columns (vectorised
over the canonical ISO 8601 form, which is what clients send), stored sorted
and unique, and read back as M2X JSON encoded in C.

Times are int64 milliseconds since the epoch (what M2X keeps; finer
fractions are truncated toward the past).
"""
import datetime
import math

import numpy as np

from ..._core.series import Series as CoreSeries
from ...m2x.utils import parse_date
from ..storage import KIND_STRING, Columns
from .storage import NUMERIC

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# "YYYY-MM-DDTHH:MM:SS.fffZ" and "...ffffffZ": '0' marks a digit
_TEMPLATES = {24: b"0000-00-00T00:00:00.000Z", 27: b"0000-00-00T00:00:00.000000Z"}
MIN_MS = -62135596800000       # 0001-01-01T00:00:00.000Z
MAX_MS = 253402300799999       # 9999-12-31T23:59:59.999Z


class Invalid(Exception):
    """A value list entry the server refuses: `index` and `field`."""

    def __init__(self, index, field):
        super().__init__(f"value {index}: {field} invalid")
        self.index = index
        self.field = field


def iso(ms):
    """YYYY-MM-DDTHH:MM:SS.mmmZ of milliseconds since the epoch."""
    ms = int(ms)
    moment = _EPOCH + datetime.timedelta(milliseconds=ms)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (moment.year, moment.month, moment.day, moment.hour,
                                                     moment.minute, moment.second, ms % 1000)


def parse_time(text):
    """Milliseconds of one ISO 8601 time (ValueError if it is not one)."""
    if not isinstance(text, str):
        raise ValueError(text)
    moment = parse_date(text)
    delta = moment - _EPOCH
    ms = (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if not MIN_MS <= ms <= MAX_MS:
        raise ValueError(text)
    return ms


def parse_times(texts):
    """int64 milliseconds of a list of ISO 8601 strings; Invalid names the
    first that is not one. The canonical forms (...SS.fffZ, ...SS.ffffffZ)
    are parsed by NumPy in C; others, and a batch NumPy refuses, one by one."""
    n = len(texts)
    out = np.zeros(n, np.int64)
    done = np.zeros(n, bool)
    if n and set(map(type, texts)) == {str}:
        try:
            raw = np.array(texts, dtype="S27")
        except UnicodeEncodeError:
            raw = None
        if raw is not None:
            lengths = np.char.str_len(raw)
            chars = raw.view(np.uint8).reshape(n, 27)
            for width, template in _TEMPLATES.items():
                template = np.frombuffer(template, np.uint8)
                fixed = np.flatnonzero(template != ord("0"))
                rows = (lengths == width) & (chars[:, fixed] == template[fixed]).all(axis=1)
                rows &= (chars[:, :4] != ord("0")).any(axis=1)  # year 0000 is not one
                picked = np.flatnonzero(rows)
                if not len(picked):
                    continue
                texts_of = chars[picked]
                texts_of[:, width - 1] = 0  # without the Z: NumPy's times are naive UTC
                try:
                    micros = texts_of.view("S27").ravel().astype("datetime64[us]").view(np.int64)
                except ValueError:  # a field out of range somewhere: found below
                    continue
                out[picked] = micros // 1000
                done[picked] = True
    for i in np.flatnonzero(~done).tolist():
        try:
            out[i] = parse_time(texts[i])
        except ValueError:
            raise Invalid(i, "timestamp") from None
    return out


def typed_values(kind, values):
    """A float64 array (numeric) or list of str (alphanumeric); Invalid names
    the first value that does not fit the stream."""
    if kind == NUMERIC:
        types = set(map(type, values))
        if types <= {int, float}:
            try:
                column = np.array(values, dtype=np.float64)
            except OverflowError:
                column = None
            if column is not None and np.isfinite(column).all():
                return column
        out = np.zeros(len(values), np.float64)
        for i, value in enumerate(values):
            number = _number(value)
            if number is None:
                raise Invalid(i, "value")
            out[i] = number
        return out
    out = []
    for i, value in enumerate(values):
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append(repr(value) if isinstance(value, float) else str(value))
        else:
            raise Invalid(i, "value")
    return out


def _number(value):
    """A finite float of an int, float or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def value_list(items):
    """(timestamps ms, values) of [{"timestamp": t, "value": v}, ...]."""
    if not isinstance(items, list):
        raise Invalid(None, "values")
    if items and set(map(type, items)) != {dict}:
        raise Invalid(next(i for i, item in enumerate(items) if type(item) is not dict), "value")
    try:
        stamps = [item["timestamp"] for item in items]
    except KeyError:
        raise Invalid(next(i for i, item in enumerate(items) if "timestamp" not in item), "timestamp") from None
    try:
        values = [item["value"] for item in items]
    except KeyError:
        raise Invalid(next(i for i, item in enumerate(items) if "value" not in item), "value") from None
    return parse_times(stamps), values


def columns(kind, ms, values):
    """Columns sorted by time, the last of equal timestamps kept (a later
    value at the same time replaces an earlier one)."""
    order = np.argsort(ms, kind="stable")
    ms = ms[order]
    last = np.ones(len(ms), bool)
    if len(ms) > 1:
        last[:-1] = ms[1:] != ms[:-1]
    keep = order[last]
    ms = ms[last]
    if kind != KIND_STRING:
        return Columns(kind, ms.tobytes(), np.asarray(values, np.float64)[keep].tobytes())
    data = [values[i].encode() for i in keep.tolist()]
    ends = np.cumsum([len(item) for item in data], dtype=np.uint64) if data else np.zeros(0, np.uint64)
    return Columns(kind, ms.tobytes(), b"".join(data), ends.tobytes())


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
