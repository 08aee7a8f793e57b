"""record/recordbatch entries -> typed, sorted, unique Columns.

One set of rules for every way entries arrive: the C entries parser's
(_core.entries: timestamps, relative times, value typing, the last of equal
timestamps wins, invalid entries listed in input order). Entries still in
the request body (wire.EntriesSpan) are parsed in place; decoded ones (small
bodies, the HTTP Data Interface) are encoded once and parsed the same way.

Large entries (`off_loop(entries)`) are parsed in a worker thread: the C
parser releases the GIL, so the event loop keeps serving other connections
meanwhile.
"""
from array import array
from itertools import accumulate

import orjson

from ..._core.entries import Entries
from ...exceptions import DecodeError
from ..storage.timeseries import KIND_FLOAT, KIND_INT, Columns
from .wire import LARGE_BODY, EntriesSpan


def off_loop(entries):
    """True for entries big enough to be parsed off the event loop."""
    return isinstance(entries, EntriesSpan) and entries.span[1] >= LARGE_BODY


def entries_columns(kind, entries, now):
    """(Columns, [t of each invalid entry]) for a series of value kind
    `kind`. t is as given, None when the entry had no integer timestamp; an
    entries argument that is not an array is one invalid entry without a
    timestamp."""
    parsed = Entries()
    if isinstance(entries, EntriesSpan):
        parsed.parse(entries.body, entries.span)
    elif isinstance(entries, list):
        try:
            parsed.parse(orjson.dumps(entries))
        except (orjson.JSONEncodeError, DecodeError):   # nested deeper than dumps or the parser go
            parsed.parse(orjson.dumps([_shallow(entry) for entry in entries]))
    else:
        return Columns.from_pairs(kind, []), [None]
    parsed.normalize(kind, now)
    return _columns(parsed, kind), parsed.invalid()


def _shallow(entry):
    """entry with every nested container replaced by null: the same verdict
    (such an entry is invalid, with or without its timestamp) at depth 2."""
    if isinstance(entry, list):
        return [None if isinstance(item, (list, dict)) else item for item in entry]
    return None if isinstance(entry, dict) else entry


def _columns(parsed, kind):
    ts = parsed.timestamps().tobytes()
    if kind == KIND_INT:
        return Columns(kind, ts, parsed.ints().tobytes())
    if kind == KIND_FLOAT:
        return Columns(kind, ts, parsed.floats().tobytes())
    encoded = [value.encode() for value in parsed.strings()]
    return Columns(kind, ts, b"".join(encoded), array("Q", accumulate(map(len, encoded))).tobytes())
