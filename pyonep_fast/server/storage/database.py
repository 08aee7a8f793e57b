"""The server's database: one SQLite file (WAL) shared by every API, with a
group commit.

Every change of every API goes into one open transaction (`touch()` opens
it) that a group commit closes: request handlers `await storage.durable()`
before they answer, the first waiter schedules one COMMIT on the event
loop, and everybody who wrote before it is acknowledged by that single
commit. After the commit, the wake-ups of watchers (watch.py) run.

Durability: `synchronous=NORMAL` (the default) writes each commit into the
WAL file before the acknowledgement, so an acknowledged write survives a
crash or `kill -9` of the server; after a power loss or OS crash the last
commits before the next checkpoint may be lost (the database stays
consistent). `synchronous="FULL"` fsyncs every (group) commit and survives
power loss too, at the cost of one fsync per group.

Atomic calls: `with storage.atomic():` makes a block all or nothing. Its
first change opens a SAVEPOINT inside the shared transaction; if the block
raises, the database rolls back to it and the memory follows: every Series
it changed gets its snapshot back (the Storage is the series' journal, see
timeseries.py), and if anything else changed (`touch()`), every API's state
reloads itself from the database (`on_rollback`; an error path only). Each
RPC call runs in one, so a failing call leaves nothing behind for the group
commit, and the calls before it in the request keep their changes.

Bulk appends in slices: a call's time in the event loop must stay short
whatever it stores, yet SQLite takes about 50 ms to insert and another 100
ms to commit the ~17 MB of a 1,000,000-point recordbatch (on a loaded
2-core machine), and one connection can do nothing else meanwhile. So
`async with storage.staged(series, columns) as columns:` inserts the chunk
rows of a large append ahead of the call, one chunk (at most 65,536 points,
~1 MB for numbers) at a time, each followed by a group commit, and other
requests run between the slices. The rows are staged (timeseries.py):
invisible to readers and deleted at the next start if the server dies
first. The call then stores the StagedColumns in its atomic() block as
usual, which publishes the staged rows (a short DELETE from
`staged_chunks` and an index update) if the points still append to the
series, and inserts them as any Columns otherwise (a write newer than the
batch came in meanwhile); the block's end discards what was not published,
a slice at a time. What this keeps:
  * atomicity: staging changes nothing any reader or restart can see; the
    call's effect is its publication, inside its atomic() block, rolled back
    with it (rows and memory) if the call fails;
  * durability: the call is acknowledged after the commit that holds the
    publication, as every call;
  * order: the call takes effect when it is published, after every call
    before it in its request (they have run) and before every call after it;
    other requests served during the staging come before it, as if they
    had arrived first. Every slice runs between calls, never inside
    another call's atomic() block (whose rollback would undo it).
Why not a writer thread: the shared transaction and its savepoints live on
one connection, which every call reads and writes synchronously on the
loop; a thread holding it for a bulk insert or commit would block those
calls just the same, and a second connection cannot write while the group
commit's transaction is open.

Threads: the event loop thread owns the Storage. Other threads (tests) take
`storage.lock` around their use and get their changes committed with
`commit()`.

Schemas: each component (storage itself, each API's state module) declares
its tables with `schema(component, version, ddl, migrations)`; the version
is kept in table `schema_versions`, a database written by an older version
is migrated step by step, one written by a newer one is refused.
"""
import asyncio
import logging
import os
import sqlite3
import threading
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from ..errors import ServerError
from .timeseries import SeriesTable, StagedColumns, pieces
from .watch import Watchers

log = logging.getLogger(__name__)

VERSIONS = "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
STAGE_MIN_BYTES = 1 << 20   # smaller appends are stored at once: their insert and commit take about a millisecond


def default_db_path():
    """$XDG_DATA_HOME/pyonep_fast/server.db (~/.local/share/... by default)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "pyonep_fast", "server.db")


class _CallScope:
    """The undo state of one atomic() block."""

    __slots__ = ("snapshots", "savepoint", "tree_changed", "wakes")

    def __init__(self, wakes):
        self.snapshots = {}          # series id -> (Series, its snapshot)
        self.savepoint = False       # the SAVEPOINT is open
        self.tree_changed = False    # something besides series points changed
        self.wakes = wakes           # len(watchers.pending) at the start


class Checkpointer(threading.Thread):
    """Copies the WAL into the database file in the background (PASSIVE
    checkpoints on a connection of its own; WAL lets writers go on)."""

    INTERVAL = 1.0

    def __init__(self, path):
        super().__init__(name="pyonep-fast-checkpoint", daemon=True)
        self.path = path
        self._stopping = threading.Event()
        self.start()

    def run(self):
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopping.wait(self.INTERVAL):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.OperationalError:   # busy: the next round catches up
                    continue
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()

    def stop(self):
        self._stopping.set()
        self.join()


class Storage:
    """The database connection, its group commit, the time series and the watchers."""

    def __init__(self, path=":memory:", synchronous="NORMAL"):
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ServerError("synchronous must be NORMAL or FULL")
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.checkpointer = None
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            # checkpoints (the only fsyncs under NORMAL) run in a thread of
            # their own, never inside a commit on the event loop
            self.db.execute("PRAGMA wal_autocheckpoint=0")
            self.checkpointer = Checkpointer(path)
        self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.db.execute("PRAGMA cache_size=-16384")
        self.lock = threading.RLock()
        self.loop = None                 # set by the server: the loop that owns the Storage
        self._in_tx = False
        self._scope = None               # _CallScope of the atomic() block running
        self.on_rollback = []            # callables(series by id): reload an API's memory after a rollback
        self.unflushed = set()           # Series whose newest chunk row awaits writing (before COMMIT)
        self._commit_callbacks = []      # see when_durable
        self._commit_scheduled = False
        self.watchers = Watchers()
        self.series = SeriesTable(self)
        self.between_slices = None       # tests: async callable(series) awaited after each staged slice
        self.db.execute(VERSIONS)
        self.schema("storage", 2, SCHEMA + SeriesTable.SCHEMA, tables=("chunks",))
        self.series.load()

    # --- schemas -------------------------------------------------------------
    def schema(self, component, version, ddl, migrations=None, tables=()):
        """Creates or migrates a component's tables to `version`.

        migrations[v] upgrades from version v to v + 1 (a function of the
        connection, run inside the shared transaction; none when the ddl's
        new tables are the whole change); version 0 is a
        database whose component predates `schema_versions`, recognised by
        one of `tables` existing. The ddl (CREATE ... IF NOT EXISTS) runs
        after the migrations.
        """
        with self.lock:
            row = self.db.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
            found = row[0] if row else (0 if any(self._has_table(name) for name in tables) else version)
            if found > version:
                raise ServerError(f"database {self.path} holds {component} schema version {found}; this "
                                  f"pyonep_fast knows up to {version}: open it with a newer pyonep_fast")
            self.touch()        # one transaction: a migration that fails leaves the file as it was
            for step in range(found, version):
                log.info("migrating %s schema of %s from version %d", component, self.path, step)
                if migrations and step in migrations:
                    migrations[step](self.db)
            for statement in ddl.split(";"):    # not executescript: it would commit first
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute("INSERT OR REPLACE INTO schema_versions (component, version) VALUES (?, ?)",
                            (component, version))
            self.commit()

    def _has_table(self, name):
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (name,)).fetchone() is not None

    def meta(self, key):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key, value):
        self.touch()
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- the shared transaction ---------------------------------------------
    def touch(self):
        """Opens the shared transaction if needed; every change calls it
        before changing anything, in memory or in the database."""
        self._begin()
        self.before_series_write()
        if self._scope is not None:
            self._scope.tree_changed = True

    def _begin(self):
        if not self._in_tx:
            self.db.execute("BEGIN")
            self._in_tx = True

    def before_series_change(self, series):
        """A Series is about to change, in memory at least (the Storage is
        the Series' journal, see timeseries): keeps its snapshot."""
        self._begin()
        scope = self._scope
        if scope is not None and series.id not in scope.snapshots:
            scope.snapshots[series.id] = (series, series.snapshot())

    def before_series_write(self):
        """A Series is about to change rows: opens the call's SAVEPOINT.
        (Single writes that only grow a cached tail need none.)"""
        scope = self._scope
        if scope is not None and not scope.savepoint:
            self.db.execute("SAVEPOINT call")
            scope.savepoint = True

    @contextmanager
    def atomic(self):
        """Runs the block all or nothing (see the module docstring); nested
        blocks belong to the outermost one."""
        with self.lock:
            if self._scope is not None:
                yield
                return
            scope = self._scope = _CallScope(len(self.watchers.pending))
            try:
                yield
            except BaseException:
                self._scope = None
                self._undo(scope)
                raise
            self._scope = None
            if scope.savepoint:
                self.db.execute("RELEASE call")

    def _undo(self, scope):
        if scope.savepoint:
            self.db.execute("ROLLBACK TO call")
            self.db.execute("RELEASE call")
        del self.watchers.pending[scope.wakes:]
        for series, snapshot in scope.snapshots.values():
            series.restore(snapshot)
        if scope.tree_changed:
            series_by_id = {series.id: series for series, _ in scope.snapshots.values()}
            for reload in self.on_rollback:
                reload(series_by_id)
            log.warning("a failed call was rolled back; the memory was reloaded")

    @asynccontextmanager
    async def staged(self, series, columns):
        """Gives columns to store into series, staged in slices first when
        they are large and append to it (see the module docstring); on exit,
        deletes the staged rows that were not published. Used between calls,
        never inside an atomic() block."""
        if self._scope is not None:
            raise RuntimeError("staged() inside an atomic() block: its rollback would undo the slices")
        if columns.nbytes < STAGE_MIN_BYTES or (series.chunks and columns.first_t() <= series.last()):
            yield columns
            return
        staged = StagedColumns(series, columns)
        try:
            for piece in pieces(columns):
                with self.lock:
                    self._begin()
                    staged.stage(piece)
                await self.durable()
                if self.between_slices is not None:
                    await self.between_slices(series)
            yield staged
        finally:
            for chunk in staged.chunks:
                with self.lock:
                    self._begin()
                    deleted = staged.discard(chunk)
                if deleted:
                    await self.durable()

    def commit(self):
        """Commits the open transaction now; then wake-ups and the
        when_durable callbacks run in the loop thread."""
        with self.lock:
            if self._in_tx:
                self.series.flush()
                self.db.execute("COMMIT")
                self._in_tx = False
            wakes = self.watchers.take()
            callbacks, self._commit_callbacks = self._commit_callbacks, []
        if not (wakes or callbacks):
            return
        if self.loop is None or self._in_loop_thread():
            self._deliver(wakes, callbacks)
        else:
            self.loop.call_soon_threadsafe(self._deliver, wakes, callbacks)

    def _in_loop_thread(self):
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def _deliver(self, wakes, callbacks):
        self.watchers.deliver(wakes)
        for callback in callbacks:
            callback(None)

    def _settled(self):
        return not self._in_tx and not self.watchers.pending

    def when_durable(self, callback):
        """Calls callback(None) once everything changed so far is committed
        (at once when nothing is pending), callback(error) with the
        sqlite3.Error if that commit failed. The commit is a group commit: it
        runs once the loop has handled the input at hand, for every request
        that changed something meanwhile."""
        if self._settled():
            callback(None)
            return
        self._commit_callbacks.append(callback)
        if not self._commit_scheduled:
            self._commit_scheduled = True
            self.loop.call_soon(self._group_commit)

    async def durable(self):
        """Returns once everything changed so far is committed; raises the
        sqlite3.Error if the commit failed (see when_durable)."""
        if self._settled():
            return
        settled = self.loop.create_future()

        def settle(error):
            if not settled.done():
                settled.set_result(error)
        self.when_durable(settle)
        error = await settled
        if error is not None:
            raise error

    def _group_commit(self):
        self._commit_scheduled = False
        try:
            self.commit()
        except sqlite3.Error as error:  # the disk failed: nobody may be told "ok"
            log.exception("group commit failed")
            callbacks, self._commit_callbacks = self._commit_callbacks, []
            for callback in callbacks:
                callback(error)

    def close(self):
        with self.lock:
            self.commit()
            if self.checkpointer is not None:
                self.checkpointer.stop()
            self.db.close()
