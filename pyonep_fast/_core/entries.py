"""The server's ingest path for record/recordbatch entries, and the value
typing rules that write/writegroup share with it.

``Entries().parse(body, span)`` reads the entries array ``[[t, v], ...]``
found at span (offset, length) inside a request body, straight into
columns (no copy of the body; in C, no Python object per point).
``normalize(kind, now)`` then applies the server's rules for a dataport
(spec onep-rpc §2.3, §3.4-3.5, §8.5):

- timestamps: an integer literal within int64 (a float such as 1.5e9, or
  anything else, makes the entry invalid with no time); t < 0 means now + t
  (t = 0 is the epoch), and a relative time landing before the epoch is invalid;
- values, by port kind ("int", "float", "string"; convert_value below);
- valid entries sorted by t (stable), only the last of equal t's kept;
  invalid entries listed by ``invalid()`` in input order with their t as
  given (None when there was none).

Both backends give the same columns bit for bit: numbers are read as
correctly rounded doubles (C: exact fast path, else strtod; Python: float()).
Malformed JSON at the span raises DecodeError with jscan's codes.
"""
import datetime
import math
import operator
import re
import threading
from array import array

import orjson

from . import EARG, EDEPTH, ENOMEM, ETYPE, MAX_DEPTH, backend, error, native
from .jscan import PyScanner, as_bytes, c_span_arguments, span_end
from .jsonw import as_int64

# Entry kinds (PF_VALUE_* and PF_ENTRY_INVALID in csrc/pyonep_fast.h).
ENTRY_INVALID = 0
VALUE_INT = 1
VALUE_FLOAT = 2
VALUE_STRING = 3
PORT_KINDS = {"int": VALUE_INT, "float": VALUE_FLOAT, "string": VALUE_STRING}

MAX_STRING_BYTES = 65536
"""The platform's largest string value (64 KB, spec onep-rpc §1.8)."""

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
M2X_MIN_MS = -62135596800000       # 0001-01-01T00:00:00.000Z
M2X_MAX_MS = 253402300799999       # 9999-12-31T23:59:59.999Z
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_SIZE_T_MAX = (1 << 64) - 1


class _Invalid:
    __slots__ = ()

    def __repr__(self):
        return "INVALID"


INVALID = _Invalid()
"""What convert_value returns for a value the port cannot take."""

_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INTEGER_LITERAL = re.compile(rb"-?(?:0|[1-9][0-9]*)")


def port_kind(kind):
    """VALUE_INT/FLOAT/STRING from a name ("int", "float", "string") or the
    constant itself; EARG otherwise."""
    if isinstance(kind, str):
        if kind in PORT_KINDS:
            return PORT_KINDS[kind]
    elif not isinstance(kind, bool) and kind in (VALUE_INT, VALUE_FLOAT, VALUE_STRING):
        return kind
    raise error(EARG)


def _int_text(text):
    """An int port's reading of a string: -?[0-9]+ within int64, else None.
    (Leading zeros are fine; int() is spared texts past its digit limit.)"""
    if not _INTEGER_TEXT.fullmatch(text):
        return None
    negative = text.startswith("-")
    digits = text[negative:].lstrip("0") or "0"
    if len(digits) > 19:
        return None
    value = -int(digits) if negative else int(digits)
    return value if INT64_MIN <= value <= INT64_MAX else None


def _finite(value):
    return value if math.isfinite(value) else INVALID


def convert_value(kind, value, max_string_bytes=MAX_STRING_BYTES):
    """The value a dataport of `kind` stores for a decoded JSON value, or
    INVALID. The rules (identical in csrc/entries.c):

    - int port: integers within int64; strings matching -?[0-9]+ within
      int64. Floats, bools, null, lists and objects are invalid.
    - float port: integers and finite floats as float; strings matching the
      JSON number grammar whose float is finite.
    - string port: strings of at most max_string_bytes UTF-8 bytes as they
      are; integers as decimal text; floats as repr().

    Integers outside int64 count as the float they round to, as an integer
    literal outside int64 does when parsed.
    """
    kind = port_kind(kind)
    if isinstance(value, bool) or value is None:
        return INVALID
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            if kind == VALUE_INT:
                return int(value)
            return float(value) if kind == VALUE_FLOAT else str(int(value))
        if kind == VALUE_INT:
            return INVALID
        try:
            value = float(value)
        except OverflowError:
            return INVALID
    if isinstance(value, float):
        if kind == VALUE_INT or not math.isfinite(value):
            return INVALID
        return float(value) if kind == VALUE_FLOAT else repr(float(value))
    if isinstance(value, str):
        if kind == VALUE_INT:
            number = _int_text(value)
            return INVALID if number is None else number
        if kind == VALUE_FLOAT:
            return _finite(float(value)) if _NUMBER_TEXT.fullmatch(value) else INVALID
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            return INVALID
        return str(value) if size <= max_string_bytes else INVALID
    return INVALID


def _normalize_arguments(kind, now, max_string_bytes):
    port = port_kind(kind)
    now = as_int64(now)
    max_string_bytes = operator.index(max_string_bytes)
    if max_string_bytes < 0:
        raise error(EARG)
    return port, now, min(max_string_bytes, _SIZE_T_MAX)


class CEntries:
    """csrc/entries.c through cffi: one C call per parse and per normalize."""

    def __init__(self):
        ffi, lib = native()
        self._ffi, self._lib = ffi, lib
        self._lock = threading.Lock()
        handle = lib.pf_entries_new()
        if handle == ffi.NULL:
            raise error(ENOMEM)
        self._handle = ffi.gc(handle, lib.pf_entries_free)

    def parse(self, buf, span=None):
        """Reads the entries array at span (default: all of buf); returns the
        number of entries."""
        return self._parse(self._lib.pf_entries_parse, buf, span)

    def parse_m2x(self, buf, span=None):
        """Reads the M2X value list at span (default: all of buf), times in
        milliseconds; returns the number of entries."""
        return self._parse(self._lib.pf_entries_parse_m2x, buf, span)

    def _parse(self, function, buf, span):
        data, size, span = c_span_arguments(self._ffi, buf, span)
        with self._lock:
            count = function(self._handle, data, size, span)
        if count < 0:
            raise error(count)
        return count

    def normalize(self, kind, now, max_string_bytes=MAX_STRING_BYTES):
        """Applies the rules for a port of kind ("int", "float", "string")
        at time now; returns the number of valid entries left."""
        port, now, max_string_bytes = _normalize_arguments(kind, now, max_string_bytes)
        with self._lock:
            count = self._lib.pf_entries_normalize(self._handle, port, now, max_string_bytes)
        if count < 0:
            raise error(count)
        return count

    def __len__(self):
        with self._lock:
            return self._lib.pf_entries_len(self._handle)

    def _column(self, typecode, accessor, count=None):
        with self._lock:
            n = self._lib.pf_entries_len(self._handle) if count is None else count(self._handle)
            column = array(typecode)
            if n:
                column.frombytes(self._ffi.buffer(accessor(self._handle), n * column.itemsize))
            return column

    def timestamps(self):
        """array('q') of the entries' timestamps (0 for an invalid entry
        without one)."""
        return self._column("q", self._lib.pf_entries_timestamps)

    def kinds(self):
        """array('B') of ENTRY_INVALID / VALUE_INT / VALUE_FLOAT / VALUE_STRING."""
        return self._column("B", self._lib.pf_entries_kinds)

    def ints(self):
        """array('q'): the value of INT entries, 0 for the others."""
        return self._column("q", self._lib.pf_entries_ints)

    def floats(self):
        """array('d'): the value of FLOAT entries, 0.0 for the others."""
        return self._column("d", self._lib.pf_entries_floats)

    def strings(self):
        """A list with the str of STRING entries, None for the others."""
        ffi, lib = self._ffi, self._lib
        with self._lock:
            n = lib.pf_entries_len(self._handle)
            if not n:
                return []
            kinds = ffi.buffer(lib.pf_entries_kinds(self._handle), n)[:]
            ends = array("Q")
            ends.frombytes(ffi.buffer(lib.pf_entries_string_ends(self._handle), n * 8))
            data = ffi.buffer(lib.pf_entries_string_data(self._handle), ends[-1])[:] if ends[-1] else b""
        out = []
        start = 0
        for kind, stop in zip(kinds, ends):
            out.append(data[start:stop].decode("utf-8") if kind == VALUE_STRING else None)
            start = stop
        return out

    def invalid(self):
        """After normalize: each invalid entry's t as given (None if it had
        none), in input order."""
        times = self._column("q", self._lib.pf_entries_invalid_timestamps, self._lib.pf_entries_invalid_len)
        has_time = self._column("B", self._lib.pf_entries_invalid_has_time, self._lib.pf_entries_invalid_len)
        return [t if flag else None for t, flag in zip(times, has_time)]

    def invalid_count(self):
        """After normalize: the number of invalid entries (none listed)."""
        with self._lock:
            return self._lib.pf_entries_invalid_len(self._handle)

    def invalid_positions(self):
        """After normalize: each invalid entry's index in the parsed array."""
        return self._column("Q", self._lib.pf_entries_invalid_positions, self._lib.pf_entries_invalid_len).tolist()


def _depth(value):
    """Nesting depth of a decoded value (0 for a scalar), without recursion."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, (list, dict)) else []
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return deepest


def _row_from_value(item):
    """(kind, t, has_time, value) of one element decoded by orjson."""
    if type(item) is list and item:
        t = item[0]
        if type(t) is int and INT64_MIN <= t <= INT64_MAX:
            if len(item) == 2:
                value = item[1]
                kind = type(value)
                if kind is int:
                    if INT64_MIN <= value <= INT64_MAX:
                        return VALUE_INT, t, 1, value
                    return VALUE_FLOAT, t, 1, float(value)     # orjson's ints stop at 2**64
                if kind is float:
                    return VALUE_FLOAT, t, 1, value
                if kind is str:
                    return VALUE_STRING, t, 1, value
            return ENTRY_INVALID, t, 1, None
    return ENTRY_INVALID, 0, 0, None


def _int64_literal(text):
    if len(text) <= 20 and _INTEGER_LITERAL.fullmatch(text):
        value = int(text)
        if INT64_MIN <= value <= INT64_MAX:
            return value
    return None


def _row_from_text(buf, span):
    """(kind, t, has_time, value) of one validated element, from its text."""
    off, length = span
    if buf[off] != ord("["):
        return ENTRY_INVALID, 0, 0, None
    items = PyScanner.array_spans(buf, span)
    t = _int64_literal(bytes(buf[items[0][0]:sum(items[0])])) if items else None
    if t is None:
        return ENTRY_INVALID, 0, 0, None
    if len(items) == 2:
        text = bytes(buf[items[1][0]:sum(items[1])])
        if text[0] == ord('"'):
            return VALUE_STRING, t, 1, orjson.loads(text)
        if text[0] in b"-0123456789":
            value = _int64_literal(text)
            if value is not None:
                return VALUE_INT, t, 1, value
            value = float(text)
            if not math.isinf(value):
                return VALUE_FLOAT, t, 1, value
    return ENTRY_INVALID, t, 1, None


def m2x_time(text):
    """Milliseconds of an M2X timestamp string (the rules of m2x_time in
    csrc/entries.c: parse_date's forms over ASCII digits), or None."""
    from ..m2x.utils import ParseError, parse_date   # the client's reading of ISO 8601 is the reference

    if type(text) is not str or not text.isascii():
        return None
    try:
        delta = parse_date(text) - _EPOCH
    except ParseError:
        return None
    ms = (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return ms if M2X_MIN_MS <= ms <= M2X_MAX_MS else None


def _m2x_value(value):
    """(kind, value) of a decoded M2X value, as _row_from_value types them."""
    kind = type(value)
    if kind is int:
        if INT64_MIN <= value <= INT64_MAX:
            return VALUE_INT, value
        return VALUE_FLOAT, float(value)
    if kind is float:
        return VALUE_FLOAT, value
    if kind is str:
        return VALUE_STRING, value
    return ENTRY_INVALID, None


def _m2x_row(item):
    """(kind, t, has_time, value) of one decoded M2X value object."""
    if type(item) is not dict:
        return ENTRY_INVALID, 0, 0, None
    t = m2x_time(item.get("timestamp"))
    kind, value = _m2x_value(item["value"]) if "value" in item else (ENTRY_INVALID, None)
    if t is None:
        return ENTRY_INVALID, 0, 0, None
    return (kind, t, 1, value) if kind != ENTRY_INVALID else (ENTRY_INVALID, t, 1, None)


def _m2x_row_from_text(buf, span):
    """_m2x_row of one validated element, read from its text (numbers
    beyond the double range, which orjson refuses, included)."""
    if buf[span[0]] != ord("{"):
        return ENTRY_INVALID, 0, 0, None
    item = {}
    for key, value in PyScanner.object_spans(buf, span):
        name = orjson.loads(bytes(buf[key[0]:sum(key)]))
        text = bytes(buf[value[0]:sum(value)])
        if name == "value" and text[0] in b"-0123456789":
            number = _int64_literal(text)
            if number is None:
                number = float(text)
            item[name] = None if math.isinf(number) else number
        elif name in ("timestamp", "value"):
            item[name] = orjson.loads(text) if text[0] == ord('"') else None
    return _m2x_row(item)


class PyEntries:
    """Pure-Python twin of csrc/entries.c, with CEntries' methods. Rows are
    (kind, t, has_time, value); reading goes through orjson when it accepts
    the text (then only the depth limit is left to check) and through jscan
    otherwise."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rows = []
        self._invalid = []
        self._positions = []
        self._normalized = False
        self._relative_times = True

    def parse(self, buf, span=None):
        return self._parse(buf, span, _row_from_value, _row_from_text, relative_times=True)

    def parse_m2x(self, buf, span=None):
        return self._parse(buf, span, _m2x_row, _m2x_row_from_text, relative_times=False)

    def _parse(self, buf, span, row_from_value, row_from_text, relative_times):
        buf = as_bytes(buf)
        span = (0, len(buf)) if span is None else span
        end = span_end(buf, span)
        try:
            value = orjson.loads(memoryview(buf)[span[0]:end])
        except orjson.JSONDecodeError:
            # Invalid here too (jscan raises the exact error), or numbers
            # beyond the double range, which orjson refuses and JSON allows.
            rows = [row_from_text(buf, element) for element in PyScanner.array_spans(buf, span)]
        else:
            if not isinstance(value, list):
                raise error(EDEPTH if _depth(value) > MAX_DEPTH else ETYPE)
            rows = [row_from_value(item) for item in value]
            for item, row in zip(value, rows):
                # Valid rows hold scalars only; orjson allows deeper nesting than we do.
                if (row[0] == ENTRY_INVALID or type(item) is dict) and 1 + _depth(item) > MAX_DEPTH:
                    raise error(EDEPTH)
        with self._lock:
            self._rows = rows
            self._invalid = []
            self._normalized = False
            self._relative_times = relative_times
        return len(rows)

    def normalize(self, kind, now, max_string_bytes=MAX_STRING_BYTES):
        port, now, max_string_bytes = _normalize_arguments(kind, now, max_string_bytes)
        with self._lock:
            if self._normalized:
                raise error(EARG)
            valid, invalid, positions = [], [], []
            for position, (kind_, t, has_time, value) in enumerate(self._rows):
                when = now + t if t < 0 and self._relative_times else t
                converted = INVALID
                if kind_ != ENTRY_INVALID and (when >= 0 or not self._relative_times) and when <= INT64_MAX:
                    converted = convert_value(port, value, max_string_bytes)   # relative: not before the epoch
                if converted is INVALID:
                    invalid.append(t if has_time else None)
                    positions.append(position)
                else:
                    valid.append((when, converted))
            valid.sort(key=operator.itemgetter(0))      # stable
            last = len(valid) - 1
            self._rows = [(port, t, 1, value) for k, (t, value) in enumerate(valid)
                          if k == last or valid[k + 1][0] != t]
            self._invalid = invalid
            self._positions = positions
            self._normalized = True
            return len(self._rows)

    def __len__(self):
        with self._lock:
            return len(self._rows)

    def _column(self, typecode, pick):
        with self._lock:
            return array(typecode, map(pick, self._rows))

    def timestamps(self):
        return self._column("q", operator.itemgetter(1))

    def kinds(self):
        return self._column("B", operator.itemgetter(0))

    def ints(self):
        return self._column("q", lambda row: row[3] if row[0] == VALUE_INT else 0)

    def floats(self):
        return self._column("d", lambda row: row[3] if row[0] == VALUE_FLOAT else 0.0)

    def strings(self):
        with self._lock:
            return [row[3] if row[0] == VALUE_STRING else None for row in self._rows]

    def invalid(self):
        with self._lock:
            return list(self._invalid)

    def invalid_count(self):
        with self._lock:
            return len(self._invalid)

    def invalid_positions(self):
        with self._lock:
            return list(self._positions)


Entries = CEntries if backend == "c" else PyEntries
