"""Map a JSON-RPC response body back to the calls that made it.

``demux(body, first_id, ncalls)`` reads the body once, validating it with
jscan's rules (malformed, truncated or too deep -> DecodeError), and finds
for each response entry its id, status, result and error as byte spans.
Call k was sent with id ``first_id + k``; an entry's slot is
``id - first_id`` (range-checked), so matching is O(n) whatever the order.
An id is an integer literal or a string whose text is one
(``-?(0|[1-9][0-9]*)``), within int64; any other id counts as unknown.
Member names are compared after decoding escapes, and of duplicate members
the last wins (as orjson and json.loads read them). The first entry with a
given id fills the slot; later ones are counted in ``duplicates(i)``.

Values are decoded with orjson only when read. orjson refuses numbers that
overflow a double, which RFC 8259 allows; a value holding one is read with
json.loads instead, with integers typed as orjson types them (int within
[-2**63, 2**64), float beyond), so it differs from orjson only by giving
+-inf where orjson would give up.
"""
import functools
import json
import operator
import re

import orjson

from . import EARG, EDEPTH, ERANGE, ESYNTAX, ETRUNCATED, MAX_DEPTH, backend, error, native
from .jscan import as_bytes, scan_string, scan_value, skip_ws

# Slot states (PF_SLOT_* in csrc/pyonep_fast.h).
MISSING = 0     # no entry carried the call's id
OK = 1          # "status": "ok"
FAILED = 2      # another status: a string, or recordbatch's list
ERROR = 3       # "error" and no "status"
BARE = 4        # neither "status" nor "error"

KINDS = {1: "array", 2: "error", 3: "other"}
_ARRAY, _ERROR, _OTHER = 1, 2, 3

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class _Absent:
    __slots__ = ()

    def __repr__(self):
        return "NO_RESULT"

    def __bool__(self):
        return False


NO_RESULT = _Absent()
"""What status(i), result(i), error(i) and request_error give for a member
that is absent."""


def _orjson_int(text):
    """An integer literal typed the way orjson types it."""
    if len(text) <= 21:
        value = int(text)
        if -(1 << 63) <= value < (1 << 64):
            return value
    return float(text)


def decode(buf, span):
    """The value at span (validated JSON text) as Python objects."""
    off, length = span
    text = memoryview(buf)[off:off + length]
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(bytes(text), parse_int=_orjson_int)


def decode_many(buf, spans):
    """decode() of every span in one orjson call; NO_RESULT for absent ones."""
    view = memoryview(buf)
    present = [view[off:off + length] for off, length in spans if length]
    try:
        values = iter(orjson.loads(b"[" + b",".join(present) + b"]"))
    except orjson.JSONDecodeError:      # a number orjson refuses: one by one
        values = iter([decode(buf, span) for span in spans if span[1]])
    return [next(values) if length else NO_RESULT for _, length in spans]


def _check_arguments(first_id, ncalls):
    ncalls = operator.index(ncalls)
    first_id = operator.index(first_id)
    if ncalls < 0:
        raise error(EARG)
    if not INT64_MIN <= first_id <= INT64_MAX:
        raise error(ERANGE)
    return first_id, ncalls


_MEMBERS = {"status": 3, "result": 4, "error": 5}


class _Demux:
    """The accessors both backends share; subclasses fill the counters and
    provide _slot(i) -> (state, duplicates, position, status, result, error)
    with spans (offset, length), length 0 when absent. The C class reads
    single fields and whole columns more directly."""

    kind = "other"
    entries = unknown_ids = duplicate_ids = missing = without_id = 0
    _request_error = (0, 0)

    def __len__(self):
        return self._ncalls

    def _index(self, i):
        i = operator.index(i)
        if not 0 <= i < self._ncalls:
            raise IndexError(f"call index {i} out of range for {self._ncalls} calls")
        return i

    def _member(self, span):
        return decode(self._body, span) if span[1] else NO_RESULT

    def _span(self, i, member):
        return self._slot(i)[_MEMBERS[member]]

    def _spans(self, member):
        return [self._span(i, member) for i in range(self._ncalls)]

    @property
    def request_error(self):
        """The decoded "error" of a whole-request failure (kind "error")."""
        return self._member(self._request_error)

    def state(self, i):
        """MISSING, OK, FAILED, ERROR or BARE for call i."""
        return self._slot(self._index(i))[0]

    def duplicates(self, i):
        """How many further entries carried call i's id."""
        return self._slot(self._index(i))[1]

    def position(self, i):
        """Index in the response array of call i's entry (0 when missing)."""
        return self._slot(self._index(i))[2]

    def status(self, i):
        """The decoded "status" of call i's entry, or NO_RESULT."""
        return self._member(self._span(self._index(i), "status"))

    def result(self, i):
        """The decoded "result" of call i's entry, or NO_RESULT."""
        return self._member(self._span(self._index(i), "result"))

    def error(self, i):
        """The decoded "error" of call i's entry, or NO_RESULT."""
        return self._member(self._span(self._index(i), "error"))

    # Whole-response views, for batches of thousands of calls where a
    # Python call per slot would cost more than the demultiplexing itself.

    def states(self):
        """[state(0), state(1), ...]."""
        return [self._slot(i)[0] for i in range(self._ncalls)]

    def has_results(self):
        """[whether call i's entry carries a "result", for each call]."""
        return [length > 0 for _, length in self._spans("result")]

    def results(self):
        """[result(0), result(1), ...], decoded in one orjson call."""
        return decode_many(self._body, self._spans("result"))

    def statuses(self):
        """[status(0), status(1), ...], decoded in one orjson call."""
        return decode_many(self._body, self._spans("status"))


class CDemux(_Demux):
    """csrc/demux.c: one C call per response; slots live in one cffi array."""

    def __init__(self, body, first_id, ncalls):
        first_id, ncalls = _check_arguments(first_id, ncalls)
        ffi, lib = native()
        self._body = body
        self._ncalls = ncalls
        self._slots = ffi.new("pf_slot[]", ncalls)
        info = ffi.new("pf_demux_info *")
        if type(body) is bytes:  # the usual case: handed to C as it is
            rc = lib.pf_demux(body, len(body), first_id, ncalls, self._slots, info)
        else:
            rc = lib.pf_demux(ffi.from_buffer(body), memoryview(body).nbytes, first_id, ncalls,
                              self._slots, info)
        if rc < 0:
            raise error(rc)
        self.kind = KINDS[info.kind]
        self._request_error = (info.error.off, info.error.len)
        self.entries = info.entries
        self.unknown_ids = info.unknown_ids
        self.duplicate_ids = info.duplicate_ids
        self.missing = info.missing
        self.without_id = info.without_id

    def _slot(self, i):
        slot = self._slots[i]
        return (slot.state, slot.duplicates, slot.position, (slot.status.off, slot.status.len),
                (slot.result.off, slot.result.len), (slot.error.off, slot.error.len))

    def _span(self, i, member):
        span = getattr(self._slots[i], member)
        return span.off, span.len

    def _spans(self, member):
        return list(zip(self._field(member + "_off", "Q"), self._field(member + "_len", "Q")))

    def state(self, i):
        return self._slots[self._index(i)].state

    def _field(self, name, fmt):
        """Field `name` of every slot (a `fmt` item: "i" state, "Q" a span
        offset or length), read from the slot array in one strided slice."""
        if not self._ncalls:
            return []
        ffi, _ = native()
        offset, stride = _slot_layout(ffi)[name]
        return memoryview(ffi.buffer(self._slots)).cast(fmt)[offset::stride].tolist()

    def states(self):
        return self._field("state", "i")

    def has_results(self):
        return [length > 0 for length in self._field("result_len", "Q")]


@functools.cache
def _slot_layout(ffi):
    """{field: (index, stride)} in units of the field's own item size:
    "state", and "<member>_off"/"<member>_len" of each span member."""
    size = ffi.sizeof("pf_slot")
    layout = {"state": (ffi.offsetof("pf_slot", "state") // 4, size // 4)}
    for member in _MEMBERS:
        for part in ("off", "len"):
            offset = ffi.offsetof("pf_slot", member) + ffi.offsetof("pf_span", part)
            layout[f"{member}_{part}"] = (offset // 8, size // 8)
    return layout


_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_INTEGER_BYTES = re.compile(rb"-?(?:0|[1-9][0-9]*)")
_NAMES = {b"id": "id", b"status": "status", b"result": "result", b"error": "error"}
_ABSENT_SPAN = (0, 0)


class PyDemux(_Demux):
    """Pure-Python twin of csrc/demux.c (same walk, same checks, same order)."""

    def __init__(self, body, first_id, ncalls):
        first_id, ncalls = _check_arguments(first_id, ncalls)
        self._body = body
        self._ncalls = ncalls
        self._first_id = first_id
        self._slots = [None] * ncalls
        self._duplicates = [0] * ncalls
        buf = as_bytes(body)
        end = len(buf)
        p = skip_ws(buf, 0, end)
        if p >= end:
            raise error(ETRUNCATED)
        if buf[p] == ord("["):
            self.kind = KINDS[_ARRAY]
            p = self._walk_array(buf, p, end)
        elif buf[p] == ord("{"):
            p, members = _walk_object(buf, p, end, 0)
            self.kind = KINDS[_ERROR if "error" in members else _OTHER]
            self._request_error = members.get("error", _ABSENT_SPAN)
        else:
            p = scan_value(buf, p, end, 0)
        if skip_ws(buf, p, end) != end:
            raise error(ESYNTAX)
        self.missing = self._slots.count(None)

    def _walk_array(self, buf, p, end):
        p = skip_ws(buf, p + 1, end)
        if p >= end:
            raise error(ETRUNCATED)
        if buf[p] != ord("]"):
            position = 0
            while True:
                if p < end and buf[p] == ord("{"):
                    p, members = _walk_object(buf, p, end, 1)
                    self._assign(buf, members, position)
                else:
                    p = scan_value(buf, p, end, 1)
                    self.without_id += 1
                self.entries += 1
                position += 1
                p = skip_ws(buf, p, end)
                if p >= end:
                    raise error(ETRUNCATED)
                if buf[p] == ord("]"):
                    break
                if buf[p] != ord(","):
                    raise error(ESYNTAX)
                p = skip_ws(buf, p + 1, end)
        return p + 1

    def _assign(self, buf, members, position):
        if "id" not in members:
            self.without_id += 1
            return
        call_id = _read_id(buf, members["id"])
        if call_id is None or not 0 <= call_id - self._first_id < self._ncalls:
            self.unknown_ids += 1
            return
        k = call_id - self._first_id
        if self._slots[k] is not None:
            self._duplicates[k] = min(self._duplicates[k] + 1, (1 << 31) - 1)
            self.duplicate_ids += 1
            return
        status = members.get("status", _ABSENT_SPAN)
        err = members.get("error", _ABSENT_SPAN)
        if status[1]:
            state = OK if _is_ok(buf, status) else FAILED
        else:
            state = ERROR if err[1] else BARE
        self._slots[k] = (state, position, status, members.get("result", _ABSENT_SPAN), err)

    def _slot(self, i):
        slot = self._slots[i]
        if slot is None:
            return (MISSING, self._duplicates[i], 0, _ABSENT_SPAN, _ABSENT_SPAN, _ABSENT_SPAN)
        state, position, status, result, err = slot
        return (state, self._duplicates[i], position, status, result, err)


def _walk_object(buf, p, end, depth):
    """Validates the object at buf[p] == '{' inside `depth` containers;
    returns (end, {name: value span}) for the members demux looks for."""
    members = {}
    if depth >= MAX_DEPTH:
        raise error(EDEPTH)
    p = skip_ws(buf, p + 1, end)
    if p >= end:
        raise error(ETRUNCATED)
    if buf[p] != ord("}"):
        while True:
            key = p
            p, escaped = scan_string(buf, p, end)
            raw = bytes(buf[key + 1:p - 1])
            name = _NAMES.get(orjson.loads(buf[key:p]).encode() if escaped else raw)
            p = skip_ws(buf, p, end)
            if p >= end:
                raise error(ETRUNCATED)
            if buf[p] != ord(":"):
                raise error(ESYNTAX)
            p = skip_ws(buf, p + 1, end)
            value = p
            p = scan_value(buf, p, end, depth + 1)
            if name is not None:
                members[name] = (value, p - value)
            p = skip_ws(buf, p, end)
            if p >= end:
                raise error(ETRUNCATED)
            if buf[p] == ord("}"):
                break
            if buf[p] != ord(","):
                raise error(ESYNTAX)
            p = skip_ws(buf, p + 1, end)
    return p + 1, members


def _read_id(buf, span):
    off, length = span
    if buf[off] == ord('"'):
        text = orjson.loads(buf[off:off + length])
        pattern = _INTEGER
    else:
        text = bytes(buf[off:off + length])
        pattern = _INTEGER_BYTES
    # No int64 takes more than 20 characters; longer texts never reach int().
    if len(text) > 20 or not pattern.fullmatch(text):
        return None
    call_id = int(text)
    return call_id if INT64_MIN <= call_id <= INT64_MAX else None


def _is_ok(buf, span):
    off, length = span
    return buf[off] == ord('"') and orjson.loads(buf[off:off + length]) == "ok"


Demux = CDemux if backend == "c" else PyDemux


def demux(body, first_id, ncalls):
    """Demux of a response body to calls first_id .. first_id + ncalls - 1
    (see the module docstring); DecodeError for a malformed body."""
    return Demux(body, first_id, ncalls)
