"""`pyonep-fast provision …`: fleet tasks over the Provisioning API.

    pyonep-fast provision --url URL --token T model create M <template rid>
    pyonep-fast provision --url URL --token T sn add M sn1 sn2 …   (or --file)
    pyonep-fast provision --url URL --token T sn enable M sn1 --owner <rid>
    pyonep-fast provision --url URL activate --vendor V M sn1        (prints the CIK)
    pyonep-fast provision --url URL --token T content upload M fw.bin ./fw.bin

Each command prints the response body; an API error prints
`<status> <reason>` (and what the server said) to stderr and exits 1.
"""
import argparse
import mimetypes
import os
import sys
import urllib.parse

from ..provision import CSV_CONTENT_TYPE, PROVISION_MANAGE_CONTENT, PROVISION_MANAGE_MODEL, Provision
from . import CommandError, add_url_option, url_of


def register(subparsers):
    parser = subparsers.add_parser("provision", help="models, serial numbers, activation, content",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_url_option(parser)
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--token", default=os.environ.get("PYONEP_FAST_VENDOR_TOKEN"),
                     help="vendor token (default: $PYONEP_FAST_VENDOR_TOKEN)")
    key.add_argument("--cik", help="vendor CIK, sent as X-Exosite-CIK instead of a token")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
    tasks = parser.add_subparsers(dest="task", metavar="TASK")

    model = tasks.add_parser("model", help="device models").add_subparsers(dest="action", metavar="ACTION")
    command = model.add_parser("list", help="list your models")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.model_list(k)))
    command = model.add_parser("create", help="create a model from a template client")
    command.add_argument("model")
    command.add_argument("template", help="RID of the template client (a share code with --sharecode)")
    command.add_argument("--sharecode", action="store_true", help="TEMPLATE is a share code")
    for option in ("aliases", "comments", "historical"):
        command.add_argument(f"--no{option}", action="store_true", help=f"clone devices without {option}")
    command.set_defaults(func=model_create)
    command = model.add_parser("info", help="a model's template and options")
    command.add_argument("model")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.model_info(k, a.model)))
    command = model.add_parser("delete", help="delete a model with its serial numbers and content")
    command.add_argument("model")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.model_remove(k, a.model)))

    sn = tasks.add_parser("sn", help="serial numbers").add_subparsers(dest="action", metavar="ACTION")
    command = sn.add_parser("add", help="whitelist serial numbers")
    command.add_argument("model")
    command.add_argument("sns", nargs="*", metavar="SN")
    command.add_argument("--file", help="CSV file of `sn[,extra]` lines ('-' for stdin)")
    command.set_defaults(func=sn_add)
    command = sn.add_parser("list", help="list serial numbers: sn,[status,]rid,extra")
    command.add_argument("model")
    command.add_argument("--offset", type=int, default=0)
    command.add_argument("--limit", type=int, default=1000)
    command.add_argument("--status", action="store_true", help="include each one's status")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.serialnumber_list(k, a.model, a.offset, a.limit,
                                                                                 a.status)))
    command = sn.add_parser("enable", help="create the device client; prints its RID")
    command.add_argument("model")
    command.add_argument("sn")
    command.add_argument("--owner", required=True, help="RID of the client that will own the device")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.serialnumber_enable(k, a.model, a.sn, a.owner)))
    command = sn.add_parser("info", help="status,rid,extra of one serial number")
    command.add_argument("model")
    command.add_argument("sn")
    command.add_argument("--log", action="store_true", help="show its activation log instead")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.serialnumber_info(k, a.model, a.sn, a.log)))
    command = sn.add_parser("delete", help="remove serial numbers")
    command.add_argument("model")
    command.add_argument("sns", nargs="+", metavar="SN")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.serialnumber_remove_batch(k, a.model, a.sns)))

    command = tasks.add_parser("activate", help="activate a device (no key needed); prints its CIK")
    command.add_argument("model")
    command.add_argument("sn")
    command.add_argument("--vendor", required=True, help="the model's vendor name")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.serialnumber_activate(a.model, a.sn, a.vendor),
                                             needs_key=False))

    content = tasks.add_parser("content", help="content for devices").add_subparsers(dest="action",
                                                                                   metavar="ACTION")
    command = content.add_parser("list", help="list a model's content ids")
    command.add_argument("model")
    command.set_defaults(func=lambda a: call(a, lambda p, k: p.content_list(k, a.model)))
    command = content.add_parser("upload", help="upload a file (creating the entry if needed)")
    command.add_argument("model")
    command.add_argument("id")
    command.add_argument("file")
    command.add_argument("--mime", help="MIME type (default: guessed from the file name)")
    command.add_argument("--meta", default="", help="description, used when the entry is created")
    command.add_argument("--protected", action="store_true", help="create it readable only through groups")
    command.set_defaults(func=content_upload)
    command = content.add_parser("download", help="write a content blob to a file ('-' for stdout)")
    command.add_argument("model")
    command.add_argument("id")
    command.add_argument("file")
    command.set_defaults(func=content_download)


def fail(message):
    raise CommandError(message)


def call(args, request, needs_key=True, show=True, sharecode=False):
    """Runs request(provision, key); prints the body. API and transport
    errors go up to cli.main, which says them in one line (exit 1)."""
    key = args.cik or args.token
    if needs_key and not key:
        return fail("give --token (or set PYONEP_FAST_VENDOR_TOKEN) or --cik")
    parts = urllib.parse.urlsplit(url_of(args))
    with Provision(parts.hostname, parts.port, manage_by_cik=bool(args.cik), httptimeout=args.timeout,
                   https=parts.scheme == "https", raise_api_exceptions=True,
                   manage_by_sharecode=sharecode) as provision:
        response = request(provision, key)
    if show and response.body:
        print(response.body)
    return 0


def model_create(args):
    return call(args, lambda p, k: p.model_create(k, args.model, args.template, aliases=not args.noaliases,
                                                  comments=not args.nocomments, historical=not args.nohistorical),
                sharecode=args.sharecode)


def sn_add(args):
    if args.file:
        try:
            with (sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")) as source:
                rows = source.read()
        except OSError as exc:
            return fail(str(exc))
        return call(args, lambda p, k: p._request(PROVISION_MANAGE_MODEL + args.model + "/", k, rows, "POST",
                                                  bool(args.cik), {"Content-Type": CSV_CONTENT_TYPE}))
    if not args.sns:
        return fail("give serial numbers or --file")
    return call(args, lambda p, k: p.serialnumber_add_batch(k, args.model, args.sns))


def content_upload(args):
    try:
        with open(args.file, "rb") as source:
            data = source.read()
    except OSError as exc:
        return fail(str(exc))
    mime = args.mime or mimetypes.guess_type(args.file)[0] or "application/octet-stream"

    def request(provision, key):
        if args.id not in provision.content_list(key, args.model).body.splitlines():
            provision.content_create(key, args.model, args.id, args.meta, protected=args.protected)
        return provision.content_upload(key, args.model, args.id, data, mime)
    return call(args, request)


def content_download(args):
    def request(provision, key):
        path = PROVISION_MANAGE_CONTENT + args.model + "/" + args.id
        response = provision._request(path, key, "download=true", "GET", bool(args.cik))
        data = response.response.content
        if args.file == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            with open(args.file, "wb") as target:
                target.write(data)
        return response
    return call(args, request, show=False)
