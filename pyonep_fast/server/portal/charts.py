"""The one chart path of every API's pages: a range of a stored numeric
series, downsampled per pixel column (downsample.py), asked for and answered
in seconds whatever unit the API stores its timestamps in, and the live
updates of an open chart in the same unit.

The page's chart (static/portal.js, SeriesChart) asks for
?start=&end=&width= (seconds, pixel columns) and draws {t, v} in seconds;
its CSV link (export.py) names the range the same way.
"""
import math

import numpy as np

from ..storage.timeseries import KIND_STRING
from .downsample import MAX_WIDTH, chart

TIME_MAX = 1 << 62
DEFAULT_WIDTH = 1000
LIVE_POINTS = 200             # an update carries at most these points (more: the page reloads its range)


class BadRange(ValueError):
    """A start, end or width the page cannot have sent."""


def _number(query, name):
    text = query.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadRange(name) from None
    if not math.isfinite(value):
        raise BadRange(name)
    return value


def _series_time(seconds, per_second, rounding, default):
    """Series units of a time in seconds (rounded outwards, so an edge point stays in), clamped
    (M2X keeps times before 1970)."""
    if seconds is None:
        return default
    return min(max(int(rounding(seconds * per_second)), -TIME_MAX), TIME_MAX)


def series_range(query, per_second=1, first=-TIME_MAX, last=TIME_MAX):
    """(start, end) in series units of the query's start and end (seconds),
    first and last where the query names none. Raises BadRange."""
    return (_series_time(_number(query, "start"), per_second, math.floor, first),
            _series_time(_number(query, "end"), per_second, math.ceil, last))


def _seconds(values, per_second):
    return values if per_second == 1 else (np.asarray(values, np.float64) / per_second).tolist()


async def series_chart(summaries, series, query, per_second=1):
    """{"first", "last", "total", "numeric", "start", "end", "t", "v", "count", "exact"}
    of `series` over the query's range (all of it by default), times in
    seconds; per_second: the series' timestamps per second (M2X stores
    milliseconds). width=0 or a string series: what is stored, no points.
    Raises BadRange for a malformed query, downsample.SeriesChanged when the
    series kept changing while it was read."""
    first, last = series.first(), series.last()
    start, end = series_range(query, per_second, first, last)
    width = _number(query, "width")
    width = DEFAULT_WIDTH if width is None else min(max(int(width), 0), MAX_WIDTH)
    answer = {"first": _seconds(first, per_second), "last": _seconds(last, per_second), "total": series.count(),
              "numeric": series.kind != KIND_STRING, "start": _seconds(start, per_second), "end": _seconds(end, per_second)}
    if series.kind == KIND_STRING or start > end or not width:
        return {**answer, "t": [], "v": [], "count": 0, "exact": True}
    drawn = await chart(summaries, series, start, end, width)
    return {**answer, **drawn, "t": _seconds(drawn["t"], per_second)}


def live_update(batches, per_second=1, changed=False):
    """The update an open chart gets for the batches of stored Columns a
    series' watch delivered since the last one: {"count": points stored,
    "points": the newest LIVE_POINTS of them as [t (seconds), v],
    "changed": values went away meanwhile (the page reads its range again)}."""
    count = sum(len(columns) for columns in batches)
    points = []
    for columns in reversed(batches):
        view = columns.view()
        n = len(view)
        take = min(n, LIVE_POINTS - len(points))
        points[:0] = [view.point(i) for i in range(n - take, n)]
        if len(points) >= LIVE_POINTS:
            break
    if per_second != 1:
        points = [[t / per_second, v] for t, v in points]
    return {"count": count, "points": points, "changed": changed}
