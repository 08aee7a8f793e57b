"""Chart data from a stored series: the minimum and maximum of each pixel
column, computed with NumPy over the series' chunks, so a browser gets at
most four points per column however many are stored.

Wide ranges skip the points: each chunk of BLOCK * 2 points or more gets a
summary (per block of BLOCK points: its first timestamp and its minimum and
maximum with their timestamps), computed once per chunk and cached. Chunks
are never changed in place (a rewrite makes a new Chunk object), so a cached
summary is valid while its Chunk object is the one the series indexes.
A block is binned by its first timestamp, which moves an extreme by less
than a block's time span; the summaries are used only when a column holds
SUMMARY_FACTOR blocks or more, so that is under a fraction of a column.
Chunks the range cuts through are read point by point, so the edges are exact.

Numeric series only (int and float); values are charted as float64.
"""
import asyncio
from collections import OrderedDict

import numpy as np

from ..storage.timeseries import KIND_INT, KIND_STRING

BLOCK = 256               # points per summary block
SUMMARY_FACTOR = 4        # blocks per pixel column from which summaries are used
CACHED_CHUNKS = 8192      # summaries kept (about 40 kB each for a full 65536-point chunk)
MAX_WIDTH = 8192          # pixel columns a request may ask for


class Blocks:
    """Columns of blocks or points: t0 (the timestamp that bins it), the
    minimum (tmin, vmin) and the maximum (tmax, vmax), count of points."""

    __slots__ = ("t0", "tmin", "vmin", "tmax", "vmax", "count")

    def __init__(self, t0, tmin, vmin, tmax, vmax, count):
        self.t0, self.tmin, self.vmin, self.tmax, self.vmax, self.count = t0, tmin, vmin, tmax, vmax, count

    @classmethod
    def of_points(cls, ts, vals):
        return cls(ts, ts, vals, ts, vals, np.ones(len(ts), np.int64))

    @classmethod
    def summary(cls, ts, vals):
        """Blocks of BLOCK points (the last one shorter) of sorted points."""
        n = len(ts)
        whole = n // BLOCK * BLOCK
        parts = []
        if whole:
            t2, v2 = ts[:whole].reshape(-1, BLOCK), vals[:whole].reshape(-1, BLOCK)
            rows = np.arange(len(v2))
            lo, hi = v2.argmin(axis=1), v2.argmax(axis=1)
            parts.append(cls(t2[:, 0], t2[rows, lo], v2[rows, lo], t2[rows, hi], v2[rows, hi],
                             np.full(len(v2), BLOCK, np.int64)))
        if whole < n:
            t1, v1 = ts[whole:], vals[whole:]
            lo, hi = int(v1.argmin()), int(v1.argmax())
            parts.append(cls(t1[:1], t1[lo:lo + 1], v1[lo:lo + 1], t1[hi:hi + 1], v1[hi:hi + 1],
                             np.array([n - whole], np.int64)))
        return concat(parts)


def concat(parts):
    return Blocks(*(np.concatenate([getattr(p, name) for p in parts]) for name in Blocks.__slots__))


def points_of(columns):
    """(timestamps int64, values float64) arrays of numeric Columns, no copy of the timestamps."""
    ts = np.frombuffer(columns.ts, np.int64)
    vals = np.frombuffer(columns.vals, np.int64 if columns.kind == KIND_INT else np.float64)
    return ts, vals.astype(np.float64, copy=False)


class Summaries:
    """The cache of chunk summaries of every series (one per server)."""

    def __init__(self, limit=CACHED_CHUNKS):
        self.limit = limit
        self._cache = OrderedDict()      # chunk id -> (Chunk, Blocks)

    def get(self, chunk):
        entry = self._cache.get(chunk.id)
        if entry is None or entry[0] is not chunk:
            return None
        self._cache.move_to_end(chunk.id)
        return entry[1]

    def put(self, chunk, blocks):
        self._cache[chunk.id] = (chunk, blocks)
        self._cache.move_to_end(chunk.id)
        while len(self._cache) > self.limit:
            self._cache.popitem(last=False)


class SeriesChanged(Exception):
    """The series was rewritten while its chunks were being read."""


async def chart(summaries, series, start, end, width):
    """{"t": [...], "v": [...], "count": points in [start, end], "exact": bool}:
    min/max per pixel column (of `width` columns over start..end), or every
    point when there are few. Reads chunk rows between turns of the event
    loop; a series changed meanwhile is read again."""
    if series.kind == KIND_STRING:
        raise ValueError("a string series has no chart")
    for _ in range(8):
        try:
            return await _chart(summaries, series, start, end, width)
        except SeriesChanged:
            continue
    raise SeriesChanged


async def _load(series, chunk):
    """chunk's Columns, after a turn of the loop; SeriesChanged if the series
    no longer indexes it."""
    await asyncio.sleep(0)
    if not any(c is chunk for c in series.chunks):
        raise SeriesChanged
    return series.columns_of(chunk)


async def _chart(summaries, series, start, end, width):
    chunks = [c for c in series.chunks if c.t_last >= start and c.t_first <= end]
    span = end - start + 1
    upper = sum(c.n for c in chunks)
    use_summaries = upper >= width * BLOCK * SUMMARY_FACTOR
    parts = []
    for chunk in chunks:
        inside = chunk.t_first >= start and chunk.t_last <= end
        if use_summaries and inside and chunk.n >= 2 * BLOCK:
            blocks = summaries.get(chunk)
            if blocks is None:
                blocks = Blocks.summary(*points_of(await _load(series, chunk)))
                summaries.put(chunk, blocks)
            parts.append(blocks)
            continue
        ts, vals = points_of(await _load(series, chunk))
        if not inside:
            lo, hi = np.searchsorted(ts, start), np.searchsorted(ts, end, side="right")
            ts, vals = ts[lo:hi], vals[lo:hi]
        if len(ts):
            parts.append(Blocks.of_points(ts, vals))
    if not parts:
        return {"t": [], "v": [], "count": 0, "exact": True}
    blocks = concat(parts)
    count = int(blocks.count.sum())
    if len(blocks.t0) == count and count <= 2 * width:   # every point, as it is
        return {"t": blocks.t0.tolist(), "v": blocks.vmin.tolist(), "count": count, "exact": True}
    t, v = _min_max_per_column(blocks, start, span, width)
    return {"t": t.tolist(), "v": v.tolist(), "count": count, "exact": len(blocks.t0) == count}


def _min_max_per_column(blocks, start, span, width):
    """(t, v) arrays: per non-empty column its minimum and maximum (once when
    they are the same point), in time order."""
    column = np.floor((blocks.t0 - start).astype(np.float64) * (width / span)).astype(np.int64)
    firsts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
    lo_value = np.minimum.reduceat(blocks.vmin, firsts)
    hi_value = np.maximum.reduceat(blocks.vmax, firsts)
    group = np.repeat(np.arange(len(firsts)), np.diff(np.r_[firsts, len(column)]))
    lo_at = _first_where(blocks.vmin == lo_value[group], group)
    hi_at = _first_where(blocks.vmax == hi_value[group], group)
    t_lo, t_hi = blocks.tmin[lo_at], blocks.tmax[hi_at]
    same = t_lo == t_hi
    t = np.concatenate([t_lo, t_hi[~same]])
    v = np.concatenate([lo_value, hi_value[~same]])
    order = np.argsort(t, kind="stable")
    return t[order], v[order]


def _first_where(mask, group):
    """Per group, the index of its first element where mask holds (every group has one)."""
    hits = np.flatnonzero(mask)
    _, first = np.unique(group[hits], return_index=True)
    return hits[first]
