"""Columnar time series on SQLite: chunks of points per resource.

A chunk is one row of table `chunks` holding n points of one series as
packed little-endian columns: int64 timestamps, then int64 or float64
values, or for strings the UTF-8 bytes of all values plus uint64 end
offsets (value i is data[ends[i-1]:ends[i]]). The chunks of one series never
overlap in time and are kept sorted by t_first in memory, so counts,
first/last and range reads come from the index without decoding points.

Writes:
  * points after the newest chunk are appended: into the newest chunk while
    it is small (single `write`s grow a tail chunk in place), otherwise as
    new chunks of at most CHUNK_MAX points;
  * points that land inside existing chunks merge with the chunks they
    overlap (the new value wins at equal timestamps) and replace them;
  * runs of small chunks at the tail are compacted into one by
    concatenation, so reads of a series fed point by point stay fast.
"""
import bisect
import struct
import sys
from array import array

import orjson

from .._core.series import Series as CoreSeries
# the value kinds are the entries parser's
from .._core.entries import VALUE_FLOAT as KIND_FLOAT  # noqa: F401 (re-exported)
from .._core.entries import VALUE_INT as KIND_INT
from .._core.entries import VALUE_STRING as KIND_STRING

if sys.byteorder != "little":  # the chunk columns are the machine's native arrays
    raise ImportError("pyonep_fast.server stores little-endian columns and needs a little-endian host")

_INT64 = struct.Struct("<q")
_UINT64 = struct.Struct("<Q")
_FLOAT64 = struct.Struct("<d")

TAIL_MAX = 64          # a tail chunk grows in place up to this many points
CHUNK_MAX = 65536      # bulk writes are cut into chunks of at most this size
COMPACT_SMALL = 4096   # chunks below this size count as small ...
COMPACT_RUN = 16       # ... and this many of them at the tail get merged
ENCODE_MIN = 256       # reads of this many numeric points are encoded from the columns in C


class Columns:
    """Sorted points with unique timestamps, as packed columns.

    ts: int64 timestamps; vals: int64/float64 values, or UTF-8 data for
    strings; ends: uint64 end offsets into vals (strings only, else b"").
    """

    __slots__ = ("kind", "ts", "vals", "ends")

    def __init__(self, kind, ts, vals, ends=b""):
        self.kind = kind
        self.ts = ts
        self.vals = vals
        self.ends = ends

    def __len__(self):
        return len(self.ts) // 8

    def first_t(self):
        return _INT64.unpack_from(self.ts)[0]

    def last_t(self):
        return _INT64.unpack_from(self.ts, len(self.ts) - 8)[0]

    def head(self, n):
        """The first n points as new Columns."""
        if self.kind != KIND_STRING:
            return Columns(self.kind, self.ts[:8 * n], self.vals[:8 * n])
        return self.view().columns(0, n)

    @classmethod
    def from_pairs(cls, kind, pairs):
        """From (t, value) pairs already sorted by t, unique, typed for kind."""
        if len(pairs) == 1:     # single writes: no list or array in between
            t, value = pairs[0]
            if kind == KIND_STRING:
                data = value.encode()
                return cls(kind, _INT64.pack(t), data, _UINT64.pack(len(data)))
            return cls(kind, _INT64.pack(t), (_INT64 if kind == KIND_INT else _FLOAT64).pack(value))
        ts = array("q", [t for t, _ in pairs]).tobytes()
        if kind == KIND_STRING:
            data = bytearray()
            ends = array("Q")
            for _, value in pairs:
                data += value.encode()
                ends.append(len(data))
            return cls(kind, ts, bytes(data), ends.tobytes())
        code = "q" if kind == KIND_INT else "d"
        return cls(kind, ts, array(code, [v for _, v in pairs]).tobytes())

    def view(self):
        return ChunkView(self.kind, self.ts, self.vals, self.ends)

    @property
    def size(self):
        """Storage accounting of info `storage.size`: 12 bytes per numeric
        point, the payload bytes for strings."""
        return len(self.vals) if self.kind == KIND_STRING else 12 * len(self)


class ChunkView:
    """Random access to packed columns without copying them."""

    __slots__ = ("kind", "ts", "vals", "ends", "data")

    def __init__(self, kind, ts, vals, ends):
        self.kind = kind
        self.ts = memoryview(ts).cast("q")
        if kind == KIND_STRING:
            self.data = vals
            self.ends = memoryview(ends).cast("Q")
            self.vals = None
        else:
            self.data = None
            self.ends = None
            self.vals = memoryview(vals).cast("q" if kind == KIND_INT else "d")

    def __len__(self):
        return len(self.ts)

    def value(self, i):
        if self.vals is not None:
            return self.vals[i]
        start = self.ends[i - 1] if i else 0
        return self.data[start:self.ends[i]].decode()

    def point(self, i):
        return [self.ts[i], self.value(i)]

    def pairs(self, lo=0, hi=None):
        hi = len(self.ts) if hi is None else hi
        if self.vals is not None:
            return list(zip(self.ts[lo:hi].tolist(), self.vals[lo:hi].tolist()))
        return [(self.ts[i], self.value(i)) for i in range(lo, hi)]

    def columns(self, lo=0, hi=None):
        """Points lo..hi-1 as new Columns (string offsets rebased)."""
        hi = len(self.ts) if hi is None else hi
        ts = self.ts[lo:hi].tobytes()
        if self.vals is not None:
            return Columns(self.kind, ts, self.vals[lo:hi].tobytes())
        base = self.ends[lo - 1] if lo else 0
        end = self.ends[hi - 1] if hi > lo else base
        ends = array("Q", [e - base for e in self.ends[lo:hi]]).tobytes()
        return Columns(self.kind, ts, bytes(self.data[base:end]), ends)


def _pairs(ranges, descending):
    """[[t, v], ...] of (view, lo, hi) ranges given oldest first, in sort order."""
    out = []
    for view, lo, hi in reversed(ranges) if descending else ranges:
        pairs = view.pairs(lo, hi)
        if descending:
            pairs.reverse()
        out.extend([list(p) for p in pairs])
    return out


def concat(parts):
    """Columns holding the parts one after another (caller keeps order)."""
    kind = parts[0].kind
    ts = b"".join([p.ts for p in parts])
    if kind != KIND_STRING:
        return Columns(kind, ts, b"".join([p.vals for p in parts]))
    ends = array("Q")
    base = 0
    for part in parts:
        shifted = array("Q")
        shifted.frombytes(part.ends)
        ends.extend([e + base for e in shifted] if base else shifted)
        base += len(part.vals)
    return Columns(kind, ts, b"".join([p.vals for p in parts]), ends.tobytes())


class Chunk:
    __slots__ = ("id", "t_first", "t_last", "n", "size")

    def __init__(self, chunk_id, t_first, t_last, n, size):
        self.id = chunk_id
        self.t_first = t_first
        self.t_last = t_last
        self.n = n
        self.size = size


SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    series INTEGER NOT NULL,
    t_first INTEGER NOT NULL,
    t_last INTEGER NOT NULL,
    n INTEGER NOT NULL,
    size INTEGER NOT NULL,
    ts BLOB NOT NULL,
    vals BLOB NOT NULL,
    ends BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_of_series ON chunks (series);
"""


def load_indexes(db):
    """{series id: [Chunk, ...] sorted by t_first} for every stored series."""
    indexes = {}
    for row in db.execute("SELECT series, id, t_first, t_last, n, size FROM chunks"):
        indexes.setdefault(row[0], []).append(Chunk(*row[1:]))
    for chunks in indexes.values():
        chunks.sort(key=lambda c: c.t_first)
    return indexes


class Series:
    """The points of one resource. `db` is the Store's connection; every
    method runs inside the Store's open transaction (the caller's `touch`).

    In-place rewrites of the newest chunk (single writes) change only the
    cached tail; its row is written by flush(), which the Store runs before
    each COMMIT, once per series however many points the commit holds.
    `unflushed` is the Store's set of series waiting for that."""

    def __init__(self, db, series_id, kind, chunks=None, unflushed=None):
        self.db = db
        self.id = series_id
        self.kind = kind
        self.chunks = chunks or []
        self.unflushed = set() if unflushed is None else unflushed
        self._tail = None  # (chunk id, Columns) of the newest chunk, cached
        self._tail_dirty = False   # the cached tail is newer than its row

    # --- summary -----------------------------------------------------
    def count(self):
        return sum(c.n for c in self.chunks)

    def size(self):
        return sum(c.size for c in self.chunks)

    def first(self):
        return self.chunks[0].t_first if self.chunks else 0

    def last(self):
        return self.chunks[-1].t_last if self.chunks else 0

    # --- chunk rows ----------------------------------------------------
    def _load(self, chunk):
        if self._tail is not None and self._tail[0] == chunk.id:
            return self._tail[1]
        ts, vals, ends = self.db.execute("SELECT ts, vals, ends FROM chunks WHERE id = ?", (chunk.id,)).fetchone()
        columns = Columns(self.kind, ts, vals, ends)
        if chunk is self.chunks[-1]:
            self._tail = (chunk.id, columns)
        return columns

    def _insert(self, columns):
        chunk = Chunk(None, columns.first_t(), columns.last_t(), len(columns), columns.size)
        cur = self.db.execute(
            "INSERT INTO chunks (series, t_first, t_last, n, size, ts, vals, ends) VALUES (?,?,?,?,?,?,?,?)",
            (self.id, chunk.t_first, chunk.t_last, chunk.n, chunk.size, columns.ts, columns.vals, columns.ends))
        chunk.id = cur.lastrowid
        return chunk, columns

    def _insert_split(self, columns):
        """New chunks for columns, cut at CHUNK_MAX points."""
        n = len(columns)
        if n <= CHUNK_MAX:
            return [self._insert(columns)]
        view = columns.view()
        return [self._insert(view.columns(lo, min(lo + CHUNK_MAX, n))) for lo in range(0, n, CHUNK_MAX)]

    def _replace(self, old_chunks, columns_list):
        """Deletes old_chunks and inserts the given Columns in their place."""
        self.flush()
        if old_chunks:
            self.db.executemany("DELETE FROM chunks WHERE id = ?", [(c.id,) for c in old_chunks])
            gone = {c.id for c in old_chunks}
            self.chunks = [c for c in self.chunks if c.id not in gone]
            if self._tail is not None and self._tail[0] in gone:
                self._tail = None
        new = []
        for columns in columns_list:
            if len(columns):
                new.extend(self._insert_split(columns))
        if new:
            self.chunks.extend(chunk for chunk, _ in new)
            self.chunks.sort(key=lambda c: c.t_first)
            if self.chunks[-1] is new[-1][0]:
                self._tail = (new[-1][0].id, new[-1][1])

    # --- writes --------------------------------------------------------
    def store(self, columns):
        """Stores sorted, unique points; an existing point at the same
        timestamp is replaced."""
        n = len(columns)
        if not n:
            return
        t_first, t_last = columns.first_t(), columns.last_t()
        tail = self.chunks[-1] if self.chunks else None
        if tail is None or t_first > tail.t_last:
            if tail is not None and tail.n + n <= TAIL_MAX:
                self._rewrite_tail(tail, [self._load(tail), columns])
            else:
                self._replace([], [columns])
            self._compact_tail()
            return
        if t_first == tail.t_last and tail.n + n <= TAIL_MAX:
            # the common same-second rewrite: only the newest point is replaced
            kept = self._load(tail).head(tail.n - 1)
            self._rewrite_tail(tail, [kept, columns] if len(kept) else [columns])
            return
        overlapping = [c for c in self.chunks if c.t_first <= t_last and c.t_last >= t_first]
        if not overlapping:
            self._replace([], [columns])
            return
        merged = {}
        for chunk in overlapping:
            merged.update(self._load(chunk).view().pairs())
        merged.update(columns.view().pairs())
        self._replace(overlapping, [Columns.from_pairs(self.kind, sorted(merged.items()))])

    def _rewrite_tail(self, tail, parts):
        """The newest chunk becomes the concatenation of parts, in place."""
        grown = concat(parts)
        tail.t_first, tail.t_last = grown.first_t(), grown.last_t()
        tail.n = len(grown)
        tail.size = grown.size
        self._tail = (tail.id, grown)
        if not self._tail_dirty:
            self._tail_dirty = True
            self.unflushed.add(self)

    def flush(self):
        """Writes the newest chunk's row if in-place rewrites changed it."""
        if not self._tail_dirty:
            return
        tail = self.chunks[-1]
        columns = self._tail[1]
        self.db.execute("UPDATE chunks SET t_first = ?, t_last = ?, n = ?, size = ?, ts = ?, vals = ?, ends = ? "
                        "WHERE id = ?", (tail.t_first, tail.t_last, tail.n, tail.size, columns.ts, columns.vals,
                                         columns.ends, tail.id))
        self._tail_dirty = False

    def _compact_tail(self):
        run = []
        for chunk in reversed(self.chunks):
            if chunk.n >= COMPACT_SMALL:
                break
            run.append(chunk)
        if len(run) < COMPACT_RUN:
            return
        run.reverse()
        self._replace(run, [concat([self._load(c) for c in run])])

    def delete_between(self, newer_than=None, older_than=None):
        """Deletes points with newer_than < t < older_than (None: unbounded)."""
        lo = -(1 << 63) if newer_than is None else newer_than
        hi = (1 << 63) - 1 if older_than is None else older_than
        if hi - lo < 2:
            return
        first, last = lo + 1, hi - 1
        touched = [c for c in self.chunks if c.t_first <= last and c.t_last >= first]
        kept = []
        for chunk in touched:
            if chunk.t_first >= first and chunk.t_last <= last:
                continue
            view = self._load(chunk).view()
            a = bisect.bisect_left(view.ts, first)
            b = bisect.bisect_right(view.ts, last)
            kept.append(view.columns(0, a))
            kept.append(view.columns(b))
        self._replace(touched, kept)

    def keep_newest(self, count):
        """Retention by count: drops all but the newest `count` points."""
        excess = self.count() - count
        if excess <= 0:
            return
        whole = []
        for chunk in self.chunks:
            if chunk.n > excess:
                break
            whole.append(chunk)
            excess -= chunk.n
        rest = []
        if excess:
            part = self.chunks[len(whole)]
            rest = [self._load(part).view().columns(excess)]
            whole.append(part)
        self._replace(whole, rest)

    def drop_all(self):
        self._tail_dirty = False
        self.db.execute("DELETE FROM chunks WHERE series = ?", (self.id,))
        self.chunks = []
        self._tail = None

    def copy_to(self, other):
        for chunk in self.chunks:
            other._replace([], [self._load(chunk)])

    # --- reads -----------------------------------------------------------
    def _views_in(self, start, end):
        """[(view, lo, hi)] of the chunks overlapping [start, end], oldest first."""
        out = []
        for chunk in self.chunks:
            if chunk.t_last < start:
                continue
            if chunk.t_first > end:
                break
            view = self._load(chunk).view()
            lo = bisect.bisect_left(view.ts, start) if chunk.t_first < start else 0
            hi = bisect.bisect_right(view.ts, end) if chunk.t_last > end else len(view)
            if hi > lo:
                out.append((view, lo, hi))
        return out

    def read(self, start, end, descending, limit, selection):
        """The points with start <= t <= end in sort order (spec 3.1): a list
        of [t, v], or for many numeric points their JSON text already
        encoded from the columns (an orjson.Fragment, no Python object per
        point; floats spelled as repr spells them)."""
        if limit <= 0 or start > end:
            return []
        if selection == "givenwindow":
            return self._given_window(start, end, descending, limit)
        if selection == "autowindow":
            return self._auto_window(start, end, descending, limit)
        ranges, n = self._selected(start, end, descending, limit)
        if n >= ENCODE_MIN and self.kind != KIND_STRING:
            encoder = CoreSeries("int" if self.kind == KIND_INT else "float")
            for view, lo, hi in ranges:
                encoder.append(view.ts[lo:hi], view.vals[lo:hi])
            return orjson.Fragment(encoder.encode_entries(0, n, descending))
        return _pairs(ranges, descending)

    def _selected(self, start, end, descending, limit):
        """([(view, lo, hi)] oldest first, count) of the `limit` oldest (or
        newest, descending) points with start <= t <= end."""
        ranges = []
        taken = 0
        chunks = [c for c in self.chunks if c.t_last >= start and c.t_first <= end]
        for chunk in reversed(chunks) if descending else chunks:
            view = self._load(chunk).view()
            lo = bisect.bisect_left(view.ts, start) if chunk.t_first < start else 0
            hi = bisect.bisect_right(view.ts, end) if chunk.t_last > end else len(view)
            if descending:
                lo = max(lo, hi - (limit - taken))
            else:
                hi = min(hi, lo + (limit - taken))
            if hi > lo:
                ranges.append((view, lo, hi))
                taken += hi - lo
            if taken >= limit:
                break
        if descending:
            ranges.reverse()
        return ranges, taken

    def _take(self, start, end, descending, limit):
        return _pairs(self._selected(start, end, descending, limit)[0], descending)

    def _auto_window(self, start, end, descending, limit):
        spans = self._views_in(start, end)
        total = sum(hi - lo for _, lo, hi in spans)
        if total <= limit:
            return self._take(start, end, descending, limit)
        # limit points spread evenly by index over the matches, in sort order
        wanted = [(k * total) // limit for k in range(limit)]
        if descending:
            wanted = [total - 1 - i for i in wanted]
        offsets = []
        acc = 0
        for _, lo, hi in spans:
            offsets.append(acc)
            acc += hi - lo
        out = []
        for index in wanted:
            s = bisect.bisect_right(offsets, index) - 1
            view, lo, _ = spans[s]
            out.append(view.point(lo + index - offsets[s]))
        return out

    def _given_window(self, start, end, descending, limit):
        # limit equal sub-windows of [start, end]; the first point of each
        # in sort order, windows emitted in sort order
        span = end - start + 1
        bounds = [start + (k * span) // limit for k in range(limit + 1)]
        windows = [(bounds[k], bounds[k + 1] - 1) for k in range(limit) if bounds[k + 1] > bounds[k]]
        if descending:
            windows.reverse()
        out = []
        for lo, hi in windows:
            found = self._take(lo, hi, descending, 1)
            out.extend(found)
        return out

    def latest(self):
        if not self.chunks:
            return None
        return self._load(self.chunks[-1]).view().point(len(self._load(self.chunks[-1])) - 1)

    def first_after(self, t):
        """The earliest point with timestamp > t, or None."""
        found = self._take(t + 1, (1 << 63) - 1, False, 1) if t < (1 << 63) - 1 else []
        return found[0] if found else None
