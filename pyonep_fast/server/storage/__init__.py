"""Storage shared by every API of the embedded server: the SQLite database
with its group commit (database.py), columnar time series keyed by series
ids any API allocates (timeseries.py), and watchers woken after the commit
of a change (watch.py)."""
from .database import Storage, default_db_path
from .timeseries import KIND_FLOAT, KIND_INT, KIND_STRING, Columns, Series

__all__ = ["KIND_FLOAT", "KIND_INT", "KIND_STRING", "Columns", "Series", "Storage", "default_db_path"]
