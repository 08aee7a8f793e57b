"""JSON writer: a growable byte buffer of compact JSON, and repr-exact doubles.

`JsonWriter` appends JSON values to a byte buffer: `raw(bytes)` verbatim,
`int64(int)`, `double(float)` (the shortest text that reads back as the same
double: what `repr` prints), `string(str)` (a string literal; escapes only
what RFC 8259 requires, so other characters stay UTF-8). `format_double(x)`
is `repr(float(x))` for finite x. NaN/inf, invalid UTF-8 (for `str`: lone
surrogates) and wrong types raise `EncodeError`; ints outside int64 raise
`CoreError` (ERANGE). Nothing is written by a call that fails.

Both backends (C: csrc/jsonw.c and csrc/dtoa.c; Python: this module) give
the same bytes and the same error codes.
"""
import json
import math
import numbers
import operator
import threading

from . import ENOMEM, ENONFINITE, ERANGE, ETYPE, EUTF8, backend, check, error, native

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def as_int64(value):
    """An int in int64 range from an integer (not a bool), else ETYPE/ERANGE."""
    if type(value) is not int:
        if isinstance(value, bool):
            raise error(ETYPE)
        try:
            value = operator.index(value)
        except TypeError:
            raise error(ETYPE) from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise error(ERANGE)
    return value


def as_double(value):
    """A float from a real number (not a bool), else ETYPE/ERANGE (huge ints)."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(ETYPE)
    try:
        return float(value)
    except OverflowError:
        raise error(ERANGE) from None


def as_utf8(value):
    """UTF-8 bytes of a str (EUTF8 for lone surrogates) or of a bytes-like,
    which is taken as already UTF-8 (the writers check it)."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise error(EUTF8) from None
    return _bytes_like(value)


def string_literal(text):
    """The JSON literal of a str as UTF-8: the Python twin of the C escaper
    (json.dumps escapes exactly '"', '\\' and U+0000..U+001F this way)."""
    try:
        return json.dumps(text, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise error(EUTF8) from None


def py_format_double(value):
    """repr(float(value)); EncodeError for NaN/inf (pure Python)."""
    value = as_double(value)
    if not math.isfinite(value):
        raise error(ENONFINITE)
    return repr(value)


def c_format_double(value):
    """repr(float(value)); EncodeError for NaN/inf (C: csrc/dtoa.c)."""
    value = as_double(value)
    ffi, lib = _native or _load_native()
    try:
        out = _per_thread.out
    except AttributeError:  # one text buffer per thread: C runs without the GIL
        out = _per_thread.out = ffi.new("char[32]")
    return ffi.unpack(out, check(lib.pf_format_double(value, out))).decode("ascii")


_native = None
_per_thread = threading.local()


def _load_native():
    global _native
    _native = native()
    return _native


class PyJsonWriter:
    """JSON writer over a bytearray (the pure-Python twin of CJsonWriter)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._data = bytearray()

    def raw(self, data):
        """Append bytes verbatim (no validation)."""
        data = _bytes_like(data)
        with self._lock:
            self._data += data

    def int64(self, value):
        text = b"%d" % as_int64(value)
        with self._lock:
            self._data += text

    def double(self, value):
        text = py_format_double(value).encode("ascii")
        with self._lock:
            self._data += text

    def string(self, value):
        """Append a JSON string literal of a str, or of UTF-8 bytes."""
        utf8 = as_utf8(value)
        if isinstance(value, str):
            literal = string_literal(value)
        else:
            try:
                literal = string_literal(str(utf8, "utf-8"))
            except UnicodeDecodeError:
                raise error(EUTF8) from None
        with self._lock:
            self._data += literal

    def getvalue(self):
        with self._lock:
            return bytes(self._data)

    def reset(self):
        with self._lock:
            del self._data[:]

    def __len__(self):
        with self._lock:
            return len(self._data)


class CJsonWriter:
    """JSON writer over a C pf_buf (csrc/jsonw.c)."""

    def __init__(self):
        self._ffi, self._lib = ffi, lib = native()
        self._lock = threading.Lock()
        handle = lib.pf_buf_new(0)
        if handle == ffi.NULL:
            raise error(ENOMEM)
        self._buf = ffi.gc(handle, lib.pf_buf_free)

    def raw(self, data):
        """Append bytes verbatim (no validation)."""
        data = _bytes_like(data)
        with self._lock:
            check(self._lib.pf_buf_write_raw(self._buf, self._ffi.from_buffer(data), len(data)))

    def int64(self, value):
        value = as_int64(value)
        with self._lock:
            check(self._lib.pf_buf_write_int64(self._buf, value))

    def double(self, value):
        value = as_double(value)
        with self._lock:
            check(self._lib.pf_buf_write_double(self._buf, value))

    def string(self, value):
        """Append a JSON string literal of a str, or of UTF-8 bytes."""
        utf8 = as_utf8(value)
        with self._lock:
            check(self._lib.pf_buf_write_string(self._buf, self._ffi.from_buffer(utf8), len(utf8)))

    def getvalue(self):
        with self._lock:
            return copy_out(self._ffi, self._lib, self._buf)

    def reset(self):
        with self._lock:
            self._lib.pf_buf_reset(self._buf)

    def __len__(self):
        with self._lock:
            return self._lib.pf_buf_len(self._buf)


def copy_out(ffi, lib, buf):
    """The bytes of a pf_buf (the caller holds the owner's lock)."""
    size = lib.pf_buf_len(buf)
    return ffi.buffer(lib.pf_buf_data(buf), size)[:] if size else b""


def _bytes_like(data):
    if isinstance(data, str):
        raise error(ETYPE)
    try:
        return memoryview(data).cast("B")
    except TypeError:
        raise error(ETYPE) from None


format_double = c_format_double if backend == "c" else py_format_double
JsonWriter = CJsonWriter if backend == "c" else PyJsonWriter
