"""Columnar time series on SQLite: chunks of points per series.

Any API allocates a series (`SeriesTable.allocate`) and keeps its id; table
`series` records each one's value kind and the API that owns it.

A chunk is one row of table `chunks` holding n points of one series as
packed little-endian columns: int64 timestamps, then int64 or float64
values, or for strings the UTF-8 bytes of all values plus uint64 end
offsets (value i is data[ends[i-1]:ends[i]]). The chunks of one series never
overlap in time and are kept sorted by t_first in memory, so counts,
first/last and range reads come from the index without decoding points.

Writes:
  * points after the newest chunk are appended: into the newest chunk while
    it is small (single `write`s grow a tail chunk in place), otherwise as
    new chunks of at most CHUNK_MAX points and CHUNK_MAX_BYTES bytes;
  * older points merge into the one chunk whose time range holds them (or,
    in a gap, the chunk before it; before the first chunk, the first): only
    those chunks are rewritten (the new value wins at equal timestamps), and
    a merged chunk that outgrows the bounds is cut into equal halves;
  * runs of small chunks at the tail are compacted into one by
    concatenation, so reads of a series fed point by point stay fast.
A replacement's rows are inserted before the rows it replaces are deleted.

Staged chunks: a bulk append can have its chunk rows inserted ahead of the
call that stores it, a slice at a time between other requests
(Storage.staged). Such a row is listed in table `staged_chunks`: it is in no
series' index, readers never see it, and a start after a crash deletes it.
Storing the StagedColumns (`store()`) publishes the rows (drops them from
`staged_chunks` and puts them in the index) when the points still append to
the series; otherwise they are stored as any Columns are. Every
`staged_chunks` row names an existing chunk row: whatever deletes a staged
chunk row deletes its `staged_chunks` row in the same transaction.

Every change first tells the series' journal (the Storage) so that a failed
call can be undone: `journal.before_series_change(series)` opens the
transaction and keeps series.snapshot() for series.restore(), and
`journal.before_series_write()` precedes every change of rows.
"""
import bisect
import struct
import sys
from array import array
from itertools import accumulate

import orjson

from ..._core.series import Series as CoreSeries
# the value kinds are the entries parser's
from ..._core.entries import VALUE_FLOAT as KIND_FLOAT  # noqa: F401 (re-exported)
from ..._core.entries import VALUE_INT as KIND_INT
from ..._core.entries import VALUE_STRING as KIND_STRING

if sys.byteorder != "little":  # the chunk columns are the machine's native arrays
    raise ImportError("pyonep_fast.server stores little-endian columns and needs a little-endian host")

_INT64 = struct.Struct("<q")
_UINT64 = struct.Struct("<Q")
_FLOAT64 = struct.Struct("<d")

TAIL_MAX = 64          # a tail chunk grows in place up to this many points ...
TAIL_MAX_BYTES = 65536  # ... and this many bytes
CHUNK_MAX = 65536      # bulk writes are cut into chunks of at most this size ...
CHUNK_MAX_BYTES = 8 << 20  # ... and bytes (SQLite refuses blobs over 1e9 bytes by default)
COMPACT_SMALL = 4096   # chunks below this size (and CHUNK_MAX_BYTES / COMPACT_RUN bytes) count as small ...
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

    @classmethod
    def from_entries(cls, kind, entries):
        """From _core Entries normalized for kind."""
        ts = entries.timestamps().tobytes()
        if kind == KIND_INT:
            return cls(kind, ts, entries.ints().tobytes())
        if kind == KIND_FLOAT:
            return cls(kind, ts, entries.floats().tobytes())
        encoded = [value.encode() for value in entries.strings()]
        return cls(kind, ts, b"".join(encoded), array("Q", accumulate(map(len, encoded))).tobytes())

    def view(self):
        return ChunkView(self.kind, self.ts, self.vals, self.ends)

    @property
    def nbytes(self):
        """Bytes of the stored row's columns."""
        return len(self.ts) + len(self.vals) + len(self.ends)

    @property
    def size(self):
        """Storage accounting of info `storage.size`: 12 bytes per numeric
        point, the payload bytes for strings."""
        return len(self.vals) if self.kind == KIND_STRING else 12 * len(self)


class StagedColumns(Columns):
    """Columns whose chunk rows are already inserted, staged for `series`
    (see the module docstring): `chunks` in time order, `newest` the
    Columns of the last one (the tail cache once published)."""

    __slots__ = ("series", "chunks", "newest")

    def __init__(self, series, columns):
        super().__init__(columns.kind, columns.ts, columns.vals, columns.ends)
        self.series = series
        self.chunks = []
        self.newest = None

    def stage(self, piece):
        """Inserts the row of piece, the next points of these Columns, as staged."""
        chunk, self.newest = self.series._insert(piece)
        self.series.db.execute("INSERT INTO staged_chunks (chunk) VALUES (?)", (chunk.id,))
        self.chunks.append(chunk)

    def discard(self, chunk):
        """Deletes chunk's row if it is still staged (not published, dropped
        or rolled back); True if it was."""
        db = self.series.db
        if not db.execute("DELETE FROM staged_chunks WHERE chunk = ?", (chunk.id,)).rowcount:
            return False
        db.execute("DELETE FROM chunks WHERE id = ?", (chunk.id,))
        return True


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


def merge(old, new):
    """Columns of old and new points together, sorted; new wins at equal
    timestamps. Copies runs, not points."""
    ov, nv = old.view(), new.view()
    n_old, n_new = len(ov), len(nv)
    parts = []
    pos = i = 0
    while i < n_new:
        j = bisect.bisect_left(ov.ts, nv.ts[i], pos)
        if j > pos:
            parts.append(ov.columns(pos, j))
        if j == n_old:
            parts.append(nv.columns(i))
            pos = j
            break
        k = bisect.bisect_right(nv.ts, ov.ts[j], i)   # new points up to the next old one
        parts.append(nv.columns(i, k))
        pos = j + 1 if nv.ts[k - 1] == ov.ts[j] else j
        i = k
    if pos < n_old:
        parts.append(ov.columns(pos))
    return concat(parts)


def pieces(columns, balanced=False):
    """columns cut at CHUNK_MAX points and CHUNK_MAX_BYTES bytes (but never
    below one point), in order: the Columns of each chunk row. `balanced`
    cuts into equal pieces, so a chunk that a merge grew past the bounds
    leaves no sliver."""
    n = len(columns)
    nbytes = columns.nbytes
    if n <= CHUNK_MAX and nbytes <= CHUNK_MAX_BYTES:
        yield columns
        return
    max_points, max_bytes = CHUNK_MAX, CHUNK_MAX_BYTES
    if balanced:
        count = max(-(-n // CHUNK_MAX), -(-nbytes // CHUNK_MAX_BYTES))
        max_points, max_bytes = -(-n // count), -(-nbytes // count)
    view = columns.view()
    lo = 0
    while lo < n:
        hi = min(lo + max_points, n)
        if view.ends is not None:   # strings: as many whole values as the byte bound allows
            base = view.ends[lo - 1] if lo else 0
            hi = max(lo + 1, bisect.bisect_right(range(lo + 1, hi + 1), max_bytes,
                                                 key=lambda end: view.ends[end - 1] - base + 16 * (end - lo)) + lo)
        yield view.columns(lo, hi)
        lo = hi


class Chunk:
    """A chunk row's summary. Never changed in place: a rollback restores
    a series by putting back its list of these."""

    __slots__ = ("id", "t_first", "t_last", "n", "size")

    def __init__(self, chunk_id, t_first, t_last, n, size):
        self.id = chunk_id
        self.t_first = t_first
        self.t_last = t_last
        self.n = n
        self.size = size


def _load_indexes(db, series_id=None):
    """{series id: [Chunk, ...] sorted by t_first} for every stored series (or one)."""
    indexes = {}
    where, args = ("AND series = ?", (series_id,)) if series_id is not None else ("", ())
    for row in db.execute(f"SELECT series, id, t_first, t_last, n, size FROM chunks "
                          f"WHERE id NOT IN (SELECT chunk FROM staged_chunks) {where}", args):
        indexes.setdefault(row[0], []).append(Chunk(*row[1:]))
    for chunks in indexes.values():
        chunks.sort(key=lambda c: c.t_first)
    return indexes


class SeriesTable:
    """Every series of the database: allocation, opening, dropping, and the
    flush of rewritten tail chunks before each commit (Storage.commit)."""

    SCHEMA = """
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, api TEXT NOT NULL, kind INTEGER NOT NULL);
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
CREATE TABLE IF NOT EXISTS staged_chunks (chunk INTEGER PRIMARY KEY);
"""

    def __init__(self, storage):
        self.storage = storage
        self._indexes = {}           # series id -> [Chunk], until the series is opened

    def load(self):
        """Deletes the chunks a crash left staged, then reads the chunk index
        of every stored series (at start)."""
        db = self.storage.db
        if db.execute("SELECT 1 FROM staged_chunks LIMIT 1").fetchone():
            self.storage.touch()
            db.execute("DELETE FROM chunks WHERE id IN (SELECT chunk FROM staged_chunks)")
            db.execute("DELETE FROM staged_chunks")
            self.storage.commit()
        self._indexes = _load_indexes(db)

    def allocate(self, api, kind):
        """A new, empty series of value kind `kind`, owned by `api`."""
        self.storage.touch()
        series_id = self.storage.db.execute("INSERT INTO series (api, kind) VALUES (?, ?)", (api, kind)).lastrowid
        return Series(self.storage.db, series_id, kind, journal=self.storage)

    def open(self, series_id):
        """The stored series `series_id` (once per series: it caches its index)."""
        db = self.storage.db
        row = db.execute("SELECT kind FROM series WHERE id = ?", (series_id,)).fetchone()
        if row is None:
            raise KeyError(f"no series {series_id}")
        chunks = self._indexes.pop(series_id, None)
        if chunks is None:      # not read at start (or opened again after a rollback)
            chunks = _load_indexes(db, series_id).get(series_id, [])
        return Series(db, series_id, row[0], chunks, self.storage)

    def drop(self, series):
        """Deletes the series and its points."""
        series.drop_all()
        self.storage.unflushed.discard(series)
        self.storage.db.execute("DELETE FROM series WHERE id = ?", (series.id,))

    def flush(self):
        unflushed = self.storage.unflushed
        for series in unflushed:
            series.flush()
        unflushed.clear()


class _NoJournal:
    """The journal of a series outside a Store: nothing to undo."""

    def __init__(self):
        self.unflushed = set()

    def before_series_change(self, series):
        pass

    def before_series_write(self):
        pass


class Series:
    """The points of one series. `db` is the Storage's connection; `journal`
    the Storage (see the module docstring), whose transaction every change
    runs in.

    In-place rewrites of the newest chunk (single writes) change only the
    cached tail; its row is written by flush(), which the Storage runs before
    each COMMIT, once per series however many points the commit holds.
    `journal.unflushed` is the Storage's set of series waiting for that."""

    def __init__(self, db, series_id, kind, chunks=None, journal=None):
        self.db = db
        self.id = series_id
        self.kind = kind
        self.chunks = chunks or []
        self.journal = _NoJournal() if journal is None else journal
        self._tail = None  # (chunk id, Columns) of the newest chunk, cached
        self._tail_dirty = False   # the cached tail is newer than its row

    # --- undo ----------------------------------------------------------
    def snapshot(self):
        """The in-memory state, for restore() after the database rolled back."""
        return list(self.chunks), self._tail, self._tail_dirty

    def restore(self, snapshot):
        chunks, self._tail, self._tail_dirty = snapshot
        self.chunks = list(chunks)
        if self._tail_dirty:
            self.journal.unflushed.add(self)
        else:
            self.journal.unflushed.discard(self)

    # --- summary -----------------------------------------------------
    def count(self):
        return sum(c.n for c in self.chunks)

    def size(self):
        return sum(c.size for c in self.chunks)

    def first(self):
        return self.chunks[0].t_first if self.chunks else 0

    def last(self):
        return self.chunks[-1].t_last if self.chunks else 0

    def _nbytes(self, chunk):
        """Bytes of a chunk's row: 8 per timestamp and per value or end offset, plus string data."""
        return 16 * chunk.n + (chunk.size if self.kind == KIND_STRING else 0)

    # --- chunk rows ----------------------------------------------------
    def _load(self, chunk):
        if self._tail is not None and self._tail[0] == chunk.id:
            return self._tail[1]
        ts, vals, ends = self.db.execute("SELECT ts, vals, ends FROM chunks WHERE id = ?", (chunk.id,)).fetchone()
        columns = Columns(self.kind, ts, vals, ends)
        if chunk is self.chunks[-1]:
            self._tail = (chunk.id, columns)
        return columns

    def columns_of(self, chunk):
        """The stored Columns of chunk, one the series indexes now (readers
        outside this module, e.g. the portal's charts)."""
        return self._load(chunk)

    def _insert(self, columns):
        chunk = Chunk(None, columns.first_t(), columns.last_t(), len(columns), columns.size)
        cur = self.db.execute(
            "INSERT INTO chunks (series, t_first, t_last, n, size, ts, vals, ends) VALUES (?,?,?,?,?,?,?,?)",
            (self.id, chunk.t_first, chunk.t_last, chunk.n, chunk.size, columns.ts, columns.vals, columns.ends))
        chunk.id = cur.lastrowid
        return chunk, columns

    def _replace(self, old_chunks, columns_list, balanced=False):
        """Inserts the given Columns, then deletes old_chunks."""
        self.journal.before_series_write()
        self.flush()
        new = [self._insert(piece) for columns in columns_list if len(columns) for piece in pieces(columns, balanced)]
        self._install(old_chunks, [chunk for chunk, _ in new], new[-1][1] if new else None)

    def _install(self, old_chunks, new_chunks, newest):
        """Deletes the rows of old_chunks and indexes new_chunks (inserted
        rows, in time order; `newest` the Columns of the last)."""
        gone = {c.id for c in old_chunks}
        if gone:
            self.db.executemany("DELETE FROM chunks WHERE id = ?", [(chunk_id,) for chunk_id in gone])
            if self._tail is not None and self._tail[0] in gone:
                self._tail = None
        chunks = [c for c in self.chunks if c.id not in gone] if gone else list(self.chunks)
        if new_chunks:
            chunks.extend(new_chunks)
            chunks.sort(key=lambda c: c.t_first)
            if chunks[-1] is new_chunks[-1]:
                self._tail = (new_chunks[-1].id, newest)
        self.chunks = chunks

    def _publish(self, staged):
        """Indexes the staged rows of `staged` (see StagedColumns) if they
        are all still staged for this series; False otherwise."""
        if staged.series is not self:
            return False
        ids = [chunk.id for chunk in staged.chunks]
        marks = ",".join("?" * len(ids))
        found = self.db.execute(f"SELECT count(*) FROM staged_chunks JOIN chunks ON chunks.id = chunk "
                                f"WHERE series = ? AND chunk IN ({marks})", (self.id, *ids)).fetchone()[0]
        if found != len(ids):
            return False
        self.journal.before_series_write()
        self.flush()
        self.db.execute(f"DELETE FROM staged_chunks WHERE chunk IN ({marks})", ids)
        self._install([], staged.chunks, staged.newest)
        return True

    # --- writes --------------------------------------------------------
    def store(self, columns):
        """Stores sorted, unique points; an existing point at the same
        timestamp is replaced."""
        n = len(columns)
        if not n:
            return
        self.journal.before_series_change(self)
        tail = self.chunks[-1] if self.chunks else None
        if tail is None or columns.first_t() > tail.t_last:
            self._append(columns)
            return
        if (columns.first_t() == tail.t_last and tail.n + n <= TAIL_MAX
                and self._nbytes(tail) + columns.nbytes <= TAIL_MAX_BYTES):
            # the common same-second rewrite: only the newest point is replaced
            kept = self._load(tail).head(tail.n - 1)
            self._rewrite_tail(tail, [kept, columns] if len(kept) else [columns])
            return
        view = columns.view()
        older = bisect.bisect_right(view.ts, tail.t_last)
        self._merge_into_chunks(view, older)
        if older < n:
            self._append(view.columns(older))

    def _append(self, columns):
        """Stores points newer than every stored one."""
        tail = self.chunks[-1] if self.chunks else None
        if (tail is not None and tail.n + len(columns) <= TAIL_MAX
                and self._nbytes(tail) + columns.nbytes <= TAIL_MAX_BYTES):
            self._rewrite_tail(tail, [self._load(tail), columns])
            return
        if not (isinstance(columns, StagedColumns) and self._publish(columns)):
            self._replace([], [columns])
        self._compact_tail()

    def _merge_into_chunks(self, view, count):
        """Merges the first `count` points of view (none newer than the newest
        chunk) into the chunks their timestamps fall in; only those chunks
        are rewritten."""
        starts = [c.t_first for c in self.chunks]
        old, merged = [], []
        lo = 0
        while lo < count:
            index = max(0, bisect.bisect_right(starts, view.ts[lo]) - 1)
            hi = count if index + 1 == len(starts) else bisect.bisect_left(view.ts, starts[index + 1], lo, count)
            chunk = self.chunks[index]
            old.append(chunk)
            merged.append(merge(self._load(chunk), view.columns(lo, hi)))
            lo = hi
        self._replace(old, merged, balanced=True)

    def _rewrite_tail(self, tail, parts):
        """The newest chunk becomes the concatenation of parts, in place."""
        grown = concat(parts)
        self.chunks[-1] = Chunk(tail.id, grown.first_t(), grown.last_t(), len(grown), grown.size)
        self._tail = (tail.id, grown)
        if not self._tail_dirty:
            self._tail_dirty = True
            self.journal.unflushed.add(self)

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
            if chunk.n >= COMPACT_SMALL or self._nbytes(chunk) >= CHUNK_MAX_BYTES // COMPACT_RUN:
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
        if not touched:
            return
        self.journal.before_series_change(self)
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
        self.journal.before_series_change(self)
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
        self.journal.before_series_change(self)
        self.journal.before_series_write()
        self._tail_dirty = False
        self.db.execute("DELETE FROM staged_chunks WHERE chunk IN (SELECT id FROM chunks WHERE series = ?)", (self.id,))
        self.db.execute("DELETE FROM chunks WHERE series = ?", (self.id,))
        self.chunks = []
        self._tail = None

    def copy_to(self, other):
        if self.chunks:
            other.journal.before_series_change(other)
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

    def extent(self, start, end, limit):
        """(points, value bytes) a read of [start, end] with `limit` returns
        at most, from the chunk summaries (the two chunks at the edges are
        loaded to count exactly); the bytes are the stored values' share of
        those points. What a budget is checked against before a read."""
        points = size = 0
        for chunk in self.chunks:
            if chunk.t_last < start:
                continue
            if chunk.t_first > end:
                break
            n = chunk.n
            if chunk.t_first < start or chunk.t_last > end:
                ts = self._load(chunk).view().ts
                n = bisect.bisect_right(ts, end) - bisect.bisect_left(ts, start)
            points += n
            size += chunk.size * n // chunk.n
        taken = min(points, max(limit, 0))
        return taken, size * taken // points if points else 0

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
        """The earliest point (whatever the sort: spec 3.1, 9) of each of
        `limit` equal sub-windows of [start, end], window k starting at
        start + k * span // limit; emitted in sort order. Costs the fewer of
        the windows and the points in range, so a huge limit is no work."""
        span = end - start + 1
        ranges, n = self._selected(start, end, False, limit)
        if n < limit:                  # every point in range is at hand: one pass over them
            firsts = {}
            for t, v in _pairs(ranges, False):
                firsts.setdefault(((t - start + 1) * limit - 1) // span, [t, v])
            out = list(firsts.values())
        else:
            bounds = [start + (k * span) // limit for k in range(limit + 1)]
            out = []
            for k in range(limit):
                if bounds[k + 1] > bounds[k]:
                    out.extend(self._take(bounds[k], bounds[k + 1] - 1, False, 1))
        if descending:
            out.reverse()
        return out

    def latest(self):
        if not self.chunks:
            return None
        return self._load(self.chunks[-1]).view().point(len(self._load(self.chunks[-1])) - 1)

    def first_after(self, t):
        """The earliest point with timestamp > t, or None."""
        found = self._take(t + 1, (1 << 63) - 1, False, 1) if t < (1 << 63) - 1 else []
        return found[0] if found else None
