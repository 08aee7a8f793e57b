"""`pyonep-fast serve`: run the embedded server in the foreground."""
import argparse
import asyncio
import ipaddress
import json
import logging
import os
import signal
import sys

from ..server import BODY_TIMEOUT, DEFAULT_MAX_BODY, Store, default_db_path, new_event_loop, serve


def register(subparsers):
    parser = subparsers.add_parser(
        "serve", help="run the embedded One Platform server",
        description="Serve the One Platform RPC, the CIK fountain and the HTTP Data Interface. Prints one JSON "
                    "line {url, root_cik, root_rid, db, pid} once listening.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080,
                        help="8080 by default, where the other subcommands look; 0 picks a free port")
    parser.add_argument("--db", default=default_db_path(),
                        help="SQLite database file, ':memory:' for none (default: %(default)s)")
    parser.add_argument("--null", action="store_true", help="acknowledge every call without storing anything")
    parser.add_argument("--root-cik", help="fix the root client's CIK (40 hex characters)")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, help="largest request body in bytes")
    parser.add_argument("--body-timeout", type=float, default=BODY_TIMEOUT,
                        help="seconds a request body may take to arrive")
    parser.add_argument("--requests-per-connection", type=int, default=None,
                        help="answer the Nth request of a connection with 'Connection: close'")
    parser.add_argument("--no-exp-fixtures", dest="exp_fixtures", action="store_false",
                        help="EXP: seed no test accounts and content into a new database, and close the fixture "
                             "endpoint (they are on by default: known passwords, for tests and local sandboxes)")
    parser.add_argument("--exp-token-lifetime", type=float, default=3600.0,
                        help="EXP: seconds an auth token lives (default: %(default)s)")
    parser.add_argument("--synchronous", choices=("normal", "full"), default="normal",
                        help="SQLite synchronous level: normal survives kill -9, full also power loss")
    parser.set_defaults(func=run)


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def run(args):
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.exp_fixtures and not is_loopback(args.host):
        logging.getLogger("pyonep_fast.serve").warning(
            "EXP fixtures are on while listening on %s: anyone reaching it can log in with the published test "
            "credentials and create organizations; pass --no-exp-fixtures", args.host)
    store = Store(args.db, synchronous=args.synchronous)
    if args.root_cik:
        store.onep.set_root_cik(args.root_cik)
        store.commit()

    def started(url):
        line = {"url": url, "root_cik": store.onep.root.cik, "root_rid": store.onep.root.rid, "db": args.db,
                "pid": os.getpid()}
        print(json.dumps(line), flush=True)

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(store, args.host, args.port, started, stop, null=args.null, max_body=args.max_body,
                    body_timeout=args.body_timeout, requests_per_connection=args.requests_per_connection,
                    exp_fixtures=args.exp_fixtures, exp_token_lifetime=args.exp_token_lifetime)

    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(main())
    finally:
        store.close()
    return 0


def main(argv=None):
    """`python -m pyonep_fast.cli.serve [options]`: this command alone, without
    importing the other subcommands (spawn() starts servers this way)."""
    parser = argparse.ArgumentParser(prog="pyonep-fast")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
