"""Exosite One Platform on the embedded server: the resource model and its
tables (state.py), the JSON-RPC engine and procedures (rpc.py), resource
descriptions, limits, errors, storing points (points.py, entries.py),
request decoding (wire.py), the HTTP Data Interface (hdi.py), the CIK
fountain (fountain.py) and their routes (routes.py)."""
from .routes import routes
from .state import Store

__all__ = ["Store", "routes"]
