"""CSV downloads of a range of a stored series, one writer for every API's
pages: a header `timestamp,value`, then a line per point, oldest first,
streamed a step at a time (a 10,000,000-point range never sits in memory
whole). Numbers are spelled by the C encoder, as the API's JSON spells them;
strings are quoted as CSV needs; timestamps are shown as the API shows them:
the stored integer (One Platform's seconds), or ISO 8601 in UTC with
milliseconds (M2X's, stored in milliseconds).

Writes go on while a download runs (each step's write lets the loop serve
other requests). A step therefore finds its points in the series as it is
then, from the time after the last point written: a chunk rewritten, split
or added meanwhile is read as it now is, so a download never stops short and
never repeats a point (timestamps are unique in a series). Points written
ahead of the last one sent are in the file, those behind it are not (as if
they came after the download). Before each step the page's own access check
runs again; when the series is no longer readable (access revoked, the
resource deleted) the connection is closed without the body's end, so the
download fails rather than leave a short file that looks complete.
"""
import bisect
import csv
import io

import numpy as np
from aiohttp import web

from ..._core.series import Series as CoreSeries
from ..storage.timeseries import CHUNK_MAX, KIND_INT, KIND_STRING

MS_PER_SECOND = 1000
STEP_POINTS = CHUNK_MAX      # points written per step at most: a stored chunk's most
_M2X_OPEN, _M2X_CLOSE = b'[{"timestamp":"', b"}]"      # encode_m2x's list around its items
_M2X_BETWEEN, _M2X_VALUE = b'},{"timestamp":"', b'","value":'


class Exports:
    """The CSV downloads of a portal: step_points, the points written per step;
    between_steps, None or an async callable awaited between two steps (tests
    have a writer run there)."""

    def __init__(self, step_points=STEP_POINTS):
        self.step_points = step_points
        self.between_steps = None

    async def csv_response(self, request, filename, series, start, end, readable, iso_ms=False):
        """A streamed CSV download of the points of series with start <= t <= end
        (series units). readable(): async, the series as the page's access check
        finds it now, or None. iso_ms: the series stores milliseconds, shown as
        ISO 8601 text (else the integer as stored)."""
        response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8",
                                               "Content-Disposition": f'attachment; filename="{filename}"'})
        await response.prepare(request)
        await response.write(b"timestamp,value\n")
        position = start       # points from this time on are still to be written
        while position <= end:
            if await readable() is not series:   # the body is left without its end: the download fails
                if request.transport is not None:
                    request.transport.close()
                return response
            chunks = series.chunks
            index = bisect.bisect_left(chunks, position, key=lambda chunk: chunk.t_last)
            if index == len(chunks):
                break
            columns = series.columns_of(chunks[index])
            ts = np.frombuffer(columns.ts, np.int64)
            lo = int(ts.searchsorted(position))
            hi = min(int(ts.searchsorted(end, side="right")), lo + self.step_points)
            if hi <= lo:
                break
            await response.write(csv_lines(columns, lo, hi, iso_ms))
            position = int(ts[hi - 1]) + 1
            if self.between_steps is not None:
                await self.between_steps()
        await response.write_eof()
        return response


def csv_lines(columns, lo, hi, iso_ms=False):
    """The CSV lines (bytes) of the points lo..hi-1 of columns."""
    view = columns.view()
    if columns.kind == KIND_STRING:
        ts = np.frombuffer(columns.ts, np.int64)[lo:hi]
        stamps = _iso(ts) if iso_ms else ts.tolist()
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(zip(stamps, (view.value(i) for i in range(lo, hi))))
        return out.getvalue().encode()
    encoder = CoreSeries("int" if columns.kind == KIND_INT else "float")
    encoder.append(view.ts[lo:hi], view.vals[lo:hi])
    if iso_ms:   # [{"timestamp":"…Z","value":v},…]: only digits and -:.TZ inside a time, a number after it
        items = bytes(encoder.encode_m2x(0, hi - lo, MS_PER_SECOND))
        return items[len(_M2X_OPEN):-len(_M2X_CLOSE)].replace(_M2X_BETWEEN, b"\n").replace(_M2X_VALUE, b",") + b"\n"
    entries = bytes(encoder.encode_entries(0, hi - lo, False))      # [[t,v],[t,v],...]
    return entries[2:-2].replace(b"],[", b"\n") + b"\n"


def _iso(ms):
    """YYYY-MM-DDTHH:MM:SS.mmmZ of each of an int64 array of milliseconds (as M2X spells times)."""
    return np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC").tolist()
