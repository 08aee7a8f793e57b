"""Deferred JSON-RPC calls, queued per auth and sent as few request bodies.

``add(procedure, arguments_json)`` queues a call: the procedure name is
escaped once and the arguments (an already encoded JSON array, not checked
again) are copied once. ``encode`` and ``bodies`` assemble complete,
compact request bodies::

    {"auth":AUTH,"calls":[{"id":ID,"procedure":"P","arguments":ARGS},...]}

without encoding anything again. Ids are given when a body is built, the
way pyonep gives them at send time (spec onep-rpc §4.4, §4.6): call k of the
batch gets ``first_id + k``, consecutive across the bodies a big batch is
split into, so a response maps back with ``demux(body, first_id + first,
count)``.
"""
import operator
import threading

from . import EARG, ENOMEM, ETYPE, backend, error, native
from .jsonw import as_int64, as_utf8, copy_out, string_literal

DEFAULT_MAX_CALLS = 5000
"""Calls per request body by default. The RPC spec states no limit; this
keeps one response (and the server's work per request) bounded."""

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
"""Request body size by default (8 MiB); a single larger call still goes
out alone."""

_PROCEDURE = b',"procedure":'
_ARGUMENTS = b',"arguments":'
_SIZE_T_MAX = (1 << 64) - 1


def _procedure_utf8(procedure):
    if not isinstance(procedure, str):
        raise error(ETYPE)
    return as_utf8(procedure)


def _arguments(arguments_json):
    arguments = as_utf8(arguments_json)
    if not len(arguments):
        raise error(EARG)
    return arguments


def _limits(first, max_calls, max_bytes):
    """Validated (first, max_calls, max_bytes); sizes past size_t are clamped
    (no body can be that big anyway)."""
    first, max_calls, max_bytes = operator.index(first), operator.index(max_calls), operator.index(max_bytes)
    if first < 0 or max_calls < 1 or max_bytes < 0:
        raise error(EARG)
    return min(first, _SIZE_T_MAX), min(max_calls, _SIZE_T_MAX), min(max_bytes, _SIZE_T_MAX)


class _Bodies:
    """bodies() for both backends, on top of their _encode()."""

    def bodies(self, auth_json, first_id, max_calls=DEFAULT_MAX_CALLS, max_bytes=DEFAULT_MAX_BYTES):
        """Every queued call as complete request bodies: a list of
        (body, first_index, count); call k has id first_id + k."""
        with self._lock:
            out = []
            first = 0
            while True:
                body, count = self._encode(auth_json, first_id, first, max_calls, max_bytes)
                if count == 0:
                    return out
                out.append((body, first, count))
                first += count

    def encode(self, auth_json, first_id, first=0, max_calls=DEFAULT_MAX_CALLS, max_bytes=DEFAULT_MAX_BYTES):
        """(body, count): one request body with calls first, first+1, ... as
        many as fit max_calls and max_bytes; (b"", 0) past the last call."""
        with self._lock:
            return self._encode(auth_json, first_id, first, max_calls, max_bytes)


class CBatch(_Bodies):
    """csrc/batch.c through cffi."""

    def __init__(self):
        ffi, lib = native()
        self._ffi, self._lib = ffi, lib
        self._lock = threading.Lock()
        handle, out = lib.pf_batch_new(), lib.pf_buf_new(0)
        if handle == ffi.NULL or out == ffi.NULL:
            lib.pf_batch_free(handle)
            lib.pf_buf_free(out)
            raise error(ENOMEM)
        self._handle = ffi.gc(handle, lib.pf_batch_free)
        self._out = ffi.gc(out, lib.pf_buf_free)

    def add(self, procedure, arguments_json):
        """Queues a call; returns its index in the batch."""
        if type(arguments_json) is bytes and arguments_json and type(procedure) is str \
                and procedure.isascii():
            # The common case, once per deferred call: bytes go to C as they are.
            name, arguments = procedure.encode(), arguments_json
        else:
            ffi = self._ffi
            name = ffi.from_buffer(_procedure_utf8(procedure))
            arguments = ffi.from_buffer(_arguments(arguments_json))
        with self._lock:
            rc = self._lib.pf_batch_add(self._handle, name, len(name), arguments, len(arguments))
        if rc < 0:
            raise error(rc)
        return rc

    def _encode(self, auth_json, first_id, first, max_calls, max_bytes):
        ffi, lib = self._ffi, self._lib
        # bytes (the usual auth) go to C as they are; other buffers through cffi
        auth = auth_json if type(auth_json) is bytes else ffi.from_buffer(as_utf8(auth_json))
        first_id = as_int64(first_id)
        first, max_calls, max_bytes = _limits(first, max_calls, max_bytes)
        count = lib.pf_batch_encode(self._handle, first, auth, len(auth), first_id,
                                    max_calls, max_bytes, self._out)
        if count < 0:
            raise error(count)
        return copy_out(ffi, lib, self._out), count

    def __len__(self):
        with self._lock:
            return self._lib.pf_batch_count(self._handle)

    def clear(self):
        with self._lock:
            self._lib.pf_batch_clear(self._handle)


class PyBatch(_Bodies):
    """Pure-Python twin of csrc/batch.c: the same bytes, the same errors."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls = []        # per call: ,"procedure":"P","arguments":ARGS}

    def add(self, procedure, arguments_json):
        if not isinstance(procedure, str):
            raise error(ETYPE)
        call = b"".join((_PROCEDURE, string_literal(procedure), _ARGUMENTS, _arguments(arguments_json), b"}"))
        with self._lock:
            self._calls.append(call)
            return len(self._calls) - 1

    def _encode(self, auth_json, first_id, first, max_calls, max_bytes):
        auth, first_id = bytes(as_utf8(auth_json)), as_int64(first_id)
        first, max_calls, max_bytes = _limits(first, max_calls, max_bytes)
        if not auth:
            raise error(EARG)
        if first >= len(self._calls):
            return b"", 0
        parts = [b'{"auth":', auth, b',"calls":[']
        total = len(auth) + 20
        count = 0
        for k in range(first, len(self._calls)):
            if count == max_calls:
                break
            call_id = as_int64(first_id + k)
            head = b'%s{"id":%d' % (b"," if count else b"", call_id)
            size = len(head) + len(self._calls[k])
            if count and total + size > max_bytes:
                break
            parts += (head, self._calls[k])
            total += size
            count += 1
        parts.append(b"]}")
        return b"".join(parts), count

    def __len__(self):
        with self._lock:
            return len(self._calls)

    def clear(self):
        with self._lock:
            self._calls.clear()


Batch = CBatch if backend == "c" else PyBatch
