"""Decoding request bodies.

Small bodies are decoded whole by orjson. Large ones that may hold
record/recordbatch entries are walked with the span scanner instead: every
member is decoded by orjson from its own bytes except the entries array of
each record and recordbatch call, which stays in the body as an EntriesSpan
that the C entries parser reads straight into columns when the call runs
(orjson would build three Python objects per point first).

Call ids are kept exact: orjson reads an integer beyond 64 bits as a float,
so a body holding a run of 19 digits has its ids read again by the standard
library's decoder (exact_number), and such an id is echoed as its digits;
record/recordbatch entries in such a body stay in it (their timestamps are
reported as given when invalid).

Bodies from DESCEND_BODY bytes are always walked, never handed to orjson
whole: orjson holds the GIL while it decodes, so a worker thread decoding
a 200 MB body stalls the event loop as surely as the loop itself would.
There a member of DESCEND_BODY bytes or more in a call's arguments is
decoded element by element, and a string that large is never decoded: it
is OVERSIZED, far past the 64 KB a value may hold (spec 1.8), and every
procedure refuses it as it refuses a value of a wrong type (`invalid`).
A calls array longer than the request's budget is not decoded either.
Such a body that the scanner refuses (nesting deeper than 512) is Invalid
JSON: handing it to orjson would be the stall this avoids.

Both ways give the same request: entries go through the entries parser
either way (ingest.py), and a body that one decoder refuses is handed to the
other, so a body is "Invalid JSON" only when both refuse it (orjson refuses
numbers beyond the double range, which JSON allows and an entry may hold;
the scanner refuses nesting deeper than 512, which orjson allows).
"""
import json
import re

import orjson

from ..._core.jscan import array_spans, counted_array_spans, object_spans
from ...exceptions import CoreError

LARGE_BODY = 64 * 1024
DESCEND_BODY = 1 << 20
RECORD_PROCEDURES = ("record", "recordbatch")
_LONG_INTEGER = re.compile(rb"[0-9]{19}")   # int64 ends at 19 digits
_UINT64_END = 1 << 64      # orjson reads and writes integers in [-2**63, 2**64) exactly
_OPEN_ARRAY = ord("[")
_OPEN_OBJECT = ord("{")
_QUOTE = ord('"')


class Oversized:
    """A string argument of DESCEND_BODY bytes or more, left undecoded."""

    __slots__ = ()

    def __repr__(self):
        return "<oversized string>"


OVERSIZED = Oversized()


class EntriesSpan:
    """The entries array of a record/recordbatch call, still in the body."""

    __slots__ = ("body", "span")

    def __init__(self, body, span):
        self.body = body
        self.span = span


def decode_envelope(body, max_calls=None):
    """The decoded request object, or None if the body is not valid JSON.
    With more than max_calls calls, the calls are left undecoded: the list
    holds as many empty objects (the request is refused for its size)."""
    if len(body) >= DESCEND_BODY:   # never one orjson call over the whole body (module docstring)
        return _walked(body, max_calls)
    # entries stay in the body when large, or when they may hold integers orjson would round
    walk_first = (len(body) >= LARGE_BODY or _LONG_INTEGER.search(body)) and b'"record' in body
    if walk_first:
        envelope = _walked(body, max_calls)
        if envelope is not None:
            return envelope
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None if walk_first else _walked(body)
    if _LONG_INTEGER.search(body):
        try:
            _exact_ids(envelope, json.loads(body))
        except (ValueError, RecursionError):   # what orjson reads and json does not: ids stay as they are
            pass
    return envelope


def _exact_ids(envelope, exact):
    """Puts the ids of `exact` (the same body decoded by the json module)
    into envelope's calls where orjson read them as floats."""
    calls = envelope.get("calls") if isinstance(envelope, dict) else None
    if not isinstance(calls, list):
        return
    for call, exact_call in zip(calls, exact["calls"]):
        if isinstance(call, dict) and isinstance(call.get("id"), float) and isinstance(exact_call, dict):
            call["id"] = exact_number(exact_call["id"])


def exact_number(value):
    """A number as orjson can write it back exactly: an integer beyond its range as its digits."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < _UINT64_END:
        return orjson.Fragment(str(value).encode())
    return value


def _walked(body, max_calls=None):
    try:
        return _walk(body, max_calls)
    except (CoreError, orjson.JSONDecodeError):
        return None


def _load(body, span):
    off, length = span
    return orjson.loads(memoryview(body)[off:off + length])


def number_at(body, span):
    off, length = span
    text = bytes(body[off:off + length])
    return exact_number(json.loads(text))


def _walk(body, max_calls=None):
    """The envelope with record/recordbatch entries left as EntriesSpan;
    CoreError (from the scanner) for a body that is not a JSON object."""
    envelope = {}
    for key, value in object_spans(body):      # repeated keys: the last one wins, as in orjson
        name = _load(body, key)
        if name == "calls" and body[value[0]] == _OPEN_ARRAY:
            count, spans = counted_array_spans(body, value, max_calls)
            envelope[name] = [{}] * count if spans is None else [_call(body, span) for span in spans]
        else:
            envelope[name] = _load(body, value)
    return envelope


def _argument(body, span):
    """An argument decoded from its span; one of DESCEND_BODY bytes or more
    element by element, or OVERSIZED when it is a string."""
    off, length = span
    if length < DESCEND_BODY:
        return _load(body, span)
    first = body[off]
    if first == _QUOTE:
        return OVERSIZED
    if first == _OPEN_ARRAY:
        return [_argument(body, element) for element in array_spans(body, span)]
    if first == _OPEN_OBJECT:
        return {_load(body, key): _argument(body, value) for key, value in object_spans(body, span)}
    return _load(body, span)


def _call(body, span):
    if body[span[0]] != _OPEN_OBJECT:
        return _load(body, span)
    call = {}
    for key, value in object_spans(body, span):
        name = _load(body, key)
        call[name] = value if name == "arguments" else _load(body, value)
        if name == "id" and isinstance(call[name], float):
            call[name] = number_at(body, value)
    if "arguments" in call:
        arguments = call["arguments"]
        if call.get("procedure") in RECORD_PROCEDURES and body[arguments[0]] == _OPEN_ARRAY:
            call["arguments"] = [
                EntriesSpan(body, element) if index == 1 and body[element[0]] == _OPEN_ARRAY
                else _argument(body, element)
                for index, element in enumerate(array_spans(body, arguments))]
        else:
            call["arguments"] = _argument(body, arguments)
    return call
