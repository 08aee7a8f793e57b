"""Model-based test of the embedded server (issue 9): a hypothesis state
machine drives create / write / writegroup / record / recordbatch / read /
flush / drop / update / share / activate / revoke / grant against the real
server over HTTP RPC and against a small in-memory model of the contract
(spec onep-rpc.md 2.3, 2.4, 3.1-3.6, 3.13, 3.18-3.23), and compares every answer.

Two tenants: A owns every dataport; B is another fountain client that may
only read what is public or shared to it (and activated). Tokens are granted
by A for one dataport with a subset of procedures. Record timestamps lie in
a small range so that replacement, flush bounds and read windows collide;
`write` stamps with the server's clock, which the model learns by reading the
point back and checking it lies within the time bracket of the call.

Where the contract leaves a detail open the model only checks what it fixes
(autowindow: which points are picked; givenwindow: only windows that divide
the range exactly, where every reading of "equal sub-windows" agrees).
"""
import re
import time
from dataclasses import dataclass, field

import orjson
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conftest import JSON_HEADERS, RPC_PATH

FORMATS = ("integer", "float", "string")
TOKEN_PROCEDURES = ("read", "write", "record", "flush", "info")
MAX_T = 200                    # record timestamps lie in [0, MAX_T]
INFINITE = {"count": "infinity", "duration": "infinity"}
RESTRICTED, INVALID, OK = "restricted", "invalid", "ok"
GONE = RESTRICTED   # a dropped RID is unreachable like any other (spec 2.1)
UNAUTHORIZED = {"error": {"code": 401, "message": "Invalid", "context": "auth"}}
INT64 = 2 ** 63
REFUSED = object()             # what a format stores for a value it cannot take: nothing
INTEGER_TEXT = re.compile(r"-?[0-9]+")


@dataclass
class Port:
    rid: str
    fmt: str
    public: bool
    points: dict = field(default_factory=dict)      # t -> value, as the contract says it reads back
    dropped: bool = False

    def __repr__(self):                             # short, for hypothesis' failure reports
        return f"Port({self.fmt}, {self.rid[:6]})"


@dataclass
class Share:
    code: str
    port: Port
    activator: str = None      # "B" once B activated it
    revoked: bool = False

    @property
    def live(self):
        return not self.revoked and not self.port.dropped


@dataclass
class Token:
    token: str
    port: Port
    procedures: frozenset

    def __repr__(self):
        return f"Token({sorted(self.procedures)}, {self.port!r})"


# --- values: what each format stores for what it is given (spec 2.3) -----------------------------
def _stored(fmt, given):
    """The value a dataport of fmt reads back for `given`, or REFUSED."""
    if isinstance(given, bool) or not isinstance(given, (int, float, str)):
        return REFUSED
    if fmt == "integer":
        if isinstance(given, str):
            given = int(given) if INTEGER_TEXT.fullmatch(given) else REFUSED
        return given if isinstance(given, int) and -INT64 <= given < INT64 else REFUSED
    if fmt == "float":
        if isinstance(given, str):
            try:
                return float(given) if given.strip() == given and given.lower() not in ("nan", "inf") else REFUSED
            except ValueError:
                return REFUSED
        return float(given)
    if isinstance(given, str):
        return given if len(given.encode()) <= 65536 else REFUSED
    return str(given) if isinstance(given, int) else REFUSED


good_values = {
    "integer": st.one_of(st.integers(-INT64, INT64 - 1), st.integers(-10 ** 6, 10 ** 6).map(str)),
    "float": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-2 ** 53, 2 ** 53),
                       st.floats(-1e6, 1e6, allow_nan=False).map(repr)),
    "string": st.one_of(st.text(max_size=12), st.integers(-10 ** 9, 10 ** 9)),
}
bad_values = {
    "integer": st.sampled_from(["abc", "", "1.5", "1e3", 1.5, None, True, [1], {"v": 1}]),
    "float": st.sampled_from(["abc", "", "1.2.3", "0x10", None, False, [1.0], {"v": 1}]),
    "string": st.sampled_from([None, True, [1], {"v": "x"}, "x" * 70000]),
}


def values_for(fmt):
    """Values a port of fmt takes, and some it refuses."""
    return st.one_of(good_values[fmt], bad_values[fmt])


# --- the machine ------------------------------------------------------------------------------
class ServerModel(RuleBasedStateMachine):
    ports = Bundle("ports")
    shares = Bundle("shares")
    tokens = Bundle("tokens")

    def __init__(self, url, pool):
        super().__init__()
        self.url = url
        self.pool = pool
        made = [orjson.loads(pool.request("GET", url + "/api/create?vendor").data) for _ in "AB"]
        self.a = {"cik": made[0]["cik"]}
        self.b = {"cik": made[1]["cik"]}
        self.created = []      # every Port, in creation order
        self.shared = []       # every Share

    # transport -----------------------------------------------------------------------------
    def request(self, auth, calls):
        response = self.pool.request("POST", self.url + RPC_PATH, headers=JSON_HEADERS,
                                     body=orjson.dumps({"auth": auth, "calls": calls}))
        assert response.status == 200
        return orjson.loads(response.data)

    def call(self, auth, procedure, *arguments):
        """The call's response entry without its id (or the whole-request error)."""
        answer = self.request(auth, [{"id": 1, "procedure": procedure, "arguments": list(arguments)}])
        if isinstance(answer, dict):
            return answer
        entry, = answer
        assert entry.pop("id") == 1
        return entry

    def expect(self, entry, status, result=None):
        """entry has this status (and result); a whole-request error (a dict) is the whole answer."""
        if isinstance(status, dict):
            expected = status
        else:
            expected = {"status": status} if result is None else {"status": status, "result": result}
        assert entry == expected, (entry, expected)

    # model helpers ---------------------------------------------------------------------------
    def a_status(self, port):
        """What A gets when it acts on port (its own, unless dropped)."""
        return GONE if port.dropped else OK

    def b_can_read(self, port):
        return port.public or any(s.port is port and s.live and s.activator == "B" for s in self.shared)

    def store(self, port, pairs):
        for t, value in pairs:
            port.points[t] = value

    @staticmethod
    def select(port, start, end, limit, descending):
        found = sorted((t, v) for t, v in port.points.items() if start <= t <= end)
        if descending:
            found.reverse()
        return [[t, v] for t, v in found[:limit]]

    def read_all(self, auth, port):
        return self.call(auth, "read", port.rid, {"starttime": 0, "limit": 100000, "sort": "asc"})

    def check_values(self, got, expected):
        """Equal, and typed as the port's format says (a float port answers floats)."""
        assert got == expected, (got, expected)
        for (_, value), (_, want) in zip(got, expected):
            assert type(value) is type(want), (value, want)

    # rules -------------------------------------------------------------------------------------
    @rule(target=ports, fmt=st.sampled_from(FORMATS), public=st.booleans())
    def create(self, fmt, public):
        entry = self.call(self.a, "create", "dataport", {"format": fmt, "public": public, "retention": INFINITE})
        assert entry["status"] == OK and len(entry["result"]) == 40, entry
        self.created.append(Port(entry["result"], fmt, public))
        return self.created[-1]

    @rule(port=ports, data=st.data())
    def write(self, port, data):
        given = data.draw(values_for(port.fmt))
        before = int(time.time())
        entry = self.call(self.a, "write", port.rid, given, {})
        after = int(time.time())
        stored = _stored(port.fmt, given)
        if port.dropped:
            return self.expect(entry, GONE)
        if stored is REFUSED:
            return self.expect(entry, INVALID)
        self.expect(entry, OK)
        (t, value), = self.call(self.a, "read", port.rid, {})["result"]   # the newest point: the one written
        assert before <= t <= after, (before, t, after)
        self.check_values([[t, value]], [[t, stored]])
        self.store(port, [(t, stored)])

    @rule(port=ports, data=st.data())
    def writegroup(self, port, data):
        givens = data.draw(st.lists(values_for(port.fmt), min_size=1, max_size=3))
        entry = self.call(self.a, "writegroup", [[port.rid, given] for given in givens])
        stored = [_stored(port.fmt, given) for given in givens]
        if port.dropped:
            return self.expect(entry, GONE)
        if REFUSED in stored:      # all or nothing (spec 3.3)
            return self.expect(entry, INVALID)
        self.expect(entry, OK)
        t, value = self.call(self.a, "read", port.rid, {})["result"][0]
        self.check_values([[t, value]], [[t, stored[-1]]])                  # one timestamp: the last pair wins
        self.store(port, [(t, stored[-1])])

    def entries(self, data, port):
        """Up to 8 [t, value] entries; in a quarter of the calls one of them has a value the port refuses."""
        entries = data.draw(st.lists(st.tuples(st.integers(0, MAX_T), good_values[port.fmt]), max_size=8))
        if entries and data.draw(st.integers(0, 3)) == 0:
            at = data.draw(st.integers(0, len(entries) - 1))
            entries[at] = (entries[at][0], data.draw(bad_values[port.fmt]))
        return entries

    @rule(port=ports, data=st.data())
    def record(self, port, data):
        entries = self.entries(data, port)
        entry = self.call(self.a, "record", port.rid, [list(e) for e in entries], {})
        stored = [(t, _stored(port.fmt, given)) for t, given in entries]
        if port.dropped:
            return self.expect(entry, GONE)
        if any(value is REFUSED for _, value in stored):   # record is all or nothing
            return self.expect(entry, INVALID)
        self.expect(entry, OK)
        self.store(port, stored)                    # in order: a repeated t keeps the last value

    @rule(port=ports, data=st.data())
    def recordbatch(self, port, data):
        entries = self.entries(data, port)
        entry = self.call(self.a, "recordbatch", port.rid, [list(e) for e in entries])
        if port.dropped:
            return self.expect(entry, GONE)
        stored = [(t, _stored(port.fmt, given)) for t, given in entries]
        refused = [[t, "invalid"] for t, value in stored if value is REFUSED]
        self.expect(entry, refused or OK)           # the valid entries are stored anyway (spec 3.5)
        self.store(port, [(t, value) for t, value in stored if value is not REFUSED])

    @rule(port=ports, start=st.none() | st.integers(0, MAX_T + 10), end=st.none() | st.integers(0, MAX_T + 10),
          limit=st.none() | st.integers(0, 12), sort=st.sampled_from([None, "asc", "desc"]))
    def read(self, port, start, end, limit, sort):
        options = {key: value for key, value in (("starttime", start), ("endtime", end), ("limit", limit),
                                                  ("sort", sort)) if value is not None}
        entry = self.call(self.a, "read", port.rid, options)
        if port.dropped:
            return self.expect(entry, GONE)
        assert entry["status"] == OK, entry
        expected = self.select(port, start or 0, INT64 if end is None else end, 1 if limit is None else limit,
                               sort != "asc")
        self.check_values(entry["result"], expected)

    @rule(port=ports, start=st.integers(0, MAX_T), width=st.integers(1, 40), windows=st.integers(1, 6),
          sort=st.sampled_from(["asc", "desc"]))
    def read_givenwindow(self, port, start, width, windows, sort):
        end = start + width * windows - 1           # windows of `width` seconds divide [start, end] exactly
        entry = self.call(self.a, "read", port.rid, {"starttime": start, "endtime": end, "limit": windows,
                                                     "sort": sort, "selection": "givenwindow"})
        if port.dropped:
            return self.expect(entry, GONE)
        expected = []
        for k in range(windows):                    # the earliest point of each window (spec 3.1, 9)
            low = start + k * width
            inside = sorted(t for t in port.points if low <= t < low + width)
            if inside:
                expected.append([inside[0], port.points[inside[0]]])
        if sort == "desc":
            expected.reverse()
        self.check_values(entry["result"], expected)

    @rule(port=ports, limit=st.integers(0, 8), sort=st.sampled_from(["asc", "desc"]))
    def read_autowindow(self, port, limit, sort):
        entry = self.call(self.a, "read", port.rid, {"starttime": 0, "endtime": MAX_T, "limit": limit, "sort": sort,
                                                     "selection": "autowindow"})
        if port.dropped:
            return self.expect(entry, GONE)
        every = self.select(port, 0, MAX_T, 10 ** 9, sort == "desc")
        got = entry["result"]
        if len(every) <= limit:                     # nothing to thin out
            return self.check_values(got, every)
        assert len(got) == limit, (got, limit)
        assert all(point in every for point in got), (got, every)
        positions = [every.index(point) for point in got]   # picked from the points, in sort order
        assert positions == sorted(set(positions)), (got, every)

    @rule(port=ports, newer=st.none() | st.integers(0, MAX_T), older=st.none() | st.integers(0, MAX_T))
    def flush(self, port, newer, older):
        options = {key: value for key, value in (("newerthan", newer), ("olderthan", older)) if value is not None}
        entry = self.call(self.a, "flush", port.rid, *([options] if options else []))
        self.expect(entry, self.a_status(port))
        if port.dropped:
            return
        low = -1 if newer is None else newer              # both bounds exclusive (spec 3.6, 9)
        high = INT64 if older is None else older
        port.points = {t: v for t, v in port.points.items() if not low < t < high}

    @rule(port=ports)
    def drop(self, port):
        entry = self.call(self.a, "drop", port.rid)
        self.expect(entry, self.a_status(port))
        port.dropped = True

    @rule(port=ports, public=st.booleans())
    def update_public(self, port, public):
        entry = self.call(self.a, "update", port.rid, {"public": public})
        self.expect(entry, self.a_status(port))
        if not port.dropped:
            port.public = public

    @rule(port=ports)
    def storage(self, port):
        entry = self.call(self.a, "info", port.rid, {"storage": True})
        if port.dropped:
            return self.expect(entry, GONE)
        storage = entry["result"]["storage"]
        times = sorted(port.points)
        assert (storage["count"], storage["first"], storage["last"]) == (
            len(times), times[0] if times else 0, times[-1] if times else 0), (storage, times)

    # B, the other tenant ------------------------------------------------------------------------
    @rule(target=shares, port=ports)
    def share(self, port):
        entry = self.call(self.a, "share", port.rid, {"meta": "model"})
        if port.dropped:
            self.expect(entry, GONE)
            return Share("0" * 40, port, revoked=True)    # a code that never worked
        assert entry["status"] == OK and len(entry["result"]) == 40, entry
        self.shared.append(Share(entry["result"], port))
        return self.shared[-1]

    @rule(share=shares)
    def b_activates(self, share):
        entry = self.call(self.b, "activate", "share", share.code)
        holds_one = any(s.port is share.port and s.live and s.activator == "B" for s in self.shared)
        if not share.live or share.activator is not None or holds_one:
            return self.expect(entry, INVALID)
        self.expect(entry, OK)
        share.activator = "B"

    @rule(share=shares)
    def a_revokes(self, share):
        entry = self.call(self.a, "revoke", "share", share.code)
        self.expect(entry, OK if share.live else INVALID)
        share.revoked = True

    @rule(port=ports)
    def b_reads(self, port):
        entry = self.read_all(self.b, port)
        if port.dropped:
            return self.expect(entry, GONE)
        if not self.b_can_read(port):
            return self.expect(entry, RESTRICTED)
        assert entry["status"] == OK, entry
        self.check_values(entry["result"], self.select(port, 0, INT64, 10 ** 9, False))

    @rule(port=ports, data=st.data())
    def b_writes(self, port, data):
        entry = self.call(self.b, "record", port.rid, [[0, data.draw(good_values[port.fmt])]], {})
        self.expect(entry, RESTRICTED)   # read-only at best, unreachable once dropped

    # tokens ----------------------------------------------------------------------------------
    @rule(target=tokens, port=ports, procedures=st.frozensets(st.sampled_from(TOKEN_PROCEDURES)))
    def grant(self, port, procedures):
        entry = self.call(self.a, "grant", port.rid, {port.rid: sorted(procedures)})
        if port.dropped:
            self.expect(entry, GONE)
            return Token("0" * 40, port, frozenset())
        assert entry["status"] == OK and len(entry["result"]) == 40, entry
        return Token(entry["result"], port, procedures)

    def token_status(self, token, procedure):
        return OK if procedure in token.procedures else RESTRICTED

    @rule(token=tokens)
    def token_reads(self, token):
        entry = self.read_all({"token": token.token}, token.port)
        if token.port.dropped:                      # its resource is gone, and the token with it
            return self.expect(entry, UNAUTHORIZED)
        if "read" not in token.procedures:
            return self.expect(entry, RESTRICTED)
        assert entry["status"] == OK, entry
        self.check_values(entry["result"], self.select(token.port, 0, INT64, 10 ** 9, False))

    @rule(token=tokens, t=st.integers(0, MAX_T), data=st.data())
    def token_records(self, token, t, data):
        stored = data.draw(good_values[token.port.fmt])
        entry = self.call({"token": token.token}, "record", token.port.rid, [[t, stored]], {})
        if token.port.dropped:
            return self.expect(entry, UNAUTHORIZED)
        self.expect(entry, self.token_status(token, "record"))
        if "record" in token.procedures:
            self.store(token.port, [(t, _stored(token.port.fmt, stored))])

    @rule(token=tokens, newer=st.integers(0, MAX_T))
    def token_flushes(self, token, newer):
        entry = self.call({"token": token.token}, "flush", token.port.rid, {"newerthan": newer})
        if token.port.dropped:
            return self.expect(entry, UNAUTHORIZED)
        self.expect(entry, self.token_status(token, "flush"))
        if "flush" in token.procedures:
            token.port.points = {t: v for t, v in token.port.points.items() if t <= newer}

    @invariant()
    def live_ports_listed(self):
        """A's listing names exactly the dataports it has not dropped, in creation order."""
        entry = self.call(self.a, "listing", ["dataport"], {"owned": True})
        self.expect(entry, OK, {"dataport": [port.rid for port in self.created if not port.dropped]})


def test_server_agrees_with_the_model(server, http):
    bounded = settings(settings.default, max_examples=min(settings.default.max_examples, 25),
                       stateful_step_count=30)
    run_state_machine_as_test(lambda: ServerModel(server.url, http), settings=bounded)
