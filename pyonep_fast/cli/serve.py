"""`pyonep-fast serve`: run the embedded server in the foreground."""
import argparse
import asyncio
import errno
import ipaddress
import json
import logging
import os
import signal
import sys

from . import CIK, ArgumentParser, CommandError, int_between, positive_seconds, run_command


def register(subparsers):
    parser = subparsers.add_parser(
        "serve", help="run the embedded server (One Platform, Provisioning, EXP, M2X, the portal)",
        description="Serve the One Platform RPC, the CIK fountain, the HTTP Data Interface, Provisioning, EXP's "
                    "REST API and network, the M2X v2 API and the web portal (/portal/) on one port. Prints one "
                    "JSON line {url, root_cik, root_rid, db, pid} once listening.")
    # defaults that live in the server are filled in by run(): registering
    # this command must not import the server (aiohttp) for every other command
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int_between(0, 65535), default=8080,
                        help="8080 by default, where the other subcommands look; 0 picks a free port")
    parser.add_argument("--db", help="SQLite database file, ':memory:' for none "
                                     "(default: $XDG_DATA_HOME/pyonep_fast/server.db, or under ~/.local/share)")
    parser.add_argument("--null", action="store_true", help="acknowledge every call without storing anything")
    parser.add_argument("--root-cik", type=root_cik, help="fix the root client's CIK (40 hex characters)")
    parser.add_argument("--max-body", type=int_between(1, 1 << 40), help="largest request body in bytes")
    parser.add_argument("--body-timeout", type=positive_seconds, help="seconds a request body may take to arrive "
                                                                        "(default 30)")
    parser.add_argument("--header-timeout", type=positive_seconds,
                        help="seconds a connection may go without a complete request head, idle keep-alive "
                             "included (default 30)")
    parser.add_argument("--max-connections", type=int_between(1, 1 << 24),
                        help="connections open at once; more are answered 503 (default 10000, held under the "
                             "file descriptor limit)")
    parser.add_argument("--points-per-read", type=int_between(1, 1 << 62),
                        help="points one read may return (default 1000000)")
    parser.add_argument("--response-bytes", type=int_between(1, 1 << 40),
                        help="bytes of results one response may carry (default 64 MiB)")
    parser.add_argument("--requests-per-connection", type=int_between(1, 1 << 31), default=None,
                        help="answer the Nth request of a connection with 'Connection: close'")
    parser.add_argument("--no-exp-fixtures", dest="exp_fixtures", action="store_false",
                        help="EXP: seed no test accounts and content into a new database, and close the fixture "
                             "endpoint (they are on by default: known passwords, for tests and local sandboxes)")
    parser.add_argument("--exp-token-lifetime", type=float, default=3600.0,
                        help="EXP: seconds an auth token lives (default: %(default)s)")
    parser.add_argument("--synchronous", choices=("normal", "full"), default="normal",
                        help="SQLite synchronous level: normal survives kill -9, full also power loss")
    parser.add_argument("--ingest-progress", metavar="PATH", action="append", default=[],
                        help="show the progress of the bulk ingest whose --checkpoint file this is on the portal's "
                             "server-activity page (to the users its target's API lets read that target); a "
                             "directory: every checkpoint in it, new ones included. Repeatable")
    parser.set_defaults(func=run)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def root_cik(text):
    if not CIK.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a CIK (40 hexadecimal characters)")
    return text.lower()


def run(args):
    import sqlite3

    from ..server import Limits, Store, default_db_path, new_event_loop, serve

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args.db = args.db or default_db_path()
    if args.db != ":memory:":
        directory = os.path.dirname(os.path.abspath(args.db))
        if not os.path.isdir(directory):
            if args.db != default_db_path():
                raise CommandError(f"cannot open the database {args.db}: no directory {directory}")
            os.makedirs(directory, exist_ok=True)
    try:
        store = Store(args.db, synchronous=args.synchronous)
    except sqlite3.Error as exc:
        raise CommandError(f"cannot open the database {args.db}: {exc}") from None
    if args.root_cik:
        store.onep.set_root_cik(args.root_cik)
        store.commit()

    def started(url):
        if args.exp_fixtures and not is_loopback(args.host):   # only once it really listens there
            logging.getLogger("pyonep_fast.serve").warning(
                "EXP fixtures are on while listening on %s: anyone reaching it can log in with the published "
                "test credentials and create organizations; pass --no-exp-fixtures", args.host)
        line = {"url": url, "root_cik": store.onep.root.cik, "root_rid": store.onep.root.rid, "db": args.db,
                "pid": os.getpid()}
        print(json.dumps(line), flush=True)

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        limits = Limits().with_options(
            max_body=args.max_body, body_timeout=args.body_timeout, header_timeout=args.header_timeout,
            max_connections=args.max_connections, points_per_read=args.points_per_read,
            response_bytes=args.response_bytes)
        await serve(store, args.host, args.port, started, stop, null=args.null, limits=limits,
                    requests_per_connection=args.requests_per_connection,
                    exp_fixtures=args.exp_fixtures, exp_token_lifetime=args.exp_token_lifetime,
                    ingest_checkpoints=args.ingest_progress)

    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(main())
    except OSError as exc:   # address in use, a host that does not resolve or is not ours
        reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "the address is already in use (another server there? --port 0 picks a free port)"
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    finally:
        store.close()
    return 0


def main(argv=None):
    """`python -m pyonep_fast.cli.serve [options]`: this command alone, without
    importing the other subcommands (spawn() starts servers this way)."""
    parser = ArgumentParser(prog="pyonep-fast")
    register(parser.add_subparsers(dest="command", required=True))
    return run_command(parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
