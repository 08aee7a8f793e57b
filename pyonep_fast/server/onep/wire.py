"""Decoding request bodies.

Small bodies are decoded whole by orjson. Large ones that may hold
record/recordbatch entries are walked with the span scanner instead: every
member is decoded by orjson from its own bytes except the entries array of
each record and recordbatch call, which stays in the body as an EntriesSpan
that the C entries parser reads straight into columns when the call runs
(orjson would build three Python objects per point first).

Both ways give the same request: entries go through the entries parser
either way (ingest.py), and a body that one decoder refuses is handed to the
other, so a body is "Invalid JSON" only when both refuse it (orjson refuses
numbers beyond the double range, which JSON allows and an entry may hold;
the scanner refuses nesting deeper than 512, which orjson allows).
"""
import orjson

from ..._core.jscan import array_spans, object_spans
from ...exceptions import CoreError

LARGE_BODY = 64 * 1024
RECORD_PROCEDURES = ("record", "recordbatch")
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
    walk_first = len(body) >= LARGE_BODY and b'"record' in body
    if walk_first:
        envelope = _walked(body)
        if envelope is not None:
            return envelope
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    return None if walk_first else _walked(body)


def _walked(body):
    try:
        return _walk(body)
    except (CoreError, orjson.JSONDecodeError):
        return None


def _load(body, span):
    off, length = span
    return orjson.loads(memoryview(body)[off:off + length])


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
