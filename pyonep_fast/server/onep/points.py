"""Storing points: typing, preprocess, datarules, retention, subscriptions
and wake-ups (spec 2.2, 2.3), shared by every writing procedure."""
import math

from ..._core.entries import INVALID, convert_value
from .access import live_subscribers, reference_allowed
from .descriptions import INFINITY, value_kind
from ..storage.timeseries import KIND_INT, Columns

_SUBSCRIPTION_DEPTH = 16   # a subscription chain longer than this (or a cycle) stops here


def compare(op, a, b):
    return int({"gt": a > b, "geq": a >= b, "lt": a < b, "leq": a <= b, "eq": a == b, "neq": a != b}[op])


def emitted(res, outputs, repeat):
    """The rule outputs written: all with repeat, else only those that
    differ from the previous output (spec 2.2)."""
    if repeat:
        return outputs
    latest = res.series.latest()
    previous = latest[1] if latest else None
    out = []
    for t, value in outputs:
        if value != previous:
            out.append((t, value))
            previous = value
    return out


def _apply(op, value, operand):
    if op == "value":
        return operand
    if isinstance(value, str) or isinstance(operand, str):
        return value          # arithmetic has no meaning on strings: unchanged
    if op == "add":
        return value + operand
    if op == "sub":
        return value - operand
    if op == "mul":
        return value * operand
    if op in ("div", "mod"):
        if operand == 0:
            return INVALID
        return value / operand if op == "div" else math.fmod(value, operand)
    return compare(op, value, operand)


def _operands(store, res):
    """res's preprocess steps with each resource reference replaced by that
    resource's latest value (INVALID when it has none or may no longer be
    read: references are checked when evaluated). Read once per batch: the
    batch is preprocessed before any of it is stored."""
    steps = []
    for op, operand in res.desc["preprocess"]:
        if isinstance(operand, str):
            source = store.get(operand)
            usable = source is not None and source.series is not None and reference_allowed(store, res, source)
            latest = source.series.latest() if usable else None
            operand = INVALID if latest is None else latest[1]
        steps.append((op, operand))
    return steps


def preprocess(res, steps, value):
    """value after the preprocess steps of res (INVALID if a step fails)."""
    kind = res.series.kind
    for op, operand in steps:
        if operand is INVALID:
            return INVALID
        value = _apply(op, value, operand)
        if value is INVALID:
            return INVALID
    if res.type != "dataport":
        return value          # a datarule compares the preprocessed input itself
    if kind == KIND_INT and isinstance(value, float):
        if not math.isfinite(value):
            return INVALID
        value = int(value)    # truncated, then held to int64 like any integer
    return convert_value(kind, value)


def _simple_outputs(res, pairs):
    """A simple datarule's 0/1 outputs for its inputs."""
    rule = res.desc["rule"]["simple"]
    outputs = [(t, compare(rule["comparison"], value, rule["constant"])) for t, value in pairs
               if not isinstance(value, str)]
    return emitted(res, outputs, rule["repeat"])


def retention_cutoff(res, at):
    """Oldest timestamp kept by a duration retention, or None."""
    duration = res.desc["retention"]["duration"]
    return None if duration == INFINITY else at - int(duration * 3600)


def apply_retention(res, at):
    """Drops what the retention rules exclude (called before every result)."""
    series = res.series
    if not series.chunks:
        return
    cutoff = retention_cutoff(res, at)
    if cutoff is not None and series.first() < cutoff:
        series.delete_between(None, cutoff)
    count = res.desc["retention"]["count"]
    if count != INFINITY:
        series.keep_newest(count)


def ingest_pairs(store, res, pairs, at, depth=0):
    """Typed (t, value) pairs, any order, through res's preprocess (and rule
    for datarules); later pairs win at equal t. Returns the stored Columns."""
    if res.desc["preprocess"]:
        steps = _operands(store, res)
        pairs = [(t, preprocess(res, steps, v)) for t, v in pairs]
        pairs = [(t, v) for t, v in pairs if v is not INVALID]
    if res.type == "datarule":
        rule = res.desc["rule"]
        if "simple" in rule:
            pairs = _simple_outputs(res, sorted(dict(pairs).items()))
        elif "script" not in rule:   # timer rules (rules.py); scripts are stored only
            pairs = store.rules.inputs(res, sorted(dict(pairs).items()))
    if res.type == "dispatch":
        pairs = store.rules.dispatch(res, pairs)
    elif res.type == "datarule":   # what a rule or preprocess made must still fit the format
        pairs = [(t, v) for t, v in ((t, convert_value(res.series.kind, v)) for t, v in pairs) if v is not INVALID]
    columns = Columns.from_pairs(res.series.kind, sorted(dict(pairs).items()))
    store_columns(store, res, columns, at, depth)
    return columns


def store_columns(store, res, columns, at, depth=0):
    """Stores sorted unique typed Columns in res, then applies retention,
    wakes waiters and feeds subscribers."""
    if not len(columns) or res.desc["retention"]["count"] == 0:
        return
    res.series.store(columns)
    apply_retention(res, at)
    store.wake(res, columns)
    if depth < _SUBSCRIPTION_DEPTH:
        for sub in live_subscribers(store, res):
            if sub.series is None:
                continue
            pairs = columns.view().pairs()
            if sub.type == "dataport":   # rules and dispatches take the source's values as they are
                pairs = [(t, convert_value(sub.series.kind, v)) for t, v in pairs]
                pairs = [(t, v) for t, v in pairs if v is not INVALID]
            if pairs:
                ingest_pairs(store, sub, pairs, at, depth + 1)


def typed_value(res, value):
    """value converted for res's format (INVALID if it cannot be)."""
    return convert_value(value_kind(res.desc), value)

