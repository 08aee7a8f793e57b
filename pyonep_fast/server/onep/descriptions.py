"""Resource descriptions (spec 2.2): defaults, validation, partial updates.

Unknown keys are accepted and dropped; a known key with a bad value makes
the call fail with `invalid`. Resource references inside a description
(`subscribe`, preprocess operands) are resolved by the caller, which knows
the calling client; here they are only checked for shape.
"""
from ..._core.entries import INT64_MAX
from ..storage.timeseries import KIND_FLOAT, KIND_INT, KIND_STRING
from .errors import CallRefused

LIMIT_KEYS = ("client", "dataport", "datarule", "disk", "dispatch", "email", "email_bucket", "http",
              "http_bucket", "share", "sms", "sms_bucket", "xmpp", "xmpp_bucket")
ENTITY_LIMITS = ("client", "dataport", "datarule", "dispatch", "share")
COUNT_KEYS = ("client", "dataport", "datarule", "disk", "dispatch", "email", "http", "share", "sms", "xmpp")
FORMATS = {"integer": KIND_INT, "float": KIND_FLOAT, "string": KIND_STRING, "binary": KIND_STRING,
           "boolean": KIND_INT}
PREPROCESS_OPS = ("add", "sub", "mul", "div", "mod", "gt", "geq", "lt", "leq", "eq", "neq", "value")
COMPARISONS = ("gt", "lt", "eq", "geq", "leq", "neq")
RULE_FIELDS = {
    "simple": ("comparison", "constant", "repeat"),
    "timeout": ("timeout", "repeat"),
    "interval": ("comparison", "constant", "timeout", "repeat"),
    "duration": ("comparison", "constant", "timeout", "repeat"),
    "count": ("comparison", "constant", "count", "timeout", "repeat"),
}
DISPATCH_METHODS = ("email", "http_get", "http_post", "http_put", "sms", "xmpp")
TYPES = ("client", "dataport", "datarule", "dispatch")
INFINITY = "infinity"
MAX_DURATION_HOURS = INT64_MAX // 3600   # a retention reaching further back than the clock goes is invalid


def invalid():
    return CallRefused("invalid")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX


def _string(value):
    if not isinstance(value, str):
        raise invalid()
    return value


def _bool(value):
    if not isinstance(value, bool):
        raise invalid()
    return value


def _limits(value, base):
    if not isinstance(value, dict):
        raise invalid()
    limits = dict(base)
    for key in LIMIT_KEYS:
        if key in value:
            limit = value[key]
            if limit != "inherit" and not _is_count(limit):
                raise invalid()
            limits[key] = limit
    return limits


def _retention(value, base):
    if not isinstance(value, dict):
        raise invalid()
    retention = dict(base)
    if "count" in value:
        count = value["count"]
        if count != INFINITY and not _is_count(count):
            raise invalid()
        retention["count"] = count
    if "duration" in value:
        duration = value["duration"]
        if duration != INFINITY and not (_is_number(duration) and 0 <= duration <= MAX_DURATION_HOURS):
            raise invalid()
        retention["duration"] = duration
    return retention


def _reference(value):
    """A ResourceID as written in a description: RID string or alias object."""
    if isinstance(value, str) or (isinstance(value, dict) and isinstance(value.get("alias"), str)):
        return value
    raise invalid()


def _preprocess(value):
    if not isinstance(value, list):
        raise invalid()
    steps = []
    for step in value:
        if not (isinstance(step, list) and len(step) == 2 and step[0] in PREPROCESS_OPS):
            raise invalid()
        operand = step[1]
        if not _is_number(operand):
            operand = _reference(operand)
        steps.append([step[0], operand])
    return steps


def _subscribe(value):
    return None if value is None else _reference(value)


def _format(value):
    if not isinstance(value, str) or value not in FORMATS:
        raise invalid()
    return value


def _rule(value):
    if not (isinstance(value, dict) and len(value) == 1):
        raise invalid()
    (name, body), = value.items()
    if name == "script":
        return {"script": _string(body)}
    if name not in RULE_FIELDS or not isinstance(body, dict):
        raise invalid()
    rule = {}
    for field in RULE_FIELDS[name]:
        if field not in body:
            raise invalid()
        given = body[field]
        ok = (given in COMPARISONS if field == "comparison"
              else isinstance(given, bool) if field == "repeat"
              else _is_number(given))
        if not ok:
            raise invalid()
        rule[field] = given
    return {name: rule}


def _method(value):
    if value not in DISPATCH_METHODS:
        raise invalid()
    return value


CHECKS = {
    "limits": None,  # merged key by key, see _limits
    "retention": None,
    "locked": _bool,
    "public": _bool,
    "meta": _string,
    "name": _string,
    "format": _format,
    "preprocess": _preprocess,
    "subscribe": _subscribe,
    "rule": _rule,
    "message": _string,
    "method": _method,
    "recipient": _string,
    "subject": _string,
}

_INFINITE_RETENTION = {"count": INFINITY, "duration": INFINITY}
DEFAULTS = {
    "client": {"limits": dict.fromkeys(LIMIT_KEYS, 0), "locked": False, "meta": "", "name": "", "public": False},
    "dataport": {"format": None, "meta": "", "name": "", "preprocess": [], "public": False,
                 "retention": _INFINITE_RETENTION, "subscribe": None},
    "datarule": {"format": None, "meta": "", "name": "", "preprocess": [], "public": False,
                 "retention": _INFINITE_RETENTION, "rule": None, "subscribe": None},
    "dispatch": {"format": "string", "locked": False, "message": "", "meta": "", "method": None, "name": "",
                 "preprocess": [], "public": False, "recipient": None, "retention": _INFINITE_RETENTION,
                 "subject": "", "subscribe": None},
}
REQUIRED = {"client": (), "dataport": ("format",), "datarule": ("format", "rule"),
            "dispatch": ("method", "recipient")}


def _merge(kind, base, given):
    description = {key: (dict(value) if isinstance(value, dict) else value) for key, value in base.items()}
    for key in description:
        if key not in given:
            continue
        if key == "limits":
            description[key] = _limits(given[key], base[key])
        elif key == "retention":
            description[key] = _retention(given[key], base[key])
        else:
            description[key] = CHECKS[key](given[key])
    return description


def new_description(kind, given):
    """The canonical description of a new resource of this type."""
    if kind not in DEFAULTS or not isinstance(given, dict):
        raise invalid()
    description = _merge(kind, DEFAULTS[kind], given)
    if any(description[key] is None for key in REQUIRED[kind]):
        raise invalid()
    return description


def updated_description(kind, current, given):
    """current merged with the partial description `given` (spec 3.10)."""
    if not isinstance(given, dict):
        raise invalid()
    if "format" in given and given["format"] != current.get("format"):
        raise invalid()
    return _merge(kind, current, given)


def value_kind(description):
    return FORMATS[description["format"]]
