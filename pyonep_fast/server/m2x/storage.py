"""What the M2X API needs from the server's storage, in one small interface:

  documents(kind) / document(kind, id) / put(kind, id, doc) / delete(kind, id)
  allocate_series(kind) -> series id; series(id) -> timeseries.Series;
  drop_series(id)                                           stream values
  lock, touch(), durable(), commit_soon()                   transactions

Implemented here on today's Store: documents in table m2x_documents, stream
values in the Store's chunked timeseries under series ids of their own
(negative, so they never meet the resource row ids One Platform dataports
use as series ids). Everything the M2X package stores goes through this
class, so moving onto another storage layer changes this file only.
"""
import orjson

from ..timeseries import KIND_FLOAT, KIND_STRING, Series, load_indexes

SCHEMA = """
CREATE TABLE IF NOT EXISTS m2x_documents (
    kind TEXT NOT NULL, id TEXT NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS m2x_series (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL);
"""

NUMERIC = KIND_FLOAT
ALPHANUMERIC = KIND_STRING


class M2XStorage:
    def __init__(self, store):
        self.store = store
        self.lock = store.lock
        with store.lock:
            store.db.executescript(SCHEMA)
            indexes = load_indexes(store.db)
            self._series = {}
            for series_id, kind in store.db.execute("SELECT id, kind FROM m2x_series"):
                self._series[series_id] = Series(store.db, series_id, kind, indexes.get(series_id), journal=store)

    # --- transactions ---------------------------------------------------
    def touch(self):
        self.store.touch()

    async def durable(self):
        await self.store.durable()

    def commit_soon(self):
        """Has the open transaction committed by the next group commit
        (for changes no request waits for)."""
        self.store.when_durable(lambda error: None)

    # --- documents --------------------------------------------------------
    def documents(self, kind):
        """[(id, doc)] of a kind, in the order they were first stored."""
        rows = self.store.db.execute("SELECT id, doc FROM m2x_documents WHERE kind = ? ORDER BY rowid", (kind,))
        return [(row_id, orjson.loads(doc)) for row_id, doc in rows]

    def document(self, kind, doc_id):
        row = self.store.db.execute("SELECT doc FROM m2x_documents WHERE kind = ? AND id = ?", (kind, doc_id)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, kind, doc_id, doc):
        self.store.touch()
        self.store.db.execute(
            "INSERT INTO m2x_documents (kind, id, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc", (kind, doc_id, orjson.dumps(doc)))

    def delete(self, kind, doc_id):
        self.store.touch()
        self.store.db.execute("DELETE FROM m2x_documents WHERE kind = ? AND id = ?", (kind, doc_id))

    # --- series -------------------------------------------------------------
    def allocate_series(self, kind):
        self.store.touch()
        row = self.store.db.execute("SELECT MIN(id) FROM m2x_series").fetchone()
        series_id = min(row[0] or 0, 0) - 1
        self.store.db.execute("INSERT INTO m2x_series (id, kind) VALUES (?, ?)", (series_id, kind))
        self._series[series_id] = Series(self.store.db, series_id, kind, journal=self.store)
        return series_id

    def series(self, series_id):
        return self._series[series_id]

    def drop_series(self, series_id):
        self.store.touch()
        series = self._series.pop(series_id)
        self.store.unflushed.discard(series)
        series.drop_all()
        self.store.db.execute("DELETE FROM m2x_series WHERE id = ?", (series_id,))
