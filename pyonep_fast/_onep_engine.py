"""The One Platform RPC call path, once for every client: encode the calls'
arguments, queue them in a C Batch, write the request body(ies) split by
size and count, send them over the client's pooled transport, demultiplex
each response in C by id, and give one answer per call in call order.

`OnepV1` (every procedure, single or deferred, behind its pyonep hooks),
the buffered `Datastore` and bulk `ingest` (which hand over arguments that
are already JSON) all send through `exchange`; nothing else matches
response entries to calls.

The engine keeps no settings of its own: the `OnepV1` instance given as
`client` carries them in its public attributes (onephttp, url, headers,
httptimeout, max_calls_per_request, max_bytes_per_request, curldebug,
logrequests), so changing one on the client changes every path. A single
module: the path is one function deep, and its pieces (encoding, auth,
batching, demux) already live in _core and in the client.
"""
import itertools
import json
import logging

import orjson

from ._core import ENONFINITE, ETYPE, EUTF8
from ._core.batch import Batch
from ._core.demux import ERROR, FAILED, NO_RESULT, OK, demux
from .exceptions import (DecodeError, JsonRPCRequestException, OneException, OnepEncodeError,
                         OnePlatformException)

log = logging.getLogger("pyonep_fast.onep")

# Procedures that change nothing: a request made only of these may be re-sent
# on a fresh connection when the server drops a reused one mid-request.
READ_ONLY_PROCEDURES = frozenset(("read", "info", "listing", "lookup", "usage", "wait"))

NO_ANSWER = "no answer"  # what call_encoded gives a call the response did not answer

_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _plain(value):
    """json.dumps fallback for NumPy values and other array-likes."""
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return tolist()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def encode_json(value):
    """Compact UTF-8 JSON of a Python value, as json.dumps would read it
    back: tuples are arrays, non-string keys become strings, ints of any
    size are exact. NaN and infinity raise OnepEncodeError (orjson would
    write null, json.dumps a bare NaN): an EncodeError that pyonep code
    catches as OneException."""
    try:
        data = orjson.dumps(value, None, _ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: an int beyond 64 bits, or unsupported
        data = None
    # orjson writes NaN/inf as null; a null in the output (rare in RPC
    # arguments) sends us through the strict encoder to tell them apart.
    # Looking for the byte "n" first is a memchr: numeric data never has one.
    if data is None or (b"n" in data and b"null" in data):
        try:
            data = json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                              allow_nan=False, default=_plain).encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate
            raise OnepEncodeError(EUTF8, f"cannot encode as JSON: {exc}") from None
        except ValueError as exc:  # NaN / infinity, circular references
            code = ENONFINITE if "Out of range float" in str(exc) else ETYPE
            raise OnepEncodeError(code, f"cannot encode as JSON: {exc}") from None
        except (TypeError, RecursionError) as exc:
            raise OnepEncodeError(ETYPE, f"cannot encode as JSON: {exc}") from None
    return data


def encoded_batch(procedures, arguments):
    """A Batch of the calls given as two parallel lists (arguments as Python values)."""
    batch = Batch()
    for procedure, args in zip(procedures, arguments):
        batch.add(procedure, encode_json(args))
    return batch


def log_request(client, authdict, calls):
    """Keep the request in the log of a client with logrequests set (one
    list shared by all OnepV1 instances, as in pyonep)."""
    client._loggedrequests.append({"auth": dict(authdict), "calls": calls})


def exchange(client, authdict, auth_json, batch, calls, first_id, read_only, notimeout, unanswered=None):
    """Send the calls queued in `batch` (wire ids first_id, first_id + 1,
    ...; `calls` stands for them, one item each) and answer each: a list of
    (call, isok, value) in call order. isok True: value is the result ("ok"
    when the entry has none); False: value is the status the server gave. A
    call no entry answers is left out (pyonep's convention), or, given
    `unanswered` (an (isok, value) pair), answered with it. A request error,
    an entry with an "error", or a body that is no RPC response raises
    OnePlatformException; transport failures raise JsonRPCRequestException."""
    total = len(calls)
    if not total:
        raise JsonRPCRequestException("No calls to send.")
    parts = []  # batch.bodies() without its final empty encode
    first = 0
    while first < total:
        body, count = batch.encode(auth_json, first_id, first, client.max_calls_per_request,
                                   client.max_bytes_per_request)
        parts.append((body, first, count))
        first += count
    timeout = (client.httptimeout, None) if notimeout else client.httptimeout
    if client.curldebug and log.isEnabledFor(logging.DEBUG):
        for body, _, _ in parts:
            log.debug("%s", client._curl(body, authdict, auth_json, timeout))
    if len(parts) == 1:
        responses = [client.onephttp.request("POST", client.url, parts[0][0], client.headers,
                                             timeout, read_only)]
    else:
        responses = client.onephttp.request_many("POST", client.url, [body for body, _, _ in parts],
                                                 client.headers, timeout, read_only)
    triples = []
    for (_, first_index, count), response in zip(parts, responses):
        _demux_into(triples, response.data, calls, first_id, first_index, count, unanswered)
    return triples


def _demux_into(triples, body, calls, first_id, first_index, count, unanswered):
    """Append (call, isok, value) for the calls of one response body."""
    try:
        answer = demux(body, first_id + first_index, count)
    except DecodeError as exc:
        text = body.decode("utf-8", errors="replace")
        raise OnePlatformException(f"Exception while parsing JSON response: {text}\n{exc}") from None
    if answer.kind == "error":
        error = answer.request_error
        raise OnePlatformException(str(error), error)
    if answer.kind != "array":
        raise OneException("Unknown error")
    if count == 1:  # a single call: no per-response lists
        state = answer.state(0)
        if state == OK:
            result = answer.result(0)
            triples.append((calls[first_index], True, "ok" if result is NO_RESULT else result))
        elif state == FAILED:
            triples.append((calls[first_index], False, answer.status(0)))
        elif state == ERROR:
            error = answer.error(0)
            raise OnePlatformException(str(error), error)
        elif unanswered is not None:
            triples.append((calls[first_index], *unanswered))
        return
    some = calls[first_index:first_index + count]
    states, results_present = answer.states(), answer.has_results()
    if states.count(OK) == count and not any(results_present):  # e.g. a batch of writes
        triples.extend(zip(some, itertools.repeat(True, count), itertools.repeat("ok", count)))
        return
    results = answer.results()  # decoded in one orjson call each
    statuses = answer.statuses() if FAILED in states else ()
    for k, (call, state, with_result) in enumerate(zip(some, states, results_present)):
        if state == OK:
            triples.append((call, True, results[k] if with_result else "ok"))
        elif state == FAILED:
            triples.append((call, False, statuses[k]))
        elif state == ERROR:
            error = answer.error(k)
            raise OnePlatformException(str(error), error)
        elif unanswered is not None:  # MISSING or BARE: no answer for this call
            triples.append((call, *unanswered))


def call_encoded(client, auth, calls):
    """[(isok, value), ...] in call order for [(procedure, arguments JSON
    bytes), ...], sent as one logical request with the client's auth and
    ids, without decoding and re-encoding the arguments; a call the
    response does not answer gets (False, NO_ANSWER)."""
    batch = Batch()
    for procedure, arguments in calls:
        batch.add(procedure, arguments)
    authdict, auth_json = client._auth(auth)
    first_id = client._reserve_ids(len(calls))
    if client.logrequests:
        log_request(client, authdict, [{"id": call_id, "procedure": procedure, "arguments": orjson.Fragment(args)}
                                       for call_id, (procedure, args) in enumerate(calls, first_id)])
    read_only = all(procedure in READ_ONLY_PROCEDURES for procedure, _ in calls)
    triples = exchange(client, authdict, auth_json, batch, calls, first_id, read_only, False, (False, NO_ANSWER))
    return [(isok, value) for _, isok, value in triples]
