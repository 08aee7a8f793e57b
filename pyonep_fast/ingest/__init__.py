"""Bulk historical ingestion into One Platform dataports or M2X streams (see `pipeline`).

    from pyonep_fast.ingest import ingest, ingest_m2x
    report = ingest(cik, "history.csv", ["temperature", "humidity"], url="http://127.0.0.1:8080")
    report = ingest_m2x(key, device_id, "history.csv", ["temperature", "humidity"], url=...)

Modules: `pipeline` (chunks in flight, retries, the report, verify),
`sinks` (what is API-specific: One Platform dataports, M2X streams),
`sources` (CSV, arrays, DataFrames, iterables), `columns` (sort, dedupe,
checksums), `checkpoint` (resume), `rules` (what a point must be to be sent,
and the one time parser of every command; the Datastore applies them too).

The names below are imported when first used: a command that only needs
`rules` (every CLI command parses times) does not pay for NumPy.
"""
import importlib

DEFAULT_CHUNK_POINTS = 100_000   # points per request: larger costs memory, smaller costs CPU per point
DEFAULT_CONNECTIONS = 4
DEFAULT_RETRIES = 5

_LAZY = {name: "pipeline" for name in ("Expected", "IngestReport", "VerifyResult", "ingest", "ingest_m2x")}
_LAZY.update(client_for_url="sinks", dataport_kinds="sinks")
_LAZY.update(FORMAT_KINDS="rules", kind_of_info="rules")

__all__ = ["DEFAULT_CHUNK_POINTS", "DEFAULT_CONNECTIONS", "DEFAULT_RETRIES", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
