"""Bulk historical ingestion into One Platform dataports (see `pipeline`).

    from pyonep_fast.ingest import ingest
    report = ingest(cik, "history.csv", ["temperature", "humidity"], url="http://127.0.0.1:8080")

Modules: `pipeline` (chunks in flight, retries, the report, verify),
`sources` (CSV, arrays, DataFrames, iterables), `columns` (sort, dedupe,
checksums), `checkpoint` (resume), `rules` (what a point must be to be sent;
the Datastore applies them too).
"""
from .pipeline import (DEFAULT_CHUNK_POINTS, DEFAULT_CONNECTIONS, DEFAULT_RETRIES, Expected, IngestReport,
                       VerifyResult, client_for_url, dataport_kinds, ingest)
from .rules import FORMAT_KINDS, kind_of_info

__all__ = ["DEFAULT_CHUNK_POINTS", "DEFAULT_CONNECTIONS", "DEFAULT_RETRIES", "FORMAT_KINDS", "Expected",
           "IngestReport", "VerifyResult", "client_for_url", "dataport_kinds", "ingest", "kind_of_info"]
