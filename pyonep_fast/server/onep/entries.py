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
import re

import orjson

from ..._core.entries import INT64_MAX, INT64_MIN, Entries
from ..._core.jscan import array_spans
from ...exceptions import DecodeError
from ..storage.timeseries import Columns
from .wire import LARGE_BODY, EntriesSpan, number_at, exact_number

_OPEN_ARRAY = ord("[")
_INT64_TEXT = re.compile(rb"-?(?:0|[1-9][0-9]{0,18})")   # the parser's integer timestamps
_NUMBER_START = frozenset(b"-0123456789")


def off_loop(entries):
    """True for entries big enough to be parsed off the event loop."""
    return isinstance(entries, EntriesSpan) and entries.span[1] >= LARGE_BODY


def entries_columns(kind, entries, now, admit_invalid=None):
    """(Columns, [t of each invalid entry]) for a series of value kind
    `kind`. t is as given (1.5, 1e30, an integer beyond int64 included),
    None when the entry gave no number as t; an entries argument that is not
    an array is one invalid entry without a timestamp. admit_invalid(count),
    when given, sees the number of invalid entries before their list or the
    columns are built, and raises to refuse them."""
    parsed = Entries()
    if isinstance(entries, EntriesSpan):
        parsed.parse(entries.body, entries.span)
    elif isinstance(entries, list):
        try:
            parsed.parse(orjson.dumps(entries))
        except (orjson.JSONEncodeError, DecodeError):   # nested deeper than dumps or the parser go
            parsed.parse(orjson.dumps([_shallow(entry) for entry in entries]))
    else:
        if admit_invalid is not None:
            admit_invalid(1)
        return Columns.from_pairs(kind, []), [None]
    parsed.normalize(kind, now)
    if admit_invalid is not None:
        admit_invalid(parsed.invalid_count())
    invalid = parsed.invalid()
    if None in invalid:
        given = iter(_timeless(entries))
        invalid = [next(given) if t is None else t for t in invalid]
    return Columns.from_entries(kind, parsed), invalid


def _timeless(entries):
    """What each entry without an int64 timestamp gave as t, in input order
    (the parser lists these entries with t None): the number as written
    (1e30, an integer beyond int64), None when it gave no number."""
    if isinstance(entries, list):
        for entry in entries:
            t = entry[0] if isinstance(entry, list) and entry else None
            if not (type(t) is int and INT64_MIN <= t <= INT64_MAX):
                yield exact_number(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else None
        return
    body = entries.body
    for element in array_spans(body, entries.span):
        items = array_spans(body, element) if body[element[0]] == _OPEN_ARRAY else ()
        text = bytes(body[items[0][0]:sum(items[0])]) if items else b""
        if _INT64_TEXT.fullmatch(text) and INT64_MIN <= int(text) <= INT64_MAX:
            continue
        yield number_at(body, items[0]) if text and text[0] in _NUMBER_START else None


def _shallow(entry):
    """entry with every nested container replaced by null: the same verdict
    (such an entry is invalid, with or without its timestamp) at depth 2."""
    if isinstance(entry, list):
        return [None if isinstance(item, (list, dict)) else item for item in entry]
    return None if isinstance(entry, dict) else entry

