"""`OnepV1`: pyonep 0.13.8's One Platform RPC client, on the C core.

Same constructor, methods, `arguments` arrays, return shapes and
exceptions as `pyonep.onep.OnepV1` (spec/onep-rpc.md section 4), and the
same hooks for programs that subclass it (`_callJsonRPC`, `_call`,
`_composeCalls`). Every request, single or deferred, takes one path, the
client call engine (`_onep_engine`) that the Datastore and bulk ingest use
too: the calls go into a `_core.batch.Batch` (arguments encoded once, with
orjson), the batch writes the request body(ies), `transport.Transport`
sends them over pooled keep-alive connections, and `_core.demux.demux` maps
the response entries back to their calls by id in one pass, decoding results
only when they are returned.

Upstream bugs fixed here (they lost data or misrouted results):

* `send_deferred` returns the triples in request order; pyonep kept the
  server's order.
* A response entry is matched to the call with its id in O(1), the first
  entry with an id wins; pyonep scanned all calls for every entry (the last
  match won, an entry with an unknown id paired with None, a missing "id"
  raised KeyError). Entries whose id matches no call are ignored.
* A single call that gets no response entry raises OnePlatformException
  (pyonep raised IndexError, or returned the answer of another id).
* Calls queued for an auth by another thread while `send_deferred` is in
  flight stay queued for the next send; pyonep's `finally` dropped them.
* `close()` closes the pooled connections and the next call reconnects
  (pyonep raised AttributeError after close() with reuseconnection=True).
* `agent` is sent as the User-Agent; pyonep's fresh requests session
  overwrote it with python-requests' own.
* Values JSON cannot carry (NaN, infinity, bytes, arbitrary objects) raise
  OnepEncodeError (an EncodeError and a OneException) when the call is
  made or queued; pyonep sent NaN as a bare `NaN` token, which fails the
  whole request at the server.

Other differences:

* The connection is always kept alive and pooled; `reuseconnection` is
  accepted and ignored.
* Arguments are encoded when a call is made or queued (pyonep: when sent),
  so changing an argument object after queueing it does not change the call.
* Large deferred batches are split into several requests (by count and
  size, `max_calls_per_request`, `max_bytes_per_request`) sent over several
  connections at once; results keep call order. If one of them fails, the
  exception is raised once all have finished; calls in the others may have run.
* Hand-built `callrequests` whose ids are not consecutive integers are
  renumbered on the wire (the triples still hold the caller's dicts).
* `wait` (notimeout) keeps a connect timeout; only the read waits forever.
* No handler is attached to the `pyonep_fast.onep` logger.
"""
import itertools
import threading
from typing import Any, Self

from . import transport
from ._core.batch import DEFAULT_MAX_BYTES, DEFAULT_MAX_CALLS, Batch
from ._http import REDACTED, curl_command
from ._onep_engine import READ_ONLY_PROCEDURES, encode_json, encoded_batch, exchange, log_request
# every exception name stays importable from here, as before the call engine moved out
from .exceptions import (ONEP_TRANSPORT_ERRORS, DecodeError, EncodeError,  # noqa: F401
                         JsonRPCRequestException, OneException, OnePlatformException)

DEFAULT_PATH = "/onep:v1/rpc/process"


class FORMATS:
    STRING = "string"
    FLOAT = "float"
    INTEGER = "integer"


class _Calls(list):
    """The call dicts of one request, plus their pre-encoded Batch (so a
    list that travels through an overridden _callJsonRPC is not encoded
    twice; it is used only while the list is as long as the batch), the
    first id, and whether every call is read-only."""

    __slots__ = ("batch", "size", "first_id", "read_only")


def _auth_key(auth):
    """pyonep's queue key: a string auth as is, a dict as "{k1:v1,k2:v2}"."""
    if isinstance(auth, str):
        return auth
    return "{" + ",".join(f"{key}:{auth[key]}" for key in sorted(auth)) + "}"


class _Queue:
    # procedures and arguments in two lists: no tuple per queued call (the
    # GC's young-generation churn was a third of the cost of queueing one)
    __slots__ = ("procedures", "arguments", "batch", "notimeout", "read_only")

    def __init__(self):
        self.notimeout = False
        self.reset()

    def reset(self):
        self.procedures = []
        self.arguments = []
        self.batch = Batch()
        self.read_only = True


class DeferredRequests:
    """Per-auth queues of deferred calls, keyed as pyonep keys them.

    Each call's arguments are encoded into the queue's Batch when it is
    added; the methods and args are kept for the returned triples."""

    def __init__(self):
        self._queues = {}
        self._lock = threading.Lock()

    def add(self, auth, method, args, notimeout=False):
        encoded = encode_json(args)
        key = auth if type(auth) is str else _auth_key(auth)
        with self._lock:
            queue = self._queues.get(key) or self._queues.setdefault(key, _Queue())
            queue.procedures.append(method)
            queue.arguments.append(args)
            queue.batch.add(method, encoded)
            if method not in READ_ONLY_PROCEDURES:
                queue.read_only = False
            if notimeout:
                queue.notimeout = True  # never reset, as in pyonep

    def reset(self, auth):
        """Forget the queued calls (the notimeout flag stays)."""
        with self._lock:
            queue = self._queues.get(_auth_key(auth))
            if queue is not None:
                queue.reset()

    def has_requests(self, auth):
        queue = self._queues.get(_auth_key(auth))
        return bool(queue is not None and queue.procedures)

    def get_method_args_pairs(self, auth):
        queue = self._queues.get(_auth_key(auth))
        return list(zip(queue.procedures, queue.arguments)) if queue is not None else []

    def get_notimeout(self, auth):
        queue = self._queues.get(_auth_key(auth))
        return queue.notimeout if queue is not None else False

    def take(self, auth):
        """(procedures, arguments, batch, read_only, notimeout) of the queued
        calls, leaving the queue empty; JsonRPCRequestException if nothing
        is queued."""
        with self._lock:
            queue = self._queues.get(_auth_key(auth))
            if queue is None or not queue.procedures:
                raise JsonRPCRequestException("No deferred requests to send.")
            taken = queue.procedures, queue.arguments, queue.batch, queue.read_only, queue.notimeout
            queue.reset()
            return taken


def _redacted_auth(auth):
    if not isinstance(auth, dict):
        return auth
    return {key: (REDACTED if key in ("cik", "token") else value) for key, value in auth.items()}


class OnepV1:
    """One Platform RPC client with pyonep 0.13.8's interface (spec 4.2)."""

    headers = {"Content-Type": "application/json; charset=utf-8"}
    _loggedrequests: list[dict] = []

    #: Limits for one request body; larger deferred batches are split.
    max_calls_per_request = DEFAULT_MAX_CALLS
    max_bytes_per_request = DEFAULT_MAX_BYTES

    def __init__(self, host: str = transport.ONE_PLATFORM_HOST, port: str | int = "443",
                 url: str = DEFAULT_PATH, https: bool = True, httptimeout: float = 10,
                 agent: str | None = None, reuseconnection: bool = False, logrequests: bool = False,
                 curldebug: bool = False, startid: int = 0) -> None:
        self.host = f"{host}:{port}"
        self.https = https
        self.url = url
        self.httptimeout = int(httptimeout)
        self.reuseconnection = reuseconnection
        self.logrequests = logrequests
        self.curldebug = curldebug
        self.startid = startid
        self.deferred = DeferredRequests()
        self._clientid = None
        self._resourceid = None
        self._id_lock = threading.Lock()
        # (cik, client id, resource id) -> (auth dict, auth JSON)
        self._auth_cache: dict[tuple[Any, Any, Any], tuple[dict, bytes]] = {}
        if agent is not None:
            self.headers["User-Agent"] = agent  # class-level, shared: as pyonep
        scheme = "https" if https else "http"
        self.onephttp = transport.Transport(f"{scheme}://{host}:{port}", timeout=self.httptimeout,
                                            errors=ONEP_TRANSPORT_ERRORS)

    @classmethod
    def from_url(cls, url: str | None = None, **options: Any) -> Self:
        """A client for a server base URL such as "http://127.0.0.1:8080"
        (None: $PYONEP_FAST_URL, else http://127.0.0.1:8080); options are
        the constructor's (httptimeout, agent, ...). ValueError for a URL
        that is not scheme://host[:port]."""
        from .compat import server_address

        host, port, https = server_address(url)
        return cls(host=host, port=port, https=https, **options)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections; the next call opens new ones."""
        self.onephttp.close()

    def loggedrequests(self):
        """The request dicts sent by OnepV1 instances with logrequests set
        (one list shared by all instances, as in pyonep)."""
        return self._loggedrequests

    # ---- auth -----------------------------------------------------------

    def connect_as(self, clientid):
        """Act as the client `clientid` (a descendant of the auth's client)."""
        self._clientid = clientid
        self._resourceid = None

    def connect_owner(self, resourceid):
        """Act as the owner of `resourceid`."""
        self._resourceid = resourceid
        self._clientid = None

    def _getAuth(self, auth):
        if isinstance(auth, dict):
            return auth
        if self._clientid is not None:
            return {"cik": auth, "client_id": self._clientid}
        if self._resourceid is not None:
            return {"cik": auth, "resource_id": self._resourceid}
        return {"cik": auth}

    # ---- the call path ----------------------------------------------------

    def _reserve_ids(self, count):
        with self._id_lock:
            first = self.startid
            self.startid = first + count
        return first

    def _composeCalls(self, procedures, batch=None, read_only=None):
        """Call dicts with ids from startid for [(procedure, arguments), ...].
        `batch`, when given, already holds exactly these calls encoded (and
        read_only says whether they are all read-only procedures)."""
        names = [procedure for procedure, _ in procedures]
        return self._compose(names, [arguments for _, arguments in procedures], batch, read_only)

    def _compose(self, procedures, arguments, batch=None, read_only=None):
        """_composeCalls of the calls given as two lists."""
        first = self._reserve_ids(len(procedures))
        calls = _Calls([{"id": call_id, "procedure": procedure, "arguments": args}
                        for call_id, procedure, args in zip(itertools.count(first), procedures,
                                                            arguments)])
        if batch is None:
            batch = encoded_batch(procedures, arguments)
        if read_only is None:
            read_only = READ_ONLY_PROCEDURES.issuperset(procedures)
        calls.batch = batch
        calls.size = len(procedures)
        calls.first_id = first
        calls.read_only = read_only
        return calls

    def _compose_one(self, procedure, arguments):
        """_composeCalls([(procedure, arguments)]) without the generality:
        the single call is the hot path."""
        with self._id_lock:
            call_id = self.startid
            self.startid = call_id + 1
        calls = _Calls(({"id": call_id, "procedure": procedure, "arguments": arguments},))
        batch = Batch()
        batch.add(procedure, encode_json(arguments))
        calls.batch = batch
        calls.size = 1
        calls.first_id = call_id
        calls.read_only = procedure in READ_ONLY_PROCEDURES
        return calls

    def _call(self, method, auth, arg, defer, notimeout=False):
        if defer:
            self.deferred.add(auth, method, arg, notimeout)
            return True
        if type(self)._composeCalls is _COMPOSE_CALLS:
            calls = self._compose_one(method, arg)
        else:  # a subclass hooks _composeCalls: it sees every call, as in pyonep
            calls = self._composeCalls([(method, arg)])
        return self._callJsonRPC(auth, calls, notimeout=notimeout)

    def _callJsonRPC(self, auth, callrequests, returnreq=False, notimeout=False):
        """Send callrequests (call dicts) in one logical request. Returns the
        [(call, isok, value), ...] triples in call order with returnreq,
        else (isok, value) of the first call."""
        authdict, auth_json = self._auth(auth)
        if self.logrequests:
            log_request(self, authdict, callrequests)
        batch, first_id, read_only = self._prepared(callrequests)
        triples = exchange(self, authdict, auth_json, batch, callrequests, first_id, read_only, notimeout)
        if returnreq:
            return triples
        if not triples:
            raise OnePlatformException("No response for the call with id "
                                       f"{callrequests[0].get('id') if callrequests else None}")
        return triples[0][1:]

    def _prepared(self, callrequests):
        """(batch, first wire id, read-only) for callrequests."""
        if type(callrequests) is _Calls and callrequests.size == len(callrequests):
            return callrequests.batch, callrequests.first_id, callrequests.read_only
        batch = encoded_batch([call["procedure"] for call in callrequests],
                              [call["arguments"] for call in callrequests])
        first = callrequests[0].get("id") if callrequests else None
        consecutive = type(first) is int and all(
            call.get("id") == call_id for call_id, call in enumerate(callrequests, first))
        read_only = all(call["procedure"] in READ_ONLY_PROCEDURES for call in callrequests)
        return batch, first if consecutive else self._reserve_ids(len(callrequests)), read_only

    def _auth(self, auth):
        """(auth dict, its JSON). For a CIK string the pair is cached per
        (cik, connect_as / connect_owner target), unless a subclass
        overrides _getAuth."""
        if type(auth) is not str or type(self)._getAuth is not _GET_AUTH:
            authdict = self._getAuth(auth)
            return authdict, encode_json(authdict)
        key = (auth, self._clientid, self._resourceid)
        try:
            pair = self._auth_cache.get(key)
        except TypeError:  # an unhashable connect_as / connect_owner target
            authdict = self._getAuth(auth)
            return authdict, encode_json(authdict)
        if pair is None:
            authdict = self._getAuth(auth)
            pair = authdict, encode_json(authdict)
            if len(self._auth_cache) >= 64:  # a program cycling through many CIKs
                self._auth_cache.clear()
            self._auth_cache[key] = pair
        return pair

    def _curl(self, body, authdict, auth_json, timeout):
        """The request as a curl command line, CIK and token redacted."""
        prefix = b'{"auth":' + auth_json
        if body.startswith(prefix):
            body = b'{"auth":' + encode_json(_redacted_auth(authdict)) + body[len(prefix):]
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        return curl_command("POST", self.onephttp.base_url + self.url, self.headers, body, read_timeout)

    # ---- deferred requests ------------------------------------------------

    def has_deferred(self, auth):
        return self.deferred.has_requests(auth)

    def send_deferred(self, auth):
        """Send every call deferred for `auth` (in as many requests as the
        size limits need); [(call, isok, value), ...] in the order queued."""
        procedures, arguments, batch, read_only, notimeout = self.deferred.take(auth)
        if type(self)._composeCalls is _COMPOSE_CALLS:
            calls = self._compose(procedures, arguments, batch, read_only)
        else:  # a subclass hooks _composeCalls: it gets pyonep's (method, args) pairs
            calls = self._composeCalls(list(zip(procedures, arguments)), batch, read_only)
        return self._callJsonRPC(auth, calls, returnreq=True, notimeout=notimeout)

    # ---- RPC procedures (spec 4.3) ----------------------------------------

    def activate(self, auth, codetype, code, defer=False):
        return self._call("activate", auth, [codetype, code], defer)

    def create(self, auth, type, desc, defer=False):
        return self._call("create", auth, [type, desc], defer)

    def createDataport(self, auth, desc, defer=False):
        return self._call("create", auth, ["dataport", desc], defer)

    def deactivate(self, auth, codetype, code, defer=False):
        return self._call("deactivate", auth, [codetype, code], defer)

    def drop(self, auth, resource, defer=False):
        return self._call("drop", auth, [resource], defer)

    def flush(self, auth, resource, options=None, defer=False):
        args = [resource] if options is None else [resource, options]
        return self._call("flush", auth, args, defer)

    def grant(self, auth, resource, permissions, ttl=None, defer=False):
        args = [resource, permissions] if ttl is None else [resource, permissions, {"ttl": ttl}]
        return self._call("grant", auth, args, defer)

    def info(self, auth, resource, options={}, defer=False):
        return self._call("info", auth, [resource, options], defer)

    def listing(self, auth, types, options=None, resource=None, defer=False):
        if options is None:
            args = [types]  # oldest form; resource is ignored, as in pyonep
        elif resource is None:
            args = [types, options]
        else:
            args = [resource, types, options]
        return self._call("listing", auth, args, defer)

    def lookup(self, auth, type, mapping, defer=False):
        return self._call("lookup", auth, [type, mapping], defer)

    def map(self, auth, resource, alias, defer=False):
        return self._call("map", auth, ["alias", resource, alias], defer)

    def move(self, auth, resource, destinationresource, options={"aliases": True}, defer=False):
        return self._call("move", auth, [resource, destinationresource, options], defer)

    def read(self, auth, resource, options, defer=False):
        return self._call("read", auth, [resource, options], defer)

    def record(self, auth, resource, entries, options={}, defer=False):
        return self._call("record", auth, [resource, entries, options], defer)

    def recordbatch(self, auth, resource, entries, defer=False):
        return self._call("recordbatch", auth, [resource, entries], defer)

    def revoke(self, auth, codetype, code, defer=False):
        return self._call("revoke", auth, [codetype, code], defer)

    def share(self, auth, resource, options={}, defer=False):
        return self._call("share", auth, [resource, options], defer)

    def tag(self, auth, resource, action, tag, defer=False):
        return self._call("tag", auth, [resource, action, tag], defer)

    def unmap(self, auth, alias, defer=False):
        return self._call("unmap", auth, ["alias", alias], defer)

    def update(self, auth, resource, desc={}, defer=False):
        return self._call("update", auth, [resource, desc], defer)

    def usage(self, auth, resource, metric, starttime, endtime, defer=False):
        return self._call("usage", auth, [resource, metric, starttime, endtime], defer)

    def wait(self, auth, resource, options, defer=False):
        return self._call("wait", auth, [resource, options], defer, notimeout=True)

    def write(self, auth, resource, value, options={}, defer=False):
        return self._call("write", auth, [resource, value, options], defer)

    def writegroup(self, auth, entries, defer=False):
        return self._call("writegroup", auth, [entries], defer)


_COMPOSE_CALLS = OnepV1._composeCalls
_GET_AUTH = OnepV1._getAuth
