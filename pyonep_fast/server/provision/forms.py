"""Wire formats of the Provisioning API (spec/provision.md §1.3-1.6, §2.3, §2.6).

Pure functions shared by the provisioning handlers: request body parsing
(form, CSV, JSON ranges), serial-number range matching, pagination, the
`Range` header, and the response shapes (CSV lines, bare values, 205/204,
`HTTP/1.1 <code> <reason>\\r\\n` errors).
"""
import functools
import re
from http import HTTPStatus
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

TEXT_CSV = "text/csv"
TEXT_PLAIN = "text/plain"
FORM = "application/x-www-form-urlencoded"
JSON_TYPES = ("application/javascript", "application/json")

DEFAULT_LIMIT = 5
MAX_LIMIT = 1000
MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER

# aiohttp's exception class per status; each one is raised with our error body.
_ERRORS = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    413: functools.partial(web.HTTPRequestEntityTooLarge, 0, 0),
    416: web.HTTPRequestRangeNotSatisfiable,
}


def error(status, headers=None):
    """The exception to raise for an API error: body `HTTP/1.1 <code> <reason>\\r\\n`."""
    return _ERRORS[status](text=_status_line(status), content_type=TEXT_PLAIN, headers=headers)


def body_error(status):
    """The answer to a body over the server's budgets (http.receive_body):
    413 too large, 408 too slow, 400 cut short."""
    return web.Response(status=status, text=_status_line(status), content_type=TEXT_PLAIN)


def method_not_allowed(method, allowed):
    return web.HTTPMethodNotAllowed(method, allowed, text=_status_line(405), content_type=TEXT_PLAIN)


def _status_line(status):
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"


# ---------------------------------------------------------------- requests

VAR = object()  # in a route pattern: a path segment that names something (never empty)

def media_type(content_type):
    """The media type of a Content-Type value: parameters dropped, lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def parse_form(raw):
    """Form body or query string → {name: [values]}.

    Keys and values are percent- and plus-decoded; a trailing `[]` on a key
    is dropped, so `sn[]`, `sn%5B%5D` and `sn` are one key (§1.3).
    """
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    form = {}
    for key, value in parse_qsl(raw, keep_blank_values=True, errors="replace"):
        if key.endswith("[]"):
            key = key[:-2]
        form.setdefault(key, []).append(value)
    return form


def first(form, key, default=None):
    values = form.get(key)
    return values[0] if values else default


def required(form, key):
    """The first value of a field a request cannot do without; 400 when it
    is missing or empty."""
    value = first(form, key, "")
    if not value:
        raise error(400)
    return value


def is_true(form, key):
    """A form flag: set when its (first) value is `true`, any case."""
    return first(form, key, "").lower() == "true"


def parse_csv(raw, max_fields):
    """CSV body → list of field lists; no quoting, LF or CRLF, blank lines skipped.

    A line is split into at most `max_fields` fields, so the last field keeps
    any further commas (it is free text such as `extra` or `meta`).
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
    return [line.split(",", max_fields - 1) for line in text.splitlines() if line.strip()]


def pagination(form):
    """(offset, limit) from a query: offset ≥ 0 (default 0), limit clamped to [5, 1000]."""
    try:
        offset = int(first(form, "offset", "0") or "0")
        limit = int(first(form, "limit", str(DEFAULT_LIMIT)) or str(DEFAULT_LIMIT))
    except ValueError:
        raise error(400) from None
    if not 0 <= offset <= MAX_INTEGER:
        raise error(400)
    return offset, min(max(limit, DEFAULT_LIMIT), MAX_LIMIT)


# ---------------------------------------------------------------- sn ranges

RANGE_FORMATS = {
    # format: (regex of the whole sn, hex digits?)
    "base10": (re.compile(r"[0-9]+\Z"), False),
    "base16": (re.compile(r"[0-9A-Fa-f]+\Z"), True),
    "mac:48": (re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\Z"), True),
    "mac-48": (re.compile(r"[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}\Z"), True),
    "mac.48": (re.compile(r"[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2}\Z"), True),
}
RANGE_KEYS = ("format", "length", "casing", "first", "last")
_SEPARATORS = str.maketrans("", "", ":-.")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def parse_ranges(raw):
    """`{"ranges":[...]}` or a bare array → list of range tuples in RANGE_KEYS order.

    Raises a 400 for malformed JSON or a range object that breaks §2.3.
    """
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise error(400) from None
    items = doc.get("ranges") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise error(400)
    ranges = []
    for item in items:
        if not isinstance(item, dict) or item.get("format") not in RANGE_FORMATS:
            raise error(400)
        length, casing = item.get("length"), item.get("casing")
        first_value, last_value = item.get("first"), item.get("last")
        if not (_is_int(first_value) and _is_int(last_value)) or not 0 <= first_value <= last_value <= MAX_INTEGER:
            raise error(400)
        if length is not None and not (_is_int(length) and 0 < length <= MAX_INTEGER):
            raise error(400)
        if casing not in (None, "upper", "lower"):
            raise error(400)
        ranges.append((item["format"], length, casing, first_value, last_value))
    return ranges


def range_covers(rng, sn):
    """Whether serial number `sn` lies in range `rng` (a RANGE_KEYS tuple)."""
    fmt, length, casing, low, high = rng
    pattern, hexadecimal = RANGE_FORMATS[fmt]
    if not pattern.match(sn):
        return False
    digits = sn.translate(_SEPARATORS) if fmt.startswith("mac") else sn
    if fmt in ("base10", "base16") and length is not None and len(digits) != length:
        return False
    if hexadecimal and casing == "upper" and digits != digits.upper():
        return False
    if hexadecimal and casing == "lower" and digits != digits.lower():
        return False
    return low <= int(digits, 16 if hexadecimal else 10) <= high


def range_matches(stored, wanted):
    """Whether a stored range is the one a DELETE names: format/first/last equal,
    and length/casing equal when the request gives them."""
    fmt, length, casing, low, high = wanted
    return (stored[0] == fmt and stored[3] == low and stored[4] == high
            and (length is None or stored[1] == length)
            and (casing is None or stored[2] == casing))


def ranges_json(ranges):
    """The `?show=ranges` body: a bare compact JSON array, keys in canonical order."""
    return orjson.dumps([dict(zip(RANGE_KEYS, rng)) for rng in ranges])


# ---------------------------------------------------------------- byte ranges

_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")


def byte_range(header, total):
    """The `Range` header → (start, end inclusive), or None for the whole blob.

    Malformed or unsatisfiable → 416 with `Content-Range: bytes */<total>`.
    """
    if header is None:
        return None
    match = _BYTE_RANGE.match(header.strip())
    unsatisfiable = error(416, headers={"Content-Range": f"bytes */{total}"})
    if not match or match.groups() == ("", ""):
        raise unsatisfiable
    start_text, end_text = match.groups()
    if start_text == "":  # `-Y`: the last Y bytes
        count = int(end_text)
        if count == 0 or total == 0:
            raise unsatisfiable
        return max(total - count, 0), total - 1
    start = int(start_text)
    end = total - 1 if end_text == "" else min(int(end_text), total - 1)
    if start >= total or start > end:
        raise unsatisfiable
    return start, end


# ---------------------------------------------------------------- responses

def csv_response(records, status=200):
    """Records (sequences of str) as CSV lines, `\\n` between, none at the end."""
    body = "\n".join(",".join(fields) for fields in records)
    return web.Response(status=status, text=body, content_type=TEXT_CSV, charset="utf-8")


def lines_response(values):
    """One value per line (ids, names)."""
    return web.Response(text="\n".join(values), content_type=TEXT_CSV, charset="utf-8")


def value_response(value, content_type=TEXT_PLAIN):
    """A single bare value (CIK, token, vendor name, RID), no trailing newline."""
    return web.Response(text=value, content_type=content_type, charset="utf-8")


def reset_response():
    """205 Reset Content: the normal success of a mutation."""
    return web.Response(status=205, headers={"Content-Length": "0"})


def no_content_response():
    return web.Response(status=204)
