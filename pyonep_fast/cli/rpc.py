"""`pyonep-fast read|write|record|info|tree|create|map|unmap|drop|lookup|listing|share|activate`:
One Platform RPC from the shell, in the style of exoline.

    pyonep-fast create CIK dataport --alias temp --format float
    pyonep-fast write CIK temp 21.5
    printf '1500000000,1\\n1500000060,2\\n' | pyonep-fast record CIK temp
    pyonep-fast read CIK temp --start -1d --limit all --sort asc
    pyonep-fast info CIK temp --json
    pyonep-fast tree CIK

RES is an alias of the CIK's client or a 40-hex RID. Times are `now`,
relative to now (`-30s`, `-30m`, `-2h`, `-1d`, `-1w`), Unix seconds, or ISO
8601 (UTC unless an offset or --tz is given). The server is --url, else
$PYONEP_FAST_URL, else http://127.0.0.1:8080 (start one with
`pyonep-fast serve`, which listens there by default). A refused call prints
what was wrong on stderr and exits with status 1.
"""
import argparse
import csv
import datetime
import json
import re
import sys
import time

from ..ingest.rules import parse_timestamp
from ..exceptions import TransportError
from . import CommandError, add_url_option, cik, onep_client, url_of

RECORD_CHUNK = 10000  # entries per recordbatch call
READ_PAGE = 10000     # points per read call: what `read` holds in memory
TYPES = ["client", "dataport", "datarule", "dispatch"]

_RID = re.compile(r"[0-9a-f]{40}")
_RELATIVE_OR_NUMBER = re.compile(r"^-\d+[smhdw]?$|^-\d*\.\d+$")


def parse_time(text, now=None, tz=None):
    """Unix seconds for a command's time: `now`, `-2h`-style offsets, Unix
    seconds or ISO 8601 (ingest.rules.parse_timestamp, the one time parser)."""
    try:
        return parse_timestamp(text, tz=tz, now=int(time.time()) if now is None else now)
    except ValueError as exc:
        raise CommandError(str(exc), 2) from None


def resource(text):
    """A RID as is, anything else as an alias ('' is the client itself)."""
    return text if _RID.fullmatch(text) else {"alias": text}


client = onep_client


#: What a call status means (spec/onep-rpc.md §1.7), for messages.
STATUS_WORDS = {
    "invalid": "invalid argument (an alias or RID not found, or a value the dataport's format refuses)",
    "restricted": "this CIK may not act on that resource (not in its client's tree)",
    "noauth": "this CIK does not own that client",
    "inuse": "that alias is already in use under this client",
    "notfound": "not found",
    "badarg": "bad argument",
    "limit": "the client's limit for that resource type is reached",
    "locked": "the client is locked",
}


def _checked(onep, cik, what, answer, res=None):
    """The value of an (isok, value) answer; CommandError in words if not ok."""
    isok, value = answer
    if isok:
        return value
    if isinstance(res, dict) and value == "invalid" and not onep.lookup(cik, "alias", res["alias"])[0]:
        raise CommandError(f"{what}: alias {res['alias']!r} not found under this client")
    words = STATUS_WORDS.get(value, value) if isinstance(value, str) else json.dumps(value)
    raise CommandError(f"{what}: {words}")


def _format_time(timestamp):
    try:
        return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()
    except (OverflowError, ValueError, OSError, TypeError):  # beyond what datetime holds: the number as is
        return str(timestamp)


def _value_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def _limit(text):
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of points or 'all'") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the limit cannot be negative")
    return value


def _pages(onep, cik, res, start, end, limit, sort):
    """The points of a read, READ_PAGE at a time (the memory in use is one
    page whatever the limit)."""
    left = limit
    while left is None or left > 0:
        page = READ_PAGE if left is None else min(left, READ_PAGE)
        options = {"limit": page, "sort": sort, "starttime": start}
        if end is not None:
            options["endtime"] = end
        points = _checked(onep, cik, "read", onep.read(cik, res, options), res)
        if points:
            yield points
        if len(points) < page:
            return
        if left is not None:
            left -= len(points)
        if sort == "asc":
            start = points[-1][0] + 1
        else:
            end = points[-1][0] - 1
            if end < start:
                return


def cmd_read(args, out):
    start = parse_time(args.start, tz=args.tz) if args.start is not None else 0
    end = parse_time(args.end, tz=args.tz) if args.end is not None else None
    res = resource(args.resource)
    writer = csv.writer(out, lineterminator="\n")
    bar = None
    if sys.stderr.isatty() and (args.limit is None or args.limit > READ_PAGE):
        from tqdm import tqdm

        bar = tqdm(total=args.limit, unit="pt", unit_scale=True, file=sys.stderr, desc="read", leave=False)
    first = True
    with client(args) as onep:
        for points in _pages(onep, args.cik, res, start, end, args.limit, args.sort):
            if args.json:   # "[" only once there is an answer: a refused read prints nothing
                out.write(("[" if first else ",") + json.dumps(points)[1:-1])
            else:
                for timestamp, value in points:
                    writer.writerow([timestamp if args.timeformat == "unix" else _format_time(timestamp),
                                     _value_text(value)])
            first = False
            out.flush()
            if bar is not None:
                bar.update(len(points))
    if bar is not None:
        bar.close()
    if args.json:
        out.write("[]\n" if first else "]\n")


def cmd_write(args, out):
    res = resource(args.resource)
    with client(args) as onep:
        _checked(onep, args.cik, "write", onep.write(args.cik, res, args.value, {}), res)


def _entries(rows, source, tz=None):
    """[[t, value], ...] from [timestamp, value] rows; values stay text (the
    server converts them to the dataport's format)."""
    now = int(time.time())
    entries = []
    for number, row in enumerate(rows, 1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != 2:
            raise CommandError(f"{source} line {number}: expected timestamp,value, got {','.join(row)!r}")
        try:
            entries.append([parse_timestamp(row[0], tz=tz, now=now), row[1]])
        except ValueError as exc:
            raise CommandError(f"{source} line {number}: {exc}") from None
    return entries


def cmd_record(args, out):
    if args.value:  # T,V: the value is everything after the first comma
        entries = _entries((text.split(",", 1) for text in args.value), "--value", args.tz)
    else:
        entries = _entries(csv.reader(sys.stdin), "stdin", args.tz)
    if not entries:
        raise CommandError("no entries to record (give timestamp,value lines on stdin or --value)")
    target = resource(args.resource)
    with client(args) as onep:
        for first in range(0, len(entries), RECORD_CHUNK):
            onep.recordbatch(args.cik, target, entries[first:first + RECORD_CHUNK], defer=True)
        failures = [value for _, isok, value in onep.send_deferred(args.cik) if not isok]
        if failures and all(isinstance(f, list) for f in failures):
            refused = [entry for f in failures for entry in f]
            shown = ", ".join(f"t={t}" for t, _ in refused[:10]) + (" ..." if len(refused) > 10 else "")
            raise CommandError(f"record: {len(refused)} of {len(entries)} points refused as invalid for the "
                               f"dataport's format: {shown}")
        if failures:
            _checked(onep, args.cik, "record", (False, failures[0]), target)
    if args.verbose:
        out.write(f"recorded {len(entries)} points\n")


def cmd_info(args, out):
    res = resource(args.resource)
    with client(args) as onep:
        info = _checked(onep, args.cik, "info", onep.info(args.cik, res, {}), res)
    out.write((json.dumps(info) if args.json else json.dumps(info, indent=2, sort_keys=True)) + "\n")


RETENTION_HELP = "points kept: a number or 'infinity' (default)"


def cmd_create(args, out):
    desc = {"name": args.name if args.name is not None else args.alias or ""}
    if args.type == "dataport":
        desc["format"] = args.format
        desc["retention"] = {"count": args.count, "duration": args.duration}
    elif args.format != "float" or args.count != "infinity" or args.duration != "infinity":
        raise CommandError("--format and retention apply to dataports only", 2)
    with client(args) as onep:
        rid = _checked(onep, args.cik, f"create {args.type}", onep.create(args.cik, args.type, desc))
        if args.alias:
            _checked(onep, args.cik, f"map alias {args.alias!r}", onep.map(args.cik, rid, args.alias))
        key = _checked(onep, args.cik, "info", onep.info(args.cik, rid, {"key": True}))["key"] \
            if args.type == "client" else None
    out.write(f"{rid} {key}\n" if key else f"{rid}\n")


def _retention(text):
    if text == "infinity":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number or 'infinity'") from None
    if value < 1:
        raise argparse.ArgumentTypeError("give at least 1 (or 'infinity')")
    return value


def cmd_map(args, out):
    with client(args) as onep:
        _checked(onep, args.cik, f"map alias {args.alias!r}", onep.map(args.cik, args.rid, args.alias))


def cmd_unmap(args, out):
    with client(args) as onep:
        if not onep.lookup(args.cik, "alias", args.alias)[0]:
            raise CommandError(f"unmap: alias {args.alias!r} not found under this client")
        _checked(onep, args.cik, f"unmap alias {args.alias!r}", onep.unmap(args.cik, args.alias))


def cmd_drop(args, out):
    res = resource(args.resource)
    with client(args) as onep:
        _checked(onep, args.cik, "drop", onep.drop(args.cik, res), res)


def cmd_lookup(args, out):
    with client(args) as onep:
        if args.share:
            rid = _checked(onep, args.cik, "lookup share", onep.lookup(args.cik, "shared", args.share))
        else:
            res = {"alias": args.alias}
            rid = _checked(onep, args.cik, "lookup", onep.lookup(args.cik, "alias", args.alias), res)
    out.write(f"{rid}\n")


def cmd_listing(args, out):
    types = args.types.split(",")
    unknown = sorted(set(types) - set(TYPES))
    if unknown:
        raise CommandError(f"unknown type {unknown[0]!r}: give some of {','.join(TYPES)}", 2)
    with client(args) as onep:
        listing = _checked(onep, args.cik, "listing", onep.listing(args.cik, types, {"owned": True}))
    if args.json:
        out.write(json.dumps(listing) + "\n")
        return
    for kind in types:
        for rid in listing.get(kind, []):
            out.write(f"{kind} {rid}\n")


def cmd_share(args, out):
    res = resource(args.resource)
    with client(args) as onep:
        code = _checked(onep, args.cik, "share", onep.share(args.cik, res, {}), res)
    out.write(f"{code}\n")


def cmd_activate(args, out):
    with client(args) as onep:
        _checked(onep, args.cik, f"activate {args.type}", onep.activate(args.cik, args.type, args.code))


def _subtree(onep, cik):
    """{rid, type, name, cik, children: [...]} for the client of cik."""
    me = {"alias": ""}
    onep.info(cik, me, {"basic": True, "description": True, "aliases": True}, defer=True)
    onep.listing(cik, TYPES, {"owned": True}, me, defer=True)
    onep.lookup(cik, "alias", "", defer=True)
    (_, ok_info, info), (_, ok_list, listing), (_, ok_rid, rid) = onep.send_deferred(cik)
    for what, isok, value in (("info", ok_info, info), ("listing", ok_list, listing),
                              ("lookup", ok_rid, rid)):
        if not isok:
            raise CommandError(f"{what} failed: {value}")
    aliases = info.get("aliases", {})
    children = [(kind, child) for kind in TYPES for child in listing.get(kind, [])]
    for kind, child in children:
        options = {"basic": True, "description": True}
        if kind == "client":
            options["key"] = True
        onep.info(cik, child, options, defer=True)
    node = {"rid": rid, "type": "client", "name": info["description"].get("name", ""),
            "cik": cik, "children": []}
    answers = onep.send_deferred(cik) if children else []
    for (kind, child), (_, isok, child_info) in zip(children, answers):
        if not isok:
            raise CommandError(f"info of {child} failed: {child_info}")
        if kind == "client":
            entry = _subtree(onep, child_info["key"])
        else:
            entry = {"rid": child, "type": kind, "name": child_info["description"].get("name", ""),
                     "format": child_info["description"].get("format")}
        entry["aliases"] = aliases.get(child, [])
        node["children"].append(entry)
    return node


def _print_tree(node, out, prefix="", last=True, top=True):
    label = [node["name"] or "(no name)", node["type"]]
    if node.get("format"):
        label.append(node["format"])
    if node.get("aliases"):
        label.append("aliases: " + ", ".join(map(str, node["aliases"])))
    label.append(f"rid={node['rid']}")
    if "cik" in node:
        label.append(f"cik={node['cik']}")
    out.write(("" if top else prefix + ("└── " if last else "├── ")) + "  ".join(label) + "\n")
    inner = "" if top else prefix + ("    " if last else "│   ")
    children = node.get("children", [])
    for k, child in enumerate(children):
        _print_tree(child, out, inner, k == len(children) - 1, False)


def cmd_fountain(args):
    """A fresh client from the server's CIK fountain: CIK, RID, vendor, token."""
    import orjson
    import urllib3

    url = url_of(args)
    try:
        with urllib3.PoolManager(retries=False, timeout=args.timeout) as http:
            response = http.request("GET", url + "/api/create?vendor")
    except urllib3.exceptions.HTTPError as exc:
        raise TransportError(f"Failed to make http request: {exc}") from exc
    if response.status != 200:
        raise CommandError(f"the CIK fountain answered {response.status} {response.reason}")
    fresh = orjson.loads(response.data)
    if args.json:
        sys.stdout.write(json.dumps(fresh) + "\n")
    elif args.shell:
        sys.stdout.write(" ".join(f"{name.upper()}={fresh[key]}" for name, key in (
            ("cik", "cik"), ("rid", "rid"), ("vendor", "vendor"), ("token", "vendortoken"))) + "\n")
    else:
        sys.stdout.write(f"{fresh['cik']} {fresh['rid']} {fresh['vendor']} {fresh['vendortoken']}\n")
    return 0


def cmd_tree(args, out):
    with client(args) as onep:
        tree = _subtree(onep, args.cik)
    if args.json:
        out.write(json.dumps(tree) + "\n")
    else:
        _print_tree(tree, out)


def _run(command):
    def run(args):
        command(args, sys.stdout)
        return 0
    return run


def register(subparsers):
    def add(name, help, func):
        parser = subparsers.add_parser(name, help=help, description=help)
        # `--start -1d`: let relative times pass as values, as negative numbers do
        parser._negative_number_matcher = _RELATIVE_OR_NUMBER
        add_url_option(parser)
        parser.add_argument("cik", metavar="CIK", type=cik)
        parser.set_defaults(func=_run(func))
        return parser

    def add_tz(parser):
        parser.add_argument("--tz", help="time zone of ISO 8601 times without an offset (default UTC)")

    read = add("read", "read points of a dataport (streamed, a page at a time)", cmd_read)
    read.add_argument("resource", metavar="RES", help="alias or RID")
    read.add_argument("--start", help="oldest time: now, -30s/-2h/-1d/-1w, Unix seconds or ISO 8601 (default: 0)")
    read.add_argument("--end", help="newest time, the same ways (default: now)")
    read.add_argument("--limit", type=_limit, default=1, help="most points to print, or 'all' (default: 1)")
    read.add_argument("--sort", choices=("asc", "desc"), default="desc")
    read.add_argument("--timeformat", choices=("iso", "unix"), default="iso",
                      help="timestamps as ISO 8601 UTC (default) or Unix seconds")
    read.add_argument("--json", action="store_true", help="print the points as one JSON array")
    add_tz(read)

    write = add("write", "write one value (stamped now by the server)", cmd_write)
    write.add_argument("resource", metavar="RES", help="alias or RID")
    write.add_argument("value", metavar="VALUE")

    record = add("record", "record timestamped values (timestamp,value CSV lines on stdin)",
                 cmd_record)
    record.add_argument("resource", metavar="RES", help="alias or RID")
    record.add_argument("--value", action="append", metavar="T,V",
                        help="one timestamp,value entry instead of stdin (repeatable)")
    record.add_argument("-v", "--verbose", action="store_true", help="print how many were recorded")
    add_tz(record)

    info = add("info", "show everything info returns about a resource (the client itself by default)", cmd_info)
    info.add_argument("resource", metavar="RES", nargs="?", default="", help="alias or RID (default: the client)")
    info.add_argument("--json", action="store_true", help="print compact JSON")

    tree = add("tree", "show the client's resources recursively", cmd_tree)
    tree.add_argument("--json", action="store_true", help="print the tree as JSON")

    create = add("create", "create a dataport or a client; prints its RID (a client: RID and CIK)", cmd_create)
    create.add_argument("type", choices=("dataport", "client"))
    create.add_argument("--alias", help="map this alias to it")
    create.add_argument("--name", help="its name (default: the alias)")
    create.add_argument("--format", choices=("float", "integer", "string"), default="float",
                        help="a dataport's value format (default float)")
    create.add_argument("--count", type=_retention, default="infinity", help=RETENTION_HELP)
    create.add_argument("--duration", type=_retention, default="infinity",
                        help="seconds a point is kept: a number or 'infinity' (default)")

    mapping = add("map", "map an alias to a resource of the client", cmd_map)
    mapping.add_argument("rid", metavar="RID")
    mapping.add_argument("alias", metavar="ALIAS")

    unmap = add("unmap", "remove an alias", cmd_unmap)
    unmap.add_argument("alias", metavar="ALIAS")

    drop = add("drop", "delete a resource (and everything under it)", cmd_drop)
    drop.add_argument("resource", metavar="RES", help="alias or RID")

    lookup = add("lookup", "print the RID of an alias (or of a share code)", cmd_lookup)
    lookup.add_argument("alias", metavar="ALIAS", nargs="?", default="", help="alias (default: the client itself)")
    lookup.add_argument("--share", metavar="CODE", help="look up a share code instead")

    listing = add("listing", "list the client's own resources: TYPE RID lines", cmd_listing)
    listing.add_argument("--types", default=",".join(TYPES), help=f"comma-separated (default {','.join(TYPES)})")
    listing.add_argument("--json", action="store_true", help="print the listing as JSON")

    share = add("share", "share a resource; prints the share code", cmd_share)
    share.add_argument("resource", metavar="RES", help="alias or RID")

    fountain = subparsers.add_parser(
        "fountain", help="a fresh client from the embedded server's CIK fountain: CIK RID VENDOR TOKEN",
        description="A fresh, empty, activated client with a provisioning vendor (GET /api/create?vendor).")
    add_url_option(fountain)
    shape = fountain.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print it as JSON")
    shape.add_argument("--shell", action="store_true", help="print CIK=... RID=... VENDOR=... TOKEN=... for eval")
    fountain.set_defaults(func=cmd_fountain)

    activate = add("activate", "activate a share code (or a client CIK)", cmd_activate)
    activate.add_argument("code", metavar="CODE")
    activate.add_argument("--type", choices=("share", "client"), default="share")
