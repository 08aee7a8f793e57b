"""`pyonep-fast` command line: one subcommand module per task.

Each module in COMMANDS defines `register(subparsers)`, which adds its
subcommand(s) with `set_defaults(func=...)`; func(args) returns the exit code.
"""
import argparse
import importlib
import os
import sys

COMMANDS = ("serve", "demo", "rpc", "provision", "ingest", "loadtest")

#: Where `pyonep-fast serve` listens by default.
DEFAULT_URL = "http://127.0.0.1:8080"


def add_url_option(parser):
    """The server option every client subcommand shares."""
    parser.add_argument("--url", default=os.environ.get("PYONEP_FAST_URL") or DEFAULT_URL,
                        help=f"server base URL (default: $PYONEP_FAST_URL, else {DEFAULT_URL})")


def build_parser():
    parser = argparse.ArgumentParser(prog="pyonep-fast", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue  # that subcommand is not part of this build
        module.register(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
