"""`pyonep-fast ingest`: bulk historical ingestion from CSV into One Platform
dataports or (--api m2x) the streams of an M2X device."""
import argparse
import ctypes
import dataclasses
import functools
import json
import os
import sys

from ..ingest import DEFAULT_CHUNK_POINTS, DEFAULT_CONNECTIONS, DEFAULT_RETRIES
from . import INTERRUPTED, USAGE, CommandError, add_url_option, cik, int_between, onep_client, url_of

EPILOG = """\
examples:
  # exoline's record format: timestamp,value lines, into one dataport
  pyonep-fast ingest CIK temperature.csv temperature
  # a header row names the columns; each value column goes to the alias of its name
  pyonep-fast ingest CIK sensors.csv --header --time-column time --checkpoint sensors.ckpt --verify
  # pick columns and targets (an alias, or an RID of 40 hex digits)
  pyonep-fast ingest CIK sensors.csv --header --map temp=temperature --map rh=humidity
  # create the dataports the header names (format from the first rows' values)
  pyonep-fast ingest CIK sensors.csv --header --create
  # from a pipe, resumable: the name identifies the stream in the checkpoint
  zcat big.csv.gz | pyonep-fast ingest CIK - temp --checkpoint big.ckpt --input-name big.csv.gz
  # M2X: each value column into a stream of the device (--create makes missing streams)
  pyonep-fast ingest --api m2x --key KEY --device DEVICE sensors.csv --header --create --verify

Timestamps: epoch seconds (--time-unit ms/us for milliseconds/microseconds,
floored to the second) or ISO 8601 (no offset: --tz, else UTC); times after
the year 3000 are refused as a unit mistake. Rows that cannot be stored are
reported with their line numbers; the exit status is 0 only if every point
was stored (and verified, with --verify). M2X streams get the same
guarantees; their checkpoint records the server, the key's digest (never
the key), the device and the streams. An interrupted ingest (Ctrl-C
included) resumes from its --checkpoint file without sending a point twice;
a checkpoint of another input or target is refused (--restart starts over)."""


def register(subparsers):
    parser = subparsers.add_parser(
        "ingest", help="bulk-load time series history from CSV", epilog=EPILOG,
        usage="pyonep-fast ingest [options] CIK SOURCE [TARGET ...]\n"
              "       pyonep-fast ingest --api m2x --key KEY --device DEVICE [options] SOURCE [STREAM ...]",
        description="Store the points of a CSV file into One Platform dataports with chunked recordbatch "
                    "calls (or M2X streams with chunked value lists) over several keep-alive connections.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    # the CIK is there only for One Platform: which positional is what is settled in run()
    parser.add_argument("cik", nargs="?", metavar="CIK", help="CIK of the client that owns the dataports "
                                                               "(not with --api m2x)")
    parser.add_argument("source", metavar="SOURCE", help="CSV file, or - for standard input")
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="alias or RID (M2X: stream name) for each value column, in column order")
    parser.add_argument("--api", choices=("onep", "m2x"), default="onep",
                        help="One Platform dataports (default) or M2X streams")
    parser.add_argument("--key", help="M2X API key (--api m2x)")
    parser.add_argument("--device", help="M2X device id whose streams take the columns (--api m2x)")
    add_url_option(parser)
    parser.add_argument("--header", action="store_true", help="the first row names the columns")
    parser.add_argument("--time-column", default="0", help="name or 0-based index of the timestamp column")
    parser.add_argument("--map", action="append", default=[], metavar="COLUMN=TARGET",
                        help="feed TARGET from COLUMN (a header name or 0-based index); repeatable")
    parser.add_argument("--delimiter", default=",")
    parser.add_argument("--chunk-size", type=int_between(1, 10_000_000), default=DEFAULT_CHUNK_POINTS,
                        help="points per request")
    parser.add_argument("--connections", type=int_between(1, 256), default=DEFAULT_CONNECTIONS,
                        help="requests in flight")
    parser.add_argument("--retries", type=int_between(0, 1000), default=DEFAULT_RETRIES,
                        help="retries of a failed request")
    parser.add_argument("--checkpoint", help="checkpoint file: resume from it, keep it up to date")
    parser.add_argument("--restart", action="store_true", help="ignore (and replace) an existing checkpoint")
    parser.add_argument("--input-name", help="what identifies input read from stdin in the checkpoint")
    parser.add_argument("--time-unit", choices=("s", "ms", "us"), default="s",
                        help="unit of epoch timestamps (default s; ms and us are floored to the second)")
    parser.add_argument("--tz", help="time zone of ISO 8601 times without an offset (default UTC)")
    parser.add_argument("--create", action="store_true",
                        help="create missing dataports (named after their alias, format from the values) "
                             "or M2X streams (numeric, or alphanumeric for text)")
    parser.add_argument("--verify", action="store_true", help="read back the points sent and compare")
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


def _positionals(args):
    """(auth, source, targets) of the positionals: CIK SOURCE [TARGET...]
    for One Platform, SOURCE [STREAM...] with --key and --device for M2X."""
    given = [value for value in (args.cik, args.source, *args.targets) if value is not None]
    if args.api == "m2x":
        missing = [option for option in ("--key", "--device") if not getattr(args, option[2:])]
        if missing:
            raise CommandError(f"--api m2x needs {' and '.join(missing)}", USAGE)
        return args.key, given[0], given[1:]
    if args.key or args.device:
        raise CommandError("--key and --device are for --api m2x", USAGE)
    if args.cik is None:
        raise CommandError("give the CIK, then the source (and the targets)", USAGE)
    try:
        return cik(args.cik), args.source, args.targets
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"argument CIK: {exc}", USAGE) from None


def run(args):
    auth, args.source, args.targets = _positionals(args)
    if args.map and args.targets:
        raise CommandError("give TARGETs or --map, not both", USAGE)
    columns = args.targets or None
    if args.map:
        pairs = [item.partition("=") for item in args.map]
        if any(not sep or not column or not target for column, sep, target in pairs):
            raise CommandError("--map takes COLUMN=TARGET", USAGE)
        columns = {_column(column): target for column, _, target in pairs}
    if args.source != "-" and not os.path.exists(args.source):
        raise CommandError(f"{args.source}: no such file")
    options = {"time_unit": args.time_unit, "input_name": args.input_name}
    if args.tz:
        options["tz"] = args.tz
    if args.api == "m2x":
        from ..ingest import ingest_m2x
        from ..ingest.sinks import m2x_client_for_url

        client = m2x_client_for_url(auth, url_of(args), args.timeout)
        into = functools.partial(ingest_m2x, auth, args.device)
    else:
        from ..ingest import ingest

        client = onep_client(args)
        into = functools.partial(ingest, auth)
    hold_freed_memory()
    try:
        report = into(args.source, columns, client=client, chunk_size=args.chunk_size,
                      connections=args.connections, checkpoint=args.checkpoint, verify=args.verify,
                      progress=False if args.quiet else None, retries=args.retries, restart=args.restart,
                      create=args.create, time_column=_column(args.time_column), header=args.header,
                      delimiter=args.delimiter, **options)
    except KeyboardInterrupt:
        saved = f"; the checkpoint {args.checkpoint} is saved: the same command resumes" if args.checkpoint else ""
        print(f"pyonep-fast ingest: interrupted{saved}", file=sys.stderr)
        return INTERRUPTED
    if args.json:
        print(json.dumps(dataclasses.asdict(report) | {"ok": report.ok,
                                                       "points_per_second": report.points_per_second}))
    else:
        print(report.summary())
    return 0 if report.ok else 1
