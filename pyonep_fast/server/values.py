"""Typing of single values for a dataport format (spec 2.3).

Integer ports take ints and integer-looking strings; float ports take
numbers and numeric strings (stored as float); string ports take strings,
and numbers are stored as their JSON text. Strings over 64 KiB, booleans,
null, lists and objects are INVALID.
"""
import math
import re

import orjson

from .timeseries import KIND_FLOAT, KIND_INT, KIND_STRING

INVALID = object()
MAX_STRING_BYTES = 65536
_INT64 = (-(1 << 63), (1 << 63) - 1)
_INTEGER_TEXT = re.compile(r"-?[0-9]+\Z")
_NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")


def convert_value(kind, value):
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == KIND_INT:
        if isinstance(value, str) and _INTEGER_TEXT.match(value):
            value = int(value)
        elif not (number and isinstance(value, int)):
            return INVALID
        return value if _INT64[0] <= value <= _INT64[1] else INVALID
    if kind == KIND_FLOAT:
        if isinstance(value, str) and _NUMBER_TEXT.match(value):
            value = float(value)
        elif not number:
            return INVALID
        value = float(value) if abs(value) < 1e400 else math.inf
        return value if math.isfinite(value) else INVALID
    if kind == KIND_STRING:
        if number:
            return str(value) if isinstance(value, int) else orjson.dumps(value).decode()
        if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) <= MAX_STRING_BYTES:
            return value
    return INVALID
