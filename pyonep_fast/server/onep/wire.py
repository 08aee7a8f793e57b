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

Both ways give the same request: entries go through the entries parser
either way (ingest.py), and a body that one decoder refuses is handed to the
other, so a body is "Invalid JSON" only when both refuse it (orjson refuses
numbers beyond the double range, which JSON allows and an entry may hold;
the scanner refuses nesting deeper than 512, which orjson allows).
"""
import json
import re

import orjson

from ..._core.jscan import array_spans, object_spans
from ...exceptions import CoreError

LARGE_BODY = 64 * 1024
RECORD_PROCEDURES = ("record", "recordbatch")
_LONG_INTEGER = re.compile(rb"[0-9]{19}")   # int64 ends at 19 digits
_UINT64_END = 1 << 64      # orjson reads and writes integers in [-2**63, 2**64) exactly
_OPEN_ARRAY = ord("[")
_OPEN_OBJECT = ord("{")


class EntriesSpan:
    """The entries array of a record/recordbatch call, still in the body."""

    __slots__ = ("body", "span")

    def __init__(self, body, span):
        self.body = body
        self.span = span


def decode_envelope(body):
    """The decoded request object, or None if the body is not valid JSON."""
    # entries stay in the body when large, or when they may hold integers orjson would round
    walk_first = (len(body) >= LARGE_BODY or _LONG_INTEGER.search(body)) and b'"record' in body
    if walk_first:
        envelope = _walked(body)
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


def _walked(body):
    try:
        return _walk(body)
    except (CoreError, orjson.JSONDecodeError):
        return None


def _load(body, span):
    off, length = span
    return orjson.loads(memoryview(body)[off:off + length])


def number_at(body, span):
    off, length = span
    text = bytes(body[off:off + length])
    return exact_number(json.loads(text))


def _walk(body):
    """The envelope with record/recordbatch entries left as EntriesSpan;
    CoreError (from the scanner) for a body that is not a JSON object."""
    envelope = {}
    for key, value in object_spans(body):      # repeated keys: the last one wins, as in orjson
        name = _load(body, key)
        if name == "calls" and body[value[0]] == _OPEN_ARRAY:
            envelope[name] = [_call(body, span) for span in array_spans(body, value)]
        else:
            envelope[name] = _load(body, value)
    return envelope


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
                else _load(body, element)
                for index, element in enumerate(array_spans(body, arguments))]
        else:
            call["arguments"] = _load(body, arguments)
    return call
