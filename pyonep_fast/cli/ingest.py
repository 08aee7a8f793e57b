"""`pyonep-fast ingest`: bulk historical ingestion from CSV."""
import argparse
import ctypes
import dataclasses
import json
import sys

from ..exceptions import PyonepFastError
from ..ingest import DEFAULT_CHUNK_POINTS, DEFAULT_CONNECTIONS, DEFAULT_RETRIES, ingest
from . import add_url_option

EPILOG = """\
examples:
  # exoline's record format: timestamp,value lines, into one dataport
  pyonep-fast ingest CIK temperature.csv temperature
  # a header row names the columns; each value column goes to the alias of its name
  pyonep-fast ingest CIK sensors.csv --header --time-column time --checkpoint sensors.ckpt --verify
  # pick columns and targets (an alias, or an RID of 40 hex digits)
  pyonep-fast ingest CIK sensors.csv --header --map temp=temperature --map rh=humidity

Timestamps: epoch seconds or ISO 8601 (no offset: UTC). Rows that cannot be
stored are reported with their line numbers; the exit status is 0 only if
every point was stored (and verified, with --verify). An interrupted ingest
resumes from its --checkpoint file without sending a point twice."""


def register(subparsers):
    parser = subparsers.add_parser(
        "ingest", help="bulk-load time series history from CSV", epilog=EPILOG,
        description="Store the points of a CSV file into One Platform dataports with chunked recordbatch "
                    "calls over several keep-alive connections.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cik", help="CIK of the client that owns the dataports")
    parser.add_argument("source", help="CSV file, or - for standard input")
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="alias or RID for each value column, in column order")
    add_url_option(parser)
    parser.add_argument("--header", action="store_true", help="the first row names the columns")
    parser.add_argument("--time-column", default="0", help="name or 0-based index of the timestamp column")
    parser.add_argument("--map", action="append", default=[], metavar="COLUMN=TARGET",
                        help="feed TARGET from COLUMN (a header name or 0-based index); repeatable")
    parser.add_argument("--delimiter", default=",")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_POINTS, help="points per request")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS, help="requests in flight")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, help="retries of a failed request")
    parser.add_argument("--checkpoint", help="checkpoint file: resume from it, keep it up to date")
    parser.add_argument("--verify", action="store_true", help="read everything back and compare")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


M_TRIM_THRESHOLD = -1   # glibc mallopt parameters
M_MMAP_THRESHOLD = -3


def hold_freed_memory():
    """For a process that does bulk ingest and little else (this command,
    the demo, the benchmark): glibc hands large freed blocks back to the OS
    at once, so every request's multi-megabyte buffers fault all their
    pages in again, a quarter of the client's CPU here. Large blocks come
    from the heap instead (M_MMAP_THRESHOLD 32 MB) and up to 256 MB of free
    heap is kept for reuse (M_TRIM_THRESHOLD). True if set; a no-op
    without glibc's mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 256 << 20))


def _column(text):
    return int(text) if text.isdigit() else text


def run(args):
    if args.map and args.targets:
        print("pyonep-fast ingest: give TARGETs or --map, not both", file=sys.stderr)
        return 2
    columns = args.targets or None
    if args.map:
        pairs = [item.partition("=") for item in args.map]
        if any(not sep or not column or not target for column, sep, target in pairs):
            print("pyonep-fast ingest: --map takes COLUMN=TARGET", file=sys.stderr)
            return 2
        columns = {_column(column): target for column, _, target in pairs}
    hold_freed_memory()
    try:
        report = ingest(args.cik, args.source, columns, url=args.url, chunk_size=args.chunk_size,
                        connections=args.connections, checkpoint=args.checkpoint, verify=args.verify,
                        progress=False if args.quiet else None, retries=args.retries,
                        time_column=_column(args.time_column), header=args.header, delimiter=args.delimiter)
    except (PyonepFastError, ValueError, OSError) as exc:
        print(f"pyonep-fast ingest: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(dataclasses.asdict(report) | {"ok": report.ok,
                                                       "points_per_second": report.points_per_second}))
    else:
        print(report.summary())
    return 0 if report.ok else 1
