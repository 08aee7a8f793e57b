"""`pyonep-fast m2x …`: everyday AT&T M2X v2 reads and writes from the shell.

    pyonep-fast m2x --key KEY devices create thermostat --tags home,heat
    pyonep-fast m2x --key KEY streams create DEVICE temperature --unit-label Celsius --unit-symbol C
    pyonep-fast m2x --key KEY values post DEVICE temperature 21.5
    printf '2020-01-01T00:00:00Z,1\\n-1h,2\\n' | pyonep-fast m2x --key KEY values post DEVICE temperature -
    pyonep-fast m2x --key KEY values read DEVICE temperature --start -1d --limit all
    pyonep-fast m2x --key KEY stats DEVICE temperature --start -1w
    pyonep-fast m2x --key KEY sampling DEVICE temperature --interval 3600 --type max

The key is --key, else $PYONEP_FAST_M2X_KEY. Times are M2X's ISO 8601
(UTC unless an offset or --tz is given; milliseconds kept), `now`, relative
to now (`-30s`, `-30m`, `-2h`, `-1d`, `-1w`) or Unix seconds; times are
printed as the server writes them. The server is --url, else
$PYONEP_FAST_URL, else http://127.0.0.1:8080. An error is one line on
stderr with M2X's own message (exit status 1).
"""
import argparse
import csv
import itertools
import json
import math
import os
import re
import sys
import time

from ..ingest.rules import iso_ms, parse_command_ms
from . import USAGE, CommandError, add_url_option, int_between, positive_seconds, url_of

KEY_ENV = "PYONEP_FAST_M2X_KEY"
READ_PAGE = 10_000       # the most values one M2X read returns: what `values read` holds in memory
POST_CHUNK = 100_000     # lines of stdin posted at a time (the client splits them within the server's limits)
PERMISSIONS = ("GET", "POST", "PUT", "DELETE")

_RELATIVE_OR_NUMBER = re.compile(r"^-\d+[smhdw]?$|^-\d*\.\d+$")


def m2x_time(text, tz=None, now_ms=None):
    """A command's time as M2X takes it (CommandError if it is none)."""
    try:
        return iso_ms(parse_command_ms(text, tz=tz, now_ms=now_ms))
    except (ValueError, OverflowError, OSError) as exc:
        raise CommandError(str(exc), USAGE) from None


def value_of(text):
    """A value as typed: a finite number is sent as a number, anything else as text."""
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def client_of(args):
    from ..m2x.client import M2XClient

    key = args.key or os.environ.get(KEY_ENV)
    if not key:
        raise CommandError(f"give --key (or set {KEY_ENV})", USAGE)
    return M2XClient(key, endpoint=url_of(args), timeout=args.timeout)


def show(args, result):
    """A JSON answer: indented, or compact with --json."""
    sys.stdout.write((json.dumps(result) if args.json else json.dumps(result, indent=2, sort_keys=True)) + "\n")


def _range(args, now_ms):
    params = {}
    for name in ("start", "end"):
        text = getattr(args, name, None)
        if text is not None:
            params[name] = m2x_time(text, args.tz, now_ms)
    return params


def stream_path(args):
    return f"devices/{args.device}/streams/{args.stream}"


# --- devices ----------------------------------------------------------------------
def devices_list(args, m2x):
    params = {name: value for name, value in (("q", args.q), ("tags", args.tags), ("limit", args.limit),
                                              ("page", args.page)) if value is not None}
    page = m2x.api.get("devices", params=params)
    if args.json:
        return show(args, page)
    for device in page.get("devices", []):
        sys.stdout.write(f"{device['id']}  {device.get('name')}  {device.get('visibility')}  "
                         f"{device.get('status')}\n")


def devices_create(args, m2x):
    attrs = {"name": args.name, "visibility": args.visibility}
    attrs.update({name: value for name, value in (("description", args.description), ("tags", args.tags),
                                                  ("serial", args.serial)) if value is not None})
    device = m2x.api.post("devices", data=attrs)
    if args.json:
        return show(args, device)
    sys.stdout.write(f"{device['id']}\n")


def devices_get(args, m2x):
    show(args, m2x.api.get(f"devices/{args.device}"))


def devices_delete(args, m2x):
    m2x.api.delete(f"devices/{args.device}")


# --- streams ----------------------------------------------------------------------
def streams_list(args, m2x):
    answer = m2x.api.get(f"devices/{args.device}/streams")
    if args.json:
        return show(args, answer)
    for stream in answer.get("streams", []):
        unit = (stream.get("unit") or {}).get("symbol")
        sys.stdout.write(f"{stream['name']}  {stream.get('type')}  {stream.get('value')}"
                         f"{' ' + unit if unit else ''}  {stream.get('latest_value_at')}\n")


def streams_create(args, m2x):
    body = {name: value for name, value in (("type", args.type), ("display_name", args.display_name))
            if value is not None}
    if args.unit_label is not None or args.unit_symbol is not None:
        body["unit"] = {"label": args.unit_label, "symbol": args.unit_symbol}
    show(args, m2x.api.put(stream_path(args), data=body))


def streams_get(args, m2x):
    show(args, m2x.api.get(stream_path(args)))


# --- values -----------------------------------------------------------------------
def values_post(args, m2x):
    if args.value != "-":
        body = {"value": value_of(args.value)}
        if args.time is not None:
            body["timestamp"] = m2x_time(args.time, args.tz)
        m2x.api.put(f"{stream_path(args)}/value", data=body)
        return
    if args.time is not None:
        raise CommandError("--time is for one VALUE; lines on stdin carry their own times", USAGE)
    now_ms = int(time.time() * 1000)
    rows = enumerate(csv.reader(sys.stdin), 1)
    posted = 0
    while True:
        block = list(itertools.islice(rows, POST_CHUNK))
        if not block:
            break
        posted += _post_block(args, m2x, block, now_ms, posted)
    if not posted:
        raise CommandError("no values to post (give timestamp,value lines on stdin)")
    if args.verbose:
        sys.stdout.write(f"posted {posted} values\n")


def _post_block(args, m2x, block, now_ms, before):
    """Posts timestamp,value rows as one value list (C-encoded, split within
    the server's limits); how many were posted."""
    import numpy as np

    from ..m2x import values

    stamps, texts = [], []
    for number, row in block:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != 2:
            raise CommandError(f"stdin line {number}: expected timestamp,value, got {','.join(row)!r}")
        try:
            stamps.append(parse_command_ms(row[0], tz=args.tz, now_ms=now_ms))
        except ValueError as exc:
            raise CommandError(f"stdin line {number}: {exc}") from None
        texts.append(row[1])
    if not stamps:
        return 0
    typed = [value_of(text) for text in texts]
    numeric = all(isinstance(value, float) for value in typed)
    column = np.array(typed, dtype=np.float64) if numeric else np.array(texts)
    try:
        values.post_values(m2x.api, f"{stream_path(args)}/values",
                           (np.array(stamps, dtype="datetime64[ms]"), column))
    except values.ValuesNotAccepted as exc:
        first = exc.not_accepted.start + before
        raise CommandError(f"values from line {first + 1} on were not stored ({before + exc.accepted.stop} were): "
                           f"{_error_text(exc)}") from None
    return len(stamps)


def _error_text(exc):
    from ..m2x.errors import message

    return message(exc.__cause__ or exc)


def _interval(text):
    """--interval: a positive number, sent as typed."""
    positive_seconds(text)
    return text


def _limit(text):
    if text == "all":
        return None
    return int_between(0, 10 ** 12)(text)


def values_read(args, m2x):
    """Newest first (M2X's order), a page at a time: large reads stream."""
    now_ms = int(time.time() * 1000)
    params = _range(args, now_ms)
    left = args.limit
    writer = csv.writer(sys.stdout, lineterminator="\n")
    first = True
    while left is None or left > 0:
        page = READ_PAGE if left is None else min(left, READ_PAGE)
        values = m2x.api.get(f"{stream_path(args)}/values", params={**params, "limit": page}).get("values") or []
        if args.json:
            if values:   # "[" only once there is an answer: a refused read prints nothing
                sys.stdout.write(("[" if first else ",") + json.dumps(values)[1:-1])
                first = False
        else:
            writer.writerows([v["timestamp"], v["value"]] for v in values)
        sys.stdout.flush()
        if len(values) < page:
            break
        if left is not None:
            left -= len(values)
        params["end"] = iso_ms(parse_command_ms(values[-1]["timestamp"]) - 1)
    if args.json:
        sys.stdout.write("[]\n" if first else "]\n")


def stats(args, m2x):
    show(args, m2x.api.get(f"{stream_path(args)}/stats", params=_range(args, int(time.time() * 1000))))


def sampling(args, m2x):
    params = {**_range(args, int(time.time() * 1000)), "interval": args.interval, "type": args.type}
    if args.limit is not None:
        params["limit"] = args.limit
    answer = m2x.api.get(f"{stream_path(args)}/sampling", params=params)
    if args.json:
        return show(args, answer)
    csv.writer(sys.stdout, lineterminator="\n").writerows([v["timestamp"], v["value"]]
                                                          for v in answer.get("values", []))


# --- keys -------------------------------------------------------------------------
def keys_list(args, m2x):
    answer = m2x.api.get("keys", params={"device": args.device} if args.device else None)
    if args.json:
        return show(args, answer)
    for key in answer.get("keys", []):
        device = (key.get("device") or "").rsplit("/", 1)[-1]
        sys.stdout.write(f"{key['key']}  {key.get('name')}  {','.join(key.get('permissions') or [])}"
                         f"{'  master' if key.get('master') else '  device ' + device if device else ''}\n")


def _permissions(text):
    verbs = [verb.strip().upper() for verb in text.split(",") if verb.strip()]
    unknown = [verb for verb in verbs if verb not in PERMISSIONS]
    if unknown or not verbs:
        raise argparse.ArgumentTypeError(f"{text!r}: give some of {','.join(PERMISSIONS)}")
    return verbs


def keys_create(args, m2x):
    body = {"name": args.name, "permissions": args.permissions}
    if args.device:
        body["device"] = args.device
    if args.expires_at:
        body["expires_at"] = m2x_time(args.expires_at, args.tz)
    key = m2x.api.post("keys", data=body)
    if args.json:
        return show(args, key)
    sys.stdout.write(f"{key['key']}\n")


def keys_delete(args, m2x):
    m2x.api.delete(f"keys/{args.key_token}")


# --- the parser -------------------------------------------------------------------
def _runs(action):
    def run(args):
        m2x = client_of(args)
        try:
            action(args, m2x)
        finally:
            m2x.api.close()
        return 0
    return run


def register(subparsers):
    parser = subparsers.add_parser("m2x", help="M2X v2: devices, streams, values, stats, sampling, keys",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_url_option(parser)
    parser.add_argument("--key", help=f"M2X API key (default: ${KEY_ENV})")
    parser.set_defaults(func=lambda args: parser.print_help() or USAGE)
    groups = parser.add_subparsers(dest="group", metavar="GROUP")

    def group(name, help):
        sub = groups.add_parser(name, help=help, description=help)
        sub.set_defaults(func=lambda args: sub.print_help() or USAGE)
        return sub.add_subparsers(dest="action", metavar="ACTION")

    def command(actions, name, help, action, json_option=True):
        sub = actions.add_parser(name, help=help, description=help)
        sub._negative_number_matcher = _RELATIVE_OR_NUMBER   # `--start -1d` is a value, as -1 is
        if json_option:
            sub.add_argument("--json", action="store_true", help="print compact JSON")
        sub.set_defaults(func=_runs(action))
        return sub

    def add_range(sub):
        sub.add_argument("--start", help="oldest time: ISO 8601, now, -30s/-2h/-1d/-1w or Unix seconds")
        sub.add_argument("--end", help="newest time, the same ways (default: now)")
        sub.add_argument("--tz", help="time zone of ISO 8601 times without an offset (default UTC)")

    devices = group("devices", "list, create, show, delete devices")
    sub = command(devices, "list", "your devices: ID  NAME  VISIBILITY  STATUS", devices_list)
    sub.add_argument("--q", help="only names or descriptions containing this")
    sub.add_argument("--tags", help="only devices with these tags (comma-separated)")
    sub.add_argument("--page", type=int_between(1, 10 ** 9))
    sub.add_argument("--limit", type=int_between(1, 10 ** 6), help="devices per page (server default 100)")
    sub = command(devices, "create", "create a device; prints its id", devices_create)
    sub.add_argument("name")
    sub.add_argument("--visibility", choices=("private", "public"), default="private")
    sub.add_argument("--description")
    sub.add_argument("--tags", help="comma-separated")
    sub.add_argument("--serial")
    sub = command(devices, "get", "a device as JSON", devices_get)
    sub.add_argument("device", metavar="DEVICE")
    sub = command(devices, "delete", "delete a device, its streams and values", devices_delete, json_option=False)
    sub.add_argument("device", metavar="DEVICE")

    streams = group("streams", "list, create or update, show streams")
    sub = command(streams, "list", "a device's streams: NAME  TYPE  VALUE [UNIT]  LATEST", streams_list)
    sub.add_argument("device", metavar="DEVICE")
    sub = command(streams, "create", "create a stream, or update it (type, unit, display name)", streams_create)
    sub.add_argument("device", metavar="DEVICE")
    sub.add_argument("stream", metavar="STREAM")
    sub.add_argument("--type", choices=("numeric", "alphanumeric"))
    sub.add_argument("--unit-label")
    sub.add_argument("--unit-symbol")
    sub.add_argument("--display-name")
    sub = command(streams, "get", "a stream as JSON (latest value included)", streams_get)
    sub.add_argument("device", metavar="DEVICE")
    sub.add_argument("stream", metavar="STREAM")

    values = group("values", "post and read a stream's values")
    sub = command(values, "post", "post one VALUE (stamped now, or --time), or timestamp,value lines from stdin "
                                  "(VALUE -)", values_post, json_option=False)
    sub.add_argument("device", metavar="DEVICE")
    sub.add_argument("stream", metavar="STREAM")
    sub.add_argument("value", metavar="VALUE", help="a number or text; - reads timestamp,value lines on stdin")
    sub.add_argument("--time", help="the value's time (default: the server's now)")
    sub.add_argument("--tz", help="time zone of ISO 8601 times without an offset (default UTC)")
    sub.add_argument("-v", "--verbose", action="store_true", help="print how many were posted")
    sub = command(values, "read", "a stream's values as timestamp,value lines, newest first "
                                  "(streamed, a page at a time)", values_read)
    sub.add_argument("device", metavar="DEVICE")
    sub.add_argument("stream", metavar="STREAM")
    add_range(sub)
    sub.add_argument("--limit", type=_limit, default=100, help="most values to print, or 'all' (default 100)")

    sub = command(groups, "stats", "count, min, max, avg, stddev of a stream's values", stats)
    sub.add_argument("device", metavar="DEVICE")
    sub.add_argument("stream", metavar="STREAM")
    add_range(sub)

    sub = command(groups, "sampling", "a stream's values per interval: timestamp,value lines", sampling)
    sub.add_argument("device", metavar="DEVICE")
    sub.add_argument("stream", metavar="STREAM")
    sub.add_argument("--interval", required=True, type=_interval, help="seconds per bucket (nth: every Nth value)")
    sub.add_argument("--type", choices=("avg", "min", "max", "sum", "count", "nth"), default="avg")
    sub.add_argument("--limit", type=int_between(1, READ_PAGE), help="most buckets (server default 100)")
    add_range(sub)

    keys = group("keys", "list, create, delete API keys")
    sub = command(keys, "list", "your keys: KEY  NAME  PERMISSIONS  master|device ID", keys_list)
    sub.add_argument("--device", help="only the keys of this device")
    sub = command(keys, "create", "create a key; prints it", keys_create)
    sub.add_argument("name")
    sub.add_argument("--permissions", type=_permissions, default=list(PERMISSIONS),
                     help="comma-separated verbs (default GET,POST,PUT,DELETE)")
    sub.add_argument("--device", help="bind the key to this device")
    sub.add_argument("--expires-at", help="when it stops working: ISO 8601, now, -2h style or Unix seconds")
    sub.add_argument("--tz", help="time zone of ISO 8601 times without an offset (default UTC)")
    sub = command(keys, "delete", "delete a key", keys_delete, json_option=False)
    sub.add_argument("key_token", metavar="KEY")
