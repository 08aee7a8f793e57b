"""`pyonep-fast` command line: one subcommand module per task.

Each module in COMMANDS defines `register(subparsers)`, which adds its
subcommand(s) with `set_defaults(func=...)`; func(args) returns the exit code.

`main` owns how every command ends: a mistake or a refusal is one line on
stderr (`pyonep-fast COMMAND: what was wrong`) and exit status 1 (2 for a
command line that cannot be used, 130 after Ctrl-C, 141 when stdout is
closed under us, as by `| head`); `--debug` adds the traceback.
"""
import argparse
import importlib
import os
import re
import signal
import sys
import traceback

from .. import __version__
from ..exceptions import HTTPError, OnePlatformException, ProvisionException, TransportError

# Nothing here imports the transport: `python -m pyonep_fast.cli.loadtest`
# imports this package first, and gevent must patch the stdlib before it.

COMMANDS = ("serve", "demo", "rpc", "provision", "ingest", "m2x", "loadtest")
DEFAULT_TIMEOUT = 30.0   # seconds per request of a client command

CIK = re.compile(r"[0-9a-fA-F]{40}")

#: Exit statuses besides 0 and 1.
USAGE, INTERRUPTED, CLOSED_PIPE = 2, 128 + signal.SIGINT, 128 + signal.SIGPIPE


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with a mistake said in one line (usage: --help)."""

    def error(self, message):
        self.exit(USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


class CommandError(Exception):
    """What to tell the user in one line; `status` is the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def add_url_option(parser):
    """The server options every client subcommand shares: --url, --timeout."""
    from ..compat import DEFAULT_URL, URL_ENV

    parser.add_argument("--url", default=None,
                        help=f"server base URL (default: ${URL_ENV}, else {DEFAULT_URL})")
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT,
                        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT:g})")


def positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value


def int_between(low, high):
    """An argparse type: a whole number from low to high."""
    def parse(text):
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number from {low:,} to {high:,}")
        return value
    return parse


def cik(text):
    """An argparse type: a CIK (40 hexadecimal characters)."""
    if not CIK.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a CIK (40 hexadecimal characters)")
    return text.lower()


def url_of(args):
    """The server URL of a client command (CommandError if it cannot be used)."""
    from ..compat import server_url

    try:
        return server_url(args.url)
    except ValueError as exc:
        raise CommandError(str(exc), USAGE) from None


def onep_client(args):
    """An OnepV1 for the command's --url and --timeout."""
    from ..onep import OnepV1

    client = OnepV1.from_url(url_of(args))
    client.httptimeout = args.timeout
    client.onephttp.timeout = args.timeout
    return client


def build_parser():
    parser = ArgumentParser(prog="pyonep-fast", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pyonep-fast {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue  # that subcommand is not part of this build
        module.register(subparsers)
    _add_debug(parser)
    return parser


def _add_debug(parser):
    """--debug on the command line parser and each (sub)command's."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _add_debug(sub)


def describe(exc):
    """An exception as one line of words."""
    if isinstance(exc, OnePlatformException):
        return platform_message(exc)
    if isinstance(exc, ProvisionException):
        response = exc.response
        body = (response.body or "").strip()
        reason = f"{response.status()} {response.reason()}"
        return reason if not body or reason in body else f"{reason}: {body}"
    if isinstance(exc, HTTPError):   # M2X's errors
        from ..m2x.errors import message

        return message(exc)
    if isinstance(exc, TransportError):
        return transport_message(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, (CommandError, ValueError, OSError)):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc} (--debug shows where)"


#: What a platform error code means, in words (spec/onep-rpc.md §4.8).
PLATFORM_CODES = {
    400: "the request was refused as malformed",
    401: "the CIK is not valid or not activated",
    403: "this CIK is not allowed to do that",
    413: "the request is too large",
    429: "too many requests: try again later",
    500: "the server failed",
}


def platform_message(exc):
    code = exc.code
    if code in PLATFORM_CODES:
        return f"{code}: {PLATFORM_CODES[code]}"
    error = exc.error if isinstance(exc.error, dict) else {}
    words = error.get("message") or str(exc)
    return f"{code}: {words}" if code is not None else words


def transport_message(exc):
    """'cannot reach ...' with the innermost reason (refused, not found, timed out)."""
    cause = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__
    text = str(exc).removeprefix("Failed to make http request: ")
    name = type(cause).__name__
    if isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
        reason = "connection refused (is `pyonep-fast serve` running there?)"
    elif "NameResolution" in name or "resolve" in text:
        reason = "host not found"
    elif isinstance(cause, TimeoutError) or "timed out" in text.lower() or "Timeout" in name:
        reason = "no answer in time (--timeout)"
    else:
        return text
    return f"cannot reach the server: {reason}"


def main(argv=None):
    try:
        parser = build_parser()
    except ImportError as exc:  # e.g. PYONEP_FAST_IMPL names no backend, or the C core is not built
        print(f"pyonep-fast: cannot start: {exc}", file=sys.stderr)
        return USAGE
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return USAGE
    return run_command(args)


def run_command(args):
    """args.func(args), ended as the module docstring says."""
    name = f"pyonep-fast {args.command}"
    debug = getattr(args, "debug", False) or bool(os.environ.get("PYONEP_FAST_DEBUG"))
    try:
        status = args.func(args)
        sys.stdout.flush()   # a closed pipe shows here, not in Python's own flush at exit
        return status
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except ImportError as exc:  # PYONEP_FAST_IMPL names no backend, the C core is not built, an extra is missing
        if debug:
            traceback.print_exc()
        print(f"{name}: cannot start: {exc}", file=sys.stderr)
        return USAGE
    except BrokenPipeError:
        # the reader went away (`| head`): nothing more to say to it, and
        # Python must not complain while flushing stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_PIPE
    except Exception as exc:  # every failure ends in one line; --debug shows where it came from
        if debug:
            traceback.print_exc()
        print(f"{name}: {describe(exc)}", file=sys.stderr)
        return exc.status if isinstance(exc, CommandError) else 1


if __name__ == "__main__":
    sys.exit(main())
