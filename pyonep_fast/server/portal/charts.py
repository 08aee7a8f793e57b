"""The one chart path of every API's pages: a range of a stored numeric
series, downsampled per pixel column (downsample.py), asked for and answered
in seconds whatever unit the API stores its timestamps in.

The page's chart (static/portal.js, SeriesChart) asks for
?start=&end=&width= (seconds, pixel columns) and draws {t, v} in seconds.
"""
import math

import numpy as np

from ..storage.timeseries import KIND_STRING
from .downsample import MAX_WIDTH, chart

TIME_MAX = 1 << 62
DEFAULT_WIDTH = 1000


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
    """Series units of a time in seconds (rounded outwards, so an edge point stays in), clamped."""
    if seconds is None:
        return default
    return min(max(int(rounding(seconds * per_second)), 0), TIME_MAX)


def _seconds(values, per_second):
    return values if per_second == 1 else (np.asarray(values, np.float64) / per_second).tolist()


async def series_chart(summaries, series, query, per_second=1):
    """{"first", "last", "total", "start", "end", "t", "v", "count", "exact"}
    of `series` over the query's range (all of it by default), times in
    seconds; per_second: the series' timestamps per second (M2X stores
    milliseconds). width=0 or a string series: what is stored, no points.
    Raises BadRange for a malformed query, downsample.SeriesChanged when the
    series kept changing while it was read."""
    first, last = series.first(), series.last()
    start = _series_time(_number(query, "start"), per_second, math.floor, first)
    end = _series_time(_number(query, "end"), per_second, math.ceil, last)
    width = _number(query, "width")
    width = DEFAULT_WIDTH if width is None else min(max(int(width), 0), MAX_WIDTH)
    answer = {"first": _seconds(first, per_second), "last": _seconds(last, per_second), "total": series.count(),
              "start": _seconds(start, per_second), "end": _seconds(end, per_second)}
    if series.kind == KIND_STRING or start > end or not width:
        return {**answer, "t": [], "v": [], "count": 0, "exact": True}
    drawn = await chart(summaries, series, start, end, width)
    return {**answer, **drawn, "t": _seconds(drawn["t"], per_second)}
