"""What the M2X API needs from the server's storage, in one small interface:

  documents(kind) / document(kind, id) / put(kind, id, doc) / delete(kind, id)
                                                            JSON documents
  allocate_series(kind) -> series id; series(id) -> Series; drop_series(id)
                                                            stream values
  lock, atomic(), touch(), durable(), commit_soon()         transactions
  on_rollback(reload)                                       after a failed atomic block
  watch(key, callback) / wake(key, payload)                 callbacks run after the commit of a change

Documents live in table m2x_documents (schema component "m2x"); stream
values in the shared chunked timeseries (server/storage), in series this API
allocates.
"""
import orjson

from ..storage import KIND_FLOAT, KIND_STRING

API = "m2x"
SCHEMA = """
CREATE TABLE IF NOT EXISTS m2x_documents (
    kind TEXT NOT NULL, id TEXT NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (kind, id));
"""

NUMERIC = KIND_FLOAT
ALPHANUMERIC = KIND_STRING


class M2XStorage:
    def __init__(self, storage):
        self.storage = storage
        self.lock = storage.lock
        storage.schema(API, 1, SCHEMA, tables=("m2x_documents",))
        self._series = {}  # series id -> Series, opened once each

    # --- transactions ---------------------------------------------------
    def atomic(self):
        """A block that changes everything or nothing (Storage.atomic)."""
        return self.storage.atomic()

    def on_rollback(self, reload):
        """reload() runs after a failed atomic block was rolled back, once
        the series opened in it that no longer exist are forgotten."""
        def forget_then_reload(series_by_id):
            kept = {row[0] for row in self.storage.db.execute("SELECT id FROM series WHERE api = ?", (API,))}
            self._series = {series_id: series for series_id, series in self._series.items() if series_id in kept}
            reload()
        self.storage.on_rollback.append(forget_then_reload)

    def touch(self):
        self.storage.touch()

    async def durable(self):
        await self.storage.durable()

    def commit_soon(self):
        """Has the open transaction committed by the next group commit
        (for changes no request waits for)."""
        self.storage.when_durable(lambda error: None)

    # --- documents --------------------------------------------------------
    def documents(self, kind):
        """[(id, doc)] of a kind, in the order they were first stored."""
        rows = self.storage.db.execute("SELECT id, doc FROM m2x_documents WHERE kind = ? ORDER BY rowid", (kind,))
        return [(row_id, orjson.loads(doc)) for row_id, doc in rows]

    def document(self, kind, doc_id):
        row = self.storage.db.execute("SELECT doc FROM m2x_documents WHERE kind = ? AND id = ?",
                                      (kind, doc_id)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, kind, doc_id, doc):
        self.storage.touch()
        self.storage.db.execute(
            "INSERT INTO m2x_documents (kind, id, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc", (kind, doc_id, orjson.dumps(doc)))

    def delete(self, kind, doc_id):
        self.storage.touch()
        self.storage.db.execute("DELETE FROM m2x_documents WHERE kind = ? AND id = ?", (kind, doc_id))

    # --- series -------------------------------------------------------------
    def allocate_series(self, kind):
        series = self.storage.series.allocate(API, kind)
        self._series[series.id] = series
        return series.id

    def series(self, series_id):
        found = self._series.get(series_id)
        if found is None:
            found = self._series[series_id] = self.storage.series.open(series_id)
        return found

    def drop_series(self, series_id):
        self.storage.series.drop(self.series(series_id))
        del self._series[series_id]

    # --- watchers -------------------------------------------------------------
    def watch(self, key, callback):
        """callback(payload) runs (in the loop thread, after the commit) for
        every wake of key (a tuple, apart from other APIs' keys); returns a
        function that stops watching."""
        return self.storage.watchers.watch((API, *key), callback)

    def wake(self, key, payload):
        """Wakes key's watchers once the open transaction commits (none if it rolls back)."""
        self.storage.watchers.wake((API, *key), payload)
