"""`pyonep-fast read|write|record|info|tree`: One Platform RPC from the shell,
in the style of exoline.

    pyonep-fast read CIK temp --start -1d --limit 100 --sort asc
    pyonep-fast write CIK temp 21.5
    printf '1500000000,1\\n1500000060,2\\n' | pyonep-fast record CIK temp
    pyonep-fast info CIK temp --json
    pyonep-fast tree CIK

RES is an alias of the CIK's client or a 40-hex RID. Times are `now`,
relative to now (`-30s`, `-30m`, `-2h`, `-1d`, `-1w`), Unix seconds, or ISO
8601 (UTC unless an offset is given). The server is --url, else
$PYONEP_FAST_URL, else http://127.0.0.1:8080 (start one with
`pyonep-fast serve`, which listens there by default). An RPC error prints a message on stderr and
exits with status 1.
"""
import csv
import datetime
import json
import re
import sys
import time

from ..exceptions import PyonepFastError
from ..onep import OnepV1
from . import add_url_option

RECORD_CHUNK = 10000  # entries per recordbatch call
TYPES = ["client", "dataport", "datarule", "dispatch"]

_RID = re.compile(r"[0-9a-f]{40}")
_RELATIVE = re.compile(r"-(\d+)([smhdw])")
_RELATIVE_OR_NUMBER = re.compile(r"^-\d+[smhdw]?$|^-\d*\.\d+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class CommandError(Exception):
    """A failure to report on stderr with exit status 1."""


def parse_time(text, now=None):
    """Unix seconds for `now`, `-2h`-style offsets, Unix seconds or ISO 8601."""
    now = int(time.time()) if now is None else now
    text = text.strip()
    if text == "now":
        return now
    match = _RELATIVE.fullmatch(text)
    if match:
        return now - int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"cannot read time {text!r}: use now, -30m/-2h/-1d/-1w, "
                           "Unix seconds or ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def resource(text):
    """A RID as is, anything else as an alias ('' is the client itself)."""
    return text if _RID.fullmatch(text) else {"alias": text}


def client(url):
    """An OnepV1 aimed at url (scheme://host:port)."""
    from urllib3.util import parse_url

    parsed = parse_url(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise CommandError(f"unsupported server URL {url!r}")
    https = parsed.scheme == "https"
    return OnepV1(host=parsed.host, port=parsed.port or (443 if https else 80), https=https)


def _checked(what, answer):
    isok, value = answer
    if not isok:
        raise CommandError(f"{what} failed: {value}")
    return value


def _format_time(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()


def _value_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def cmd_read(args, out):
    options = {"limit": args.limit, "sort": args.sort}
    if args.start is not None:
        options["starttime"] = parse_time(args.start)
    if args.end is not None:
        options["endtime"] = parse_time(args.end)
    with client(args.url) as onep:
        points = _checked("read", onep.read(args.cik, resource(args.resource), options))
    if args.json:
        out.write(json.dumps(points) + "\n")
        return
    writer = csv.writer(out, lineterminator="\n")
    for timestamp, value in points:
        writer.writerow([timestamp if args.timeformat == "unix" else _format_time(timestamp),
                         _value_text(value)])


def cmd_write(args, out):
    with client(args.url) as onep:
        _checked("write", onep.write(args.cik, resource(args.resource), args.value, {}))


def _entries(rows, source):
    """[[t, value], ...] from [timestamp, value] rows; values stay text (the
    server converts them to the dataport's format)."""
    now = int(time.time())
    entries = []
    for number, row in enumerate(rows, 1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != 2:
            raise CommandError(f"{source} line {number}: expected timestamp,value, got {row!r}")
        entries.append([parse_time(row[0], now), row[1]])
    return entries


def cmd_record(args, out):
    if args.value:  # T,V: the value is everything after the first comma
        entries = _entries((text.split(",", 1) for text in args.value), "--value")
    else:
        entries = _entries(csv.reader(sys.stdin), "stdin")
    if not entries:
        raise CommandError("no entries to record (give timestamp,value lines on stdin or --value)")
    target = resource(args.resource)
    with client(args.url) as onep:
        for first in range(0, len(entries), RECORD_CHUNK):
            onep.recordbatch(args.cik, target, entries[first:first + RECORD_CHUNK], defer=True)
        failures = [value for _, isok, value in onep.send_deferred(args.cik) if not isok]
    if failures:
        raise CommandError("record failed: " + "; ".join(map(str, failures)))
    if args.verbose:
        out.write(f"recorded {len(entries)} points\n")


def cmd_info(args, out):
    with client(args.url) as onep:
        info = _checked("info", onep.info(args.cik, resource(args.resource), {}))
    out.write((json.dumps(info) if args.json else json.dumps(info, indent=2, sort_keys=True)) + "\n")


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


def cmd_tree(args, out):
    with client(args.url) as onep:
        tree = _subtree(onep, args.cik)
    if args.json:
        out.write(json.dumps(tree) + "\n")
    else:
        _print_tree(tree, out)


def _run(command):
    def run(args, out=None):
        try:
            command(args, out or sys.stdout)
        except (CommandError, PyonepFastError) as exc:
            print(f"pyonep-fast {args.command}: {exc}", file=sys.stderr)
            return 1
        return 0
    return run


def register(subparsers):
    def add(name, help, func):
        parser = subparsers.add_parser(name, help=help, description=help)
        # `--start -1d`: let relative times pass as values, as negative numbers do
        parser._negative_number_matcher = _RELATIVE_OR_NUMBER
        add_url_option(parser)
        parser.add_argument("cik", metavar="CIK")
        parser.set_defaults(func=_run(func))
        return parser

    read = add("read", "read points of a dataport", cmd_read)
    read.add_argument("resource", metavar="RES", help="alias or RID")
    read.add_argument("--start", help="oldest time (default: 0)")
    read.add_argument("--end", help="newest time (default: now)")
    read.add_argument("--limit", type=int, default=1, help="most points to return (default: 1)")
    read.add_argument("--sort", choices=("asc", "desc"), default="desc")
    read.add_argument("--timeformat", choices=("iso", "unix"), default="iso",
                      help="timestamps as ISO 8601 UTC (default) or Unix seconds")
    read.add_argument("--json", action="store_true", help="print the result as JSON")

    write = add("write", "write one value (stamped now by the server)", cmd_write)
    write.add_argument("resource", metavar="RES", help="alias or RID")
    write.add_argument("value", metavar="VALUE")

    record = add("record", "record timestamped values (timestamp,value CSV lines on stdin)",
                 cmd_record)
    record.add_argument("resource", metavar="RES", help="alias or RID")
    record.add_argument("--value", action="append", metavar="T,V",
                        help="one timestamp,value entry instead of stdin (repeatable)")
    record.add_argument("-v", "--verbose", action="store_true", help="print how many were recorded")

    info = add("info", "show everything info returns about a resource", cmd_info)
    info.add_argument("resource", metavar="RES", help="alias or RID ('' for the client itself)")
    info.add_argument("--json", action="store_true", help="print compact JSON")

    tree = add("tree", "show the client's resources recursively", cmd_tree)
    tree.add_argument("--json", action="store_true", help="print the tree as JSON")
