"""Series: columnar (int64 timestamp, value) buffers, and SeriesBuffer, the
flush policy over one Series per resource.

A Series holds points of one value kind: "int" (int64), "float" (finite
double) or "string" (UTF-8). `append` takes one point as two scalars, or
two equally long columns: Python sequences (converted by `array.array`, so
the per-point loop runs in C), anything with the buffer protocol (array,
NumPy: int64/float64 are used in place, other item types are converted when
that is lossless), or for strings a sequence of str. It encodes points as a
One Platform `recordbatch` entries array `[[ts,v],...]` or as an M2X values
list `[{"timestamp":"...Z","value":v},...]`, and drops acknowledged points
from the front.

Errors (nothing is appended or written by a call that fails):
ETYPE (EncodeError) for a value of the wrong type (a float or bool in an int
series, a bool anywhere, a non-str in a string series), ENONFINITE for
NaN/inf, EUTF8 for lone surrogates, ERANGE for ints outside int64 or a point
range past the end or a time outside years 0001..9999 (M2X), EARG for
columns of different lengths or a bad option.

CSeries (C: csrc/series.c) and PySeries behave identically; `Series` and
`SeriesBuffer` are the ones PYONEP_FAST_IMPL selects.
"""
import bisect
import collections
import datetime
import itertools
import numbers
import sys
import threading
import time
from array import array

from . import EARG, ENOMEM, ENONFINITE, ERANGE, ETYPE, EUTF8, backend, check, error, native
from .jsonw import as_double, as_int64, copy_out, string_literal

KINDS = ("int", "float", "string")
_C_KIND = {"int": 1, "float": 2, "string": 3}  # PF_VALUE_*

# Upper bounds of "[ts,v]," per point, as in csrc/series.c (a string adds
# the length of its JSON literal).
_ENTRY_OVERHEAD = 24
_ENTRY_MAX = {"int": _ENTRY_OVERHEAD + 20, "float": _ENTRY_OVERHEAD + 24, "string": _ENTRY_OVERHEAD}
_TICKS_PER_SECOND = (1, 1000, 1000000)
_EPOCH = datetime.datetime(1970, 1, 1)

# Buffer item formats (struct syntax) that convert to int64 / float64
# without loss; 'q'/'l' (8 bytes) and 'd' are used in place.
_NATIVE_PREFIXES = ("@", "=") + (("<",) if sys.byteorder == "little" else (">",))
_SIGNED_INTS = set("bhilqn")
_UNSIGNED_INTS = set("BHILQN")
_SMALL_INTS = set("bBhHiI")


# ---------- input columns (shared by both backends) ----------

def _is_scalar(value):
    if isinstance(value, (str, bytes, bytearray, numbers.Number)):
        return True
    try:
        return memoryview(value).ndim == 0
    except (TypeError, ValueError):  # no buffer (NumPy: not one of plain items)
        return False


def _buffer_format(view):
    """The item format of a 1-D native-order buffer, else ETYPE/EARG."""
    if view.ndim != 1:
        raise error(EARG)
    fmt = view.format
    if fmt[:1] in _NATIVE_PREFIXES:
        fmt = fmt[1:]
    if len(fmt) != 1:
        raise error(ETYPE)
    return fmt


def _from_array(typecode, items):
    try:
        return array(typecode, items)
    except (TypeError, NotImplementedError):  # memoryviews iterate native formats only
        raise error(ETYPE) from None
    except OverflowError:
        raise error(ERANGE) from None


def _sequence(values):
    """A list or tuple of the items of an iterable (not of a str or bytes)."""
    if isinstance(values, (str, bytes, bytearray)):
        raise error(ETYPE)
    if not isinstance(values, (list, tuple)):
        try:
            values = list(values)
        except TypeError:
            raise error(ETYPE) from None
    return values


def _numbers(values):
    """_sequence, refusing bools (which array.array would take as 0 and 1)."""
    items = _sequence(values)
    if bool in set(map(type, items)):
        raise error(ETYPE)
    return items


def int64_column(values):
    """A contiguous int64 buffer of the items of a column."""
    try:
        view = memoryview(values)
    except (TypeError, ValueError):
        return _from_array("q", _numbers(values))
    fmt = _buffer_format(view)
    if fmt in _SIGNED_INTS and view.itemsize == 8 and view.c_contiguous:
        return view.cast("B").cast("q")  # the same memory, in native format
    if fmt in _SIGNED_INTS or fmt in _UNSIGNED_INTS:
        return _from_array("q", view)  # uint64 past int64: ERANGE
    raise error(ETYPE)


def float64_column(values):
    """A contiguous float64 buffer of the items of a column (ints welcome
    from Python sequences; from buffers only those a double holds exactly)."""
    try:
        view = memoryview(values)
    except (TypeError, ValueError):
        return _from_array("d", _numbers(values))  # ints too large for a double: ERANGE
    fmt = _buffer_format(view)
    if fmt == "d" and view.c_contiguous:
        return view.cast("B").cast("d")
    if fmt in ("d", "f") or fmt in _SMALL_INTS:
        return _from_array("d", view)
    raise error(ETYPE)


def utf8_column(values):
    """(data, ends): the UTF-8 bytes of a sequence of str, end offsets."""
    encoded = []
    for value in _sequence(values):
        if not isinstance(value, str):
            raise error(ETYPE)
        try:
            encoded.append(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise error(EUTF8) from None
    return b"".join(encoded), array("Q", itertools.accumulate(map(len, encoded)))


def columns(kind, timestamps, values):
    """(timestamps, values, n) ready for a Series of kind: int64 and float64
    buffers, or for strings values = (data, ends)."""
    if _is_scalar(timestamps) != _is_scalar(values):
        raise error(EARG)
    if _is_scalar(timestamps):
        timestamps = array("q", [as_int64(timestamps)])
        if kind == "int":
            values = [as_int64(values)]
        elif kind == "float":
            values = [as_double(values)]
        else:
            values = [values]
    timestamps = int64_column(timestamps)
    if kind == "int":
        values = int64_column(values)
        n = len(values)
    elif kind == "float":
        values = float64_column(values)
        n = len(values)
    else:
        values = utf8_column(values)
        n = len(values[1])
    if len(timestamps) != n:
        raise error(EARG)
    return timestamps, values, n


def point_range(first, n, length):
    """(first, n) checked against a series of length points."""
    first = as_int64(first)
    n = length - first if n is None else as_int64(n)
    if first < 0 or n < 0 or first > length or n > length - first:
        raise error(ERANGE)
    return first, n


def ticks(ticks_per_second):
    if isinstance(ticks_per_second, bool) or not isinstance(ticks_per_second, int) \
            or ticks_per_second not in _TICKS_PER_SECOND:
        raise error(EARG)
    return ticks_per_second


def _kind(kind):
    if kind not in KINDS:
        raise error(EARG)
    return kind


# ---------- pure-Python twin ----------

def _iso_time(t, ticks_per_second):
    """"YYYY-MM-DDTHH:MM:SS.mmm" of t / ticks_per_second s after the epoch."""
    seconds, sub = divmod(t, ticks_per_second)
    try:
        moment = _EPOCH + datetime.timedelta(seconds=seconds)
    except OverflowError:
        raise error(ERANGE) from None
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03d" % (
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
        sub * 1000 // ticks_per_second)


class PySeries:
    """A Series in Python arrays (the reference twin of CSeries)."""

    def __init__(self, kind):
        self.kind = _kind(kind)
        self._lock = threading.Lock()
        self._ts = array("q")
        # strings: the str values and the byte length of each JSON literal
        self._values = [] if kind == "string" else array("q" if kind == "int" else "d")
        self._literal_sizes = []

    def append(self, timestamps, values):
        timestamps, values, n = columns(self.kind, timestamps, values)
        if self.kind == "string":
            data, ends = values
            texts = [str(data[begin:end], "utf-8") for begin, end in zip(itertools.chain((0,), ends), ends)]
            sizes = [len(string_literal(text)) for text in texts]
        elif self.kind == "float" and not all(map(_finite, values)):
            raise error(ENONFINITE)
        with self._lock:
            # contiguous int64 / float64 buffers, taken as bytes as C does
            self._ts.frombytes(memoryview(timestamps).cast("B"))
            if self.kind == "string":
                self._values.extend(texts)
                self._literal_sizes.extend(sizes)
            else:
                self._values.frombytes(memoryview(values).cast("B"))

    def __len__(self):
        with self._lock:
            return len(self._ts)

    def _point_sizes(self):
        per_point = _ENTRY_MAX[self.kind]
        if self.kind == "string":
            return [per_point + size for size in self._literal_sizes]
        return itertools.repeat(per_point, len(self._ts))

    def encoded_size(self):
        with self._lock:
            return 2 + sum(self._point_sizes())

    def points_within(self, max_bytes):
        max_bytes = as_int64(max_bytes)
        with self._lock:
            return bisect.bisect_right(list(itertools.accumulate(self._point_sizes())), max_bytes - 2)

    def _value_text(self, i):
        value = self._values[i]
        if self.kind == "int":
            return b"%d" % value
        if self.kind == "float":
            return repr(value).encode("ascii")
        return string_literal(value)

    def encode_entries(self, first=0, n=None, descending=False):
        with self._lock:
            first, n = point_range(first, n, len(self._ts))
            order = range(first + n - 1, first - 1, -1) if descending else range(first, first + n)
            return b"[" + b",".join(b"[%d,%s]" % (self._ts[i], self._value_text(i)) for i in order) + b"]"

    def encode_m2x(self, first=0, n=None, ticks_per_second=1):
        ticks_per_second = ticks(ticks_per_second)
        with self._lock:
            first, n = point_range(first, n, len(self._ts))
            items = [b'{"timestamp":"%sZ","value":%s}' % (_iso_time(self._ts[i], ticks_per_second).encode(),
                                                          self._value_text(i))
                     for i in range(first, first + n)]
            return b"[" + b",".join(items) + b"]"

    def drop_front(self, n):
        with self._lock:
            _, n = point_range(0, n, len(self._ts))
            del self._ts[:n]
            del self._values[:n]
            del self._literal_sizes[:n]

    def timestamps(self):
        with self._lock:
            return array("q", self._ts)

    def values(self):
        with self._lock:
            return list(self._values) if self.kind == "string" else array(self._values.typecode, self._values)


def _finite(value):
    return value - value == 0


# ---------- C-backed ----------

# Each thread encodes into one reused C buffer: fresh memory costs a page
# fault per 4 KiB on first touch, as much as encoding the bytes. A buffer
# that grew past _SCRATCH_KEPT is released after use.
_scratch = threading.local()
_SCRATCH_KEPT = 64 << 20


def _scratch_buffer(ffi, lib):
    buffer = getattr(_scratch, "buffer", None)
    if buffer is None:
        handle = lib.pf_buf_new(0)
        if handle == ffi.NULL:
            raise error(ENOMEM)
        buffer = _scratch.buffer = ffi.gc(handle, lib.pf_buf_free)
    lib.pf_buf_reset(buffer)
    return buffer


class CSeries:
    """A Series in C columns (csrc/series.c)."""

    def __init__(self, kind):
        self.kind = _kind(kind)
        self._ffi, self._lib = ffi, lib = native()
        self._lock = threading.Lock()
        handle = lib.pf_series_new(_C_KIND[kind])
        if handle == ffi.NULL:
            raise error(ENOMEM)
        self._series = ffi.gc(handle, lib.pf_series_free)

    def append(self, timestamps, values):
        timestamps, values, n = columns(self.kind, timestamps, values)
        ffi, lib = self._ffi, self._lib
        ts = ffi.from_buffer("int64_t[]", timestamps)
        with self._lock:
            if self.kind == "int":
                check(lib.pf_series_append_int(self._series, ts, ffi.from_buffer("int64_t[]", values), n))
            elif self.kind == "float":
                check(lib.pf_series_append_float(self._series, ts, ffi.from_buffer("double[]", values), n))
            else:
                data, ends = values
                check(lib.pf_series_append_string(self._series, ts, ffi.from_buffer("char[]", data),
                                                  ffi.from_buffer("uint64_t[]", ends), n))

    def __len__(self):
        with self._lock:
            return self._lib.pf_series_len(self._series)

    def encoded_size(self):
        with self._lock:
            return self._lib.pf_series_encoded_size(self._series)

    def points_within(self, max_bytes):
        max_bytes = as_int64(max_bytes)
        with self._lock:
            return self._lib.pf_series_count_within(self._series, max(max_bytes, 0))

    def _encode(self, encoder, first, n, *options):
        ffi, lib = self._ffi, self._lib
        out = _scratch_buffer(ffi, lib)
        with self._lock:
            first, n = point_range(first, n, lib.pf_series_len(self._series))
            check(encoder(self._series, first, n, *options, out))
        body = copy_out(ffi, lib, out)
        if lib.pf_buf_capacity(out) > _SCRATCH_KEPT:
            del _scratch.buffer
        return body

    def encode_entries(self, first=0, n=None, descending=False):
        return self._encode(self._lib.pf_series_encode_entries, first, n, 1 if descending else 0)

    def encode_m2x(self, first=0, n=None, ticks_per_second=1):
        return self._encode(self._lib.pf_series_encode_m2x, first, n, ticks(ticks_per_second))

    def drop_front(self, n):
        with self._lock:
            _, n = point_range(0, n, self._lib.pf_series_len(self._series))
            check(self._lib.pf_series_drop_front(self._series, n))

    def timestamps(self):
        with self._lock:
            return self._column("q", self._lib.pf_series_timestamps(self._series))

    def values(self):
        ffi, lib = self._ffi, self._lib
        with self._lock:
            if self.kind == "int":
                return self._column("q", lib.pf_series_ints(self._series))
            if self.kind == "float":
                return self._column("d", lib.pf_series_floats(self._series))
            n = lib.pf_series_len(self._series)
            if n == 0:
                return []
            ends = self._column("Q", lib.pf_series_string_ends(self._series))
            data = ffi.buffer(lib.pf_series_string_data(self._series), ends[-1])[:]
        return [str(data[begin:end], "utf-8") for begin, end in zip(itertools.chain((0,), ends), ends)]

    def _column(self, typecode, pointer):
        """A copy of n items at pointer (the caller holds the lock)."""
        n = self._lib.pf_series_len(self._series)
        column = array(typecode)
        if n:
            column.frombytes(self._ffi.buffer(pointer, n * column.itemsize))
        return column


# ---------- flush policy ----------

Pending = collections.namedtuple("Pending", "resources points bytes")


class _SeriesBufferBase:
    """Buffers points per resource and says when to flush them.

    kind_of: the value kind of every resource ("int", "float", "string";
        default "float"), or a callable resource -> kind, asked once when a
        resource gets its first point.
    max_points (default 50_000): a resource is due once it holds this many
        points, and take() encodes at most this many at a time.
    max_bytes (default 4_000_000): a resource is due once its entries could
        take this many bytes (an upper bound: 48 bytes per float point, 44
        per int point, 24 + the JSON literal per string), and take() keeps
        each body within it (a single larger point goes alone).
    max_age (default 5.0 s): due(now) also lists every resource whose
        oldest unacknowledged append is at least this old (monotonic clock).

    Flushing is take() then, once the points are stored, ack(): a failed
    store acknowledges nothing, so the points stay buffered for the next
    try. Thread-safe; one flusher at a time per resource (two concurrent
    take() calls for one resource return the same points).
    """

    series_class: type | None = None  # set by the backend subclasses

    def __init__(self, kind_of="float", max_points=50_000, max_bytes=4_000_000, max_age=5.0):
        if not callable(kind_of):
            _kind(kind_of)
        if as_int64(max_points) < 1 or as_int64(max_bytes) < 1:
            raise error(EARG)
        max_age = as_double(max_age)
        if not max_age >= 0:
            raise error(EARG)
        self.kind_of = kind_of
        self.max_points = max_points
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._lock = threading.Lock()
        self._series = {}
        # per resource: deque of (points appended in total after an append,
        # monotonic time of that append), and points acknowledged in total
        self._appends = {}
        self._acked = {}

    def append(self, resource, timestamps, values):
        """Buffer points for resource; returns [resource] if that made it due
        by count or bytes, else []."""
        with self._lock:
            series = self._series.get(resource)
            if series is None:
                kind = self.kind_of(resource) if callable(self.kind_of) else self.kind_of
                series = self.series_class(kind)
            before = len(series)
            series.append(timestamps, values)
            added = len(series) - before
            if added:
                self._series[resource] = series
                appends = self._appends.setdefault(resource, collections.deque())
                acked = self._acked.setdefault(resource, 0)
                appends.append((acked + before + added, time.monotonic()))
            return [resource] if self._full(series) else []

    def _full(self, series):
        return len(series) >= self.max_points or series.encoded_size() >= self.max_bytes

    def due(self, now=None):
        """Resources due by count, bytes or age (now: a time.monotonic())."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return [resource for resource, series in self._series.items()
                    if self._full(series) or now - self._appends[resource][0][1] >= self.max_age]

    def take(self, resource, max_points=None):
        """(body, count): the oldest points of resource as a recordbatch
        entries array, without dropping them; (b"[]", 0) if none."""
        limit = self.max_points if max_points is None else as_int64(max_points)
        if limit < 1:
            raise error(EARG)
        with self._lock:
            series = self._series.get(resource)
            if series is None:
                return b"[]", 0
            count = min(len(series), limit, max(1, series.points_within(self.max_bytes)))
            return series.encode_entries(0, count), count

    def ack(self, resource, count):
        """Drop the count oldest points of resource (they were stored)."""
        with self._lock:
            series = self._series.get(resource)
            if series is None:
                point_range(0, count, 0)  # ERANGE unless count is 0
                return
            series.drop_front(count)
            acked = self._acked[resource] + count
            appends = self._appends[resource]
            while appends and appends[0][0] <= acked:
                appends.popleft()
            if appends:
                self._acked[resource] = acked
            else:  # all flushed: forget the resource
                del self._series[resource], self._appends[resource], self._acked[resource]

    def pending(self):
        """Pending(resources, points, bytes) buffered in total (bytes: the
        encoded_size bound)."""
        with self._lock:
            return Pending(len(self._series), sum(map(len, self._series.values())),
                           sum(series.encoded_size() for series in self._series.values()))


class PySeriesBuffer(_SeriesBufferBase):
    series_class = PySeries


class CSeriesBuffer(_SeriesBufferBase):
    series_class = CSeries


Series = CSeries if backend == "c" else PySeries
SeriesBuffer = CSeriesBuffer if backend == "c" else PySeriesBuffer
