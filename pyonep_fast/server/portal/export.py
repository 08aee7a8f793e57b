"""CSV downloads of a range of a stored series, one writer for every API's
pages: a header `timestamp,value`, then a line per point, oldest first,
streamed chunk by chunk (the series' stored chunks: a 10,000,000-point range
never sits in memory whole). Numbers are spelled by the C encoder, as the
API's JSON spells them; strings are quoted as CSV needs; timestamps are
shown as the API shows them: the stored integer (One Platform's seconds),
or ISO 8601 in UTC with milliseconds (M2X's, stored in milliseconds).
"""
import csv
import io

import numpy as np
from aiohttp import web

from ..._core.series import Series as CoreSeries
from ..storage.timeseries import KIND_INT, KIND_STRING

MS_PER_SECOND = 1000
_M2X_OPEN, _M2X_CLOSE = b'[{"timestamp":"', b"}]"      # encode_m2x's list around its items
_M2X_BETWEEN, _M2X_VALUE = b'},{"timestamp":"', b'","value":'


async def csv_response(request, filename, series, start, end, iso_ms=False):
    """A streamed CSV download of the points of series with start <= t <= end
    (series units). iso_ms: the series stores milliseconds, shown as ISO 8601
    text (else the integer as stored). A chunk rewritten while the download
    runs ends it there (its points moved to chunks already passed or ahead)."""
    response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8",
                                           "Content-Disposition": f'attachment; filename="{filename}"'})
    await response.prepare(request)
    await response.write(b"timestamp,value\n")
    for chunk in [c for c in series.chunks if c.t_last >= start and c.t_first <= end]:
        if not any(c is chunk for c in series.chunks):
            break
        await response.write(csv_lines(series.columns_of(chunk), start, end, iso_ms))
    await response.write_eof()
    return response


def csv_lines(columns, start, end, iso_ms=False):
    """The CSV lines (bytes) of the points of columns with start <= t <= end."""
    view = columns.view()
    ts = np.frombuffer(columns.ts, np.int64)
    lo, hi = int(ts.searchsorted(start)), int(ts.searchsorted(end, side="right"))
    if hi <= lo:
        return b""
    if columns.kind == KIND_STRING:
        stamps = _iso(ts[lo:hi]) if iso_ms else ts[lo:hi].tolist()
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
