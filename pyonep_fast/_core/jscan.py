"""Strict JSON validation that reports byte spans instead of building values.

Both backends accept exactly RFC 8259 text with one narrowing, shared with
orjson: a ``\\u`` escape must denote a Unicode scalar value, so lone
surrogate escapes (``"\\ud800"``) are errors (RFC 8259 §8.2 leaves them
"unpredictable"; they have no UTF-8 form). Compared with ``orjson.loads``:
numbers are checked for grammar only (``1e400`` is valid here, orjson
refuses it) and nesting stops at MAX_DEPTH (512) containers (orjson allows
1024). Errors (raised as DecodeError/CoreError through ``_core.check``):
ETRUNCATED when the text ends where more was required, EDEPTH past
MAX_DEPTH, ESYNTAX for anything else, ERANGE for a span outside the buffer,
ETYPE from array_spans/object_spans for valid JSON of another type. Both
report the first error met reading left to right, so they agree on the code.

A span is ``(offset, length)`` in bytes. The helpers below the public
classes (skip_ws, scan_string, scan_value, ...) are the pure-Python
tokenizer that demux.py and entries.py share; csrc/jscan.c mirrors them
check by check.
"""
import re

from . import EDEPTH, ERANGE, ESYNTAX, ETRUNCATED, ETYPE, MAX_DEPTH, backend, error, native

_WS = re.compile(rb"[ \t\n\r]*")
# A run of string content that needs no closer look: printable ASCII other
# than '"' and '\\', and complete RFC 3629 UTF-8 sequences.
_STRING_RUN = re.compile(
    rb'(?:[\x20\x21\x23-\x5b\x5d-\x7f]+'
    rb"|[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})*"
)
_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(rb"[0-9]*")
_SIMPLE_ESCAPES = frozenset(b'"\\/bfnrt')
_HEX = frozenset(b"0123456789abcdefABCDEF")
_NUMBER_TAIL = frozenset(b".eE")
_NUMBER_START = frozenset(b"-0123456789")
_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_CLOSE = {ord("["): ord("]"), ord("{"): ord("}")}
_QUOTE, _BACKSLASH, _COMMA, _COLON = ord('"'), ord("\\"), ord(","), ord(":")


def as_bytes(buf):
    """bytes/bytearray as they are, any other buffer as a flat byte view."""
    if isinstance(buf, (bytes, bytearray)):
        return buf
    view = memoryview(buf)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def span_end(buf, span):
    """The end offset of a (offset, length) span, ERANGE if outside buf."""
    off, length = span
    if off < 0 or length < 0 or off > len(buf) or length > len(buf) - off:
        raise error(ERANGE)
    return off + length


def skip_ws(buf, p, end):
    return _WS.match(buf, p, end).end()


def _scan_hex4(buf, p, end):
    for i in range(p, p + 4):
        if i >= end:
            raise error(ETRUNCATED)
        if buf[i] not in _HEX:
            raise error(ESYNTAX)
    return p + 4, int(bytes(buf[p:p + 4]), 16)


def _scan_escape(buf, p, end):
    """The escape after a backslash at p - 1; returns the position after it."""
    if p >= end:
        raise error(ETRUNCATED)
    c = buf[p]
    if c in _SIMPLE_ESCAPES:
        return p + 1
    if c != ord("u"):
        raise error(ESYNTAX)
    p, unit = _scan_hex4(buf, p + 1, end)
    if 0xDC00 <= unit <= 0xDFFF:
        raise error(ESYNTAX)
    if 0xD800 <= unit <= 0xDBFF:
        if p >= end:
            raise error(ETRUNCATED)
        if buf[p] != _BACKSLASH:
            raise error(ESYNTAX)
        p += 1
        if p >= end:
            raise error(ETRUNCATED)
        if buf[p] != ord("u"):
            raise error(ESYNTAX)
        p, unit = _scan_hex4(buf, p + 1, end)
        if not 0xDC00 <= unit <= 0xDFFF:
            raise error(ESYNTAX)
    return p


def _utf8_error(buf, p, end):
    """The error for a UTF-8 sequence at p that _STRING_RUN refused."""
    lead = buf[p]
    lo, hi = 0x80, 0xBF
    if 0xC2 <= lead <= 0xDF:
        more = 1
    elif 0xE0 <= lead <= 0xEF:
        more = 2
        lo = 0xA0 if lead == 0xE0 else lo
        hi = 0x9F if lead == 0xED else hi
    elif 0xF0 <= lead <= 0xF4:
        more = 3
        lo = 0x90 if lead == 0xF0 else lo
        hi = 0x8F if lead == 0xF4 else hi
    else:
        return ESYNTAX
    for i in range(p + 1, p + 1 + more):
        if i >= end:
            return ETRUNCATED
        if not lo <= buf[i] <= hi:
            return ESYNTAX
        lo, hi = 0x80, 0xBF
    raise AssertionError("a valid UTF-8 sequence was refused")


def scan_string(buf, p, end):
    """Validates the string literal at p; returns (end position, escaped)."""
    if p >= end:
        raise error(ETRUNCATED)
    if buf[p] != _QUOTE:
        raise error(ESYNTAX)
    p += 1
    escaped = False
    while True:
        p = _STRING_RUN.match(buf, p, end).end()
        if p >= end:
            raise error(ETRUNCATED)
        c = buf[p]
        if c == _QUOTE:
            return p + 1, escaped
        if c == _BACKSLASH:
            escaped = True
            p = _scan_escape(buf, p + 1, end)
        elif c < 0x20:
            raise error(ESYNTAX)
        else:
            raise error(_utf8_error(buf, p, end))


def _digits_end(buf, p, end):
    return _DIGITS.match(buf, p, end).end()


def scan_number(buf, p, end):
    """Validates the number at p (RFC 8259 grammar); returns its end. What
    follows is the caller's business ("01" scans as "0")."""
    match = _NUMBER.match(buf, p, end)
    if match is not None:
        stop = match.end()
        if stop == end or buf[stop] not in _NUMBER_TAIL:
            return stop
    # An incomplete fraction or exponent, or no number at all: find the
    # error exactly where csrc/jscan_internal.h's pf_scan_number does.
    if p >= end:
        raise error(ETRUNCATED)
    if buf[p] == ord("-"):
        p += 1
        if p == end:
            raise error(ETRUNCATED)
    if buf[p] == ord("0"):
        p += 1
    elif ord("1") <= buf[p] <= ord("9"):
        p = _digits_end(buf, p, end)
    else:
        raise error(ESYNTAX)
    if p < end and buf[p] == ord("."):
        p += 1
        if p == end:
            raise error(ETRUNCATED)
        if not ord("0") <= buf[p] <= ord("9"):
            raise error(ESYNTAX)
        p = _digits_end(buf, p, end)
    if p < end and buf[p] in b"eE":
        p += 1
        if p == end:
            raise error(ETRUNCATED)
        if buf[p] in b"+-":
            p += 1
            if p == end:
                raise error(ETRUNCATED)
        if not ord("0") <= buf[p] <= ord("9"):
            raise error(ESYNTAX)
        p = _digits_end(buf, p, end)
    return p


def _scan_literal(buf, p, end, word):
    for i, expected in enumerate(word):
        if p + i >= end:
            raise error(ETRUNCATED)
        if buf[p + i] != expected:
            raise error(ESYNTAX)
    return p + len(word)


def _scan_key(buf, p, end):
    """A member's key and colon at p (first non-blank); returns where its
    value may start."""
    if p >= end:
        raise error(ETRUNCATED)
    p, _ = scan_string(buf, p, end)
    p = skip_ws(buf, p, end)
    if p >= end:
        raise error(ETRUNCATED)
    if buf[p] != _COLON:
        raise error(ESYNTAX)
    return p + 1


def scan_value(buf, p, end, depth):
    """Validates one value at p (leading whitespace skipped) inside `depth`
    open containers; returns its end. Iterative, like the C version."""
    stack = []          # closing byte of each container opened here
    while True:
        # A value starts here.
        p = skip_ws(buf, p, end)
        if p >= end:
            raise error(ETRUNCATED)
        c = buf[p]
        if c == _QUOTE:
            p, _ = scan_string(buf, p, end)
        elif c in _NUMBER_START:
            p = scan_number(buf, p, end)
        elif c in _LITERALS:
            p = _scan_literal(buf, p, end, _LITERALS[c])
        elif c in _CLOSE:
            if depth + len(stack) >= MAX_DEPTH:
                raise error(EDEPTH)
            stack.append(_CLOSE[c])
            p = skip_ws(buf, p + 1, end)
            if p >= end:
                raise error(ETRUNCATED)
            if buf[p] == stack[-1]:
                p += 1
                stack.pop()
            else:
                if c == ord("{"):
                    p = _scan_key(buf, p, end)
                continue
        else:
            raise error(ESYNTAX)
        # After a value: close containers until one wants another value.
        while True:
            if not stack:
                return p
            p = skip_ws(buf, p, end)
            if p >= end:
                raise error(ETRUNCATED)
            c = buf[p]
            if c == _COMMA:
                p += 1
                if stack[-1] == ord("}"):
                    p = _scan_key(buf, skip_ws(buf, p, end), end)
                break
            if c == stack[-1]:
                p += 1
                stack.pop()
                continue
            raise error(ESYNTAX)


def _container_start(buf, span, opening):
    """(position after the opening byte, end) for a container span, or the
    error pf_json_*_spans gives for that span."""
    end = span_end(buf, span)
    p = skip_ws(buf, span[0], end)
    if p >= end:
        raise error(ETRUNCATED)
    if buf[p] != opening:
        p = scan_value(buf, p, end, 0)
        raise error(ETYPE if skip_ws(buf, p, end) == end else ESYNTAX)
    return p + 1, end


def _members(buf, span, opening, closing, read_member):
    """Walks the container at span, calling read_member(p, end) -> the
    member's end for each member."""
    p, end = _container_start(buf, span, opening)
    p = skip_ws(buf, p, end)
    if p >= end:
        raise error(ETRUNCATED)
    if buf[p] != closing:
        while True:
            p = read_member(p, end)
            p = skip_ws(buf, p, end)
            if p >= end:
                raise error(ETRUNCATED)
            if buf[p] == closing:
                break
            if buf[p] != _COMMA:
                raise error(ESYNTAX)
            p = skip_ws(buf, p + 1, end)
    if skip_ws(buf, p + 1, end) != end:
        raise error(ESYNTAX)


def _whole(buf, span):
    return (0, len(buf)) if span is None else span


class PyScanner:
    """Pure-Python twin of csrc/jscan.c."""

    @staticmethod
    def value_span(buf, off=0):
        """Span of the value at or after off (leading whitespace skipped);
        what follows it is not examined."""
        buf = as_bytes(buf)
        if off < 0 or off > len(buf):
            raise error(ERANGE)
        start = skip_ws(buf, off, len(buf))
        return start, scan_value(buf, start, len(buf), 0) - start

    @staticmethod
    def array_spans(buf, span=None):
        """Element spans of the array that span (default: all of buf) holds."""
        return PyScanner.counted_array_spans(buf, span)[1]

    @staticmethod
    def counted_array_spans(buf, span=None, limit=None):
        """(element count, element spans) of the array that span holds; the
        whole array is validated, but with more than `limit` elements no span
        is kept: (count, None)."""
        buf = as_bytes(buf)
        spans = []
        count = 0

        def element(p, end):
            nonlocal count
            stop = scan_value(buf, p, end, 1)
            count += 1
            if limit is None or count <= limit:
                spans.append((p, stop - p))
            return stop

        _members(buf, _whole(buf, span), ord("["), ord("]"), element)
        return count, (spans if limit is None or count <= limit else None)

    @staticmethod
    def object_spans(buf, span=None):
        """((key span, value span), ...) of the object that span holds; key
        spans include the quotes; duplicate keys are all listed."""
        buf = as_bytes(buf)
        members = []

        def member(p, end):
            key_end, _ = scan_string(buf, p, end)
            value = skip_ws(buf, _scan_key(buf, p, end), end)
            stop = scan_value(buf, value, end, 1)
            members.append(((p, key_end - p), (value, stop - value)))
            return stop

        _members(buf, _whole(buf, span), ord("{"), ord("}"), member)
        return members


class CScanner:
    """csrc/jscan.c through cffi."""

    @staticmethod
    def value_span(buf, off=0):
        ffi, lib = native()
        size = memoryview(buf).nbytes
        if off < 0 or off > size:
            raise error(ERANGE)
        out = ffi.new("pf_span *")
        rc = lib.pf_json_value_span(ffi.from_buffer(buf), size, off, out)
        if rc < 0:
            raise error(rc)
        return out.off, out.len

    @staticmethod
    def array_spans(buf, span=None):
        return CScanner.counted_array_spans(buf, span)[1]

    @staticmethod
    def counted_array_spans(buf, span=None, limit=None):
        ffi, lib = native()
        data, size, span = c_span_arguments(ffi, buf, span)
        cap = 16
        while True:
            out = ffi.new("pf_span[]", cap)
            count = lib.pf_json_array_spans(data, size, span, out, cap)
            if count < 0:
                raise error(count)
            if limit is not None and count > limit:
                return count, None      # counted in C: no span past the limit becomes a Python object
            if count <= cap:
                return count, [(out[i].off, out[i].len) for i in range(count)]
            cap = count

    @staticmethod
    def object_spans(buf, span=None):
        ffi, lib = native()
        data, size, span = c_span_arguments(ffi, buf, span)
        cap = 16
        while True:
            keys, values = ffi.new("pf_span[]", cap), ffi.new("pf_span[]", cap)
            count = lib.pf_json_object_spans(data, size, span, keys, values, cap)
            if count < 0:
                raise error(count)
            if count <= cap:
                return [((keys[i].off, keys[i].len), (values[i].off, values[i].len)) for i in range(count)]
            cap = count


def c_span_arguments(ffi, buf, span):
    """(pointer, size, pf_span) for a C call; ERANGE for a span outside the
    buffer, checked here too because cffi cannot pass a negative one."""
    size = memoryview(buf).nbytes
    off, length = (0, size) if span is None else span
    if off < 0 or length < 0 or off > size or length > size - off:
        raise error(ERANGE)
    return ffi.from_buffer(buf), size, (off, length)


Scanner = CScanner if backend == "c" else PyScanner
value_span = Scanner.value_span
array_spans = Scanner.array_spans
counted_array_spans = Scanner.counted_array_spans
object_spans = Scanner.object_spans
