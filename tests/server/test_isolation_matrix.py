"""Isolation matrix (issue 9): every RPC procedure and HTTP Data Interface
endpoint, and the evaluation of references, × every way of holding a
resource, run against the real server and compared with the verdict the
contract's access rules (spec 2.4, 3.11, 3.19, 3.23) give.

The expected verdict is computed here from the rules, independently of the
server's code: full access inside the caller's subhierarchy; read-only access
(read, wait, info, map, references) to public resources and activated shares;
a token narrows the caller to the procedures it lists; an expired token, or
one whose granting CIK is gone, authenticates nothing; a CIK goes only to a
client's direct owner and never through a token.

Provisioning (spec provision.md 2.2, 2.4): a model's template and an enable
owner must lie in the calling vendor's client, another vendor's model is not
found.
"""
import itertools
from dataclasses import dataclass, field

import orjson
import pytest

from rpc_helpers import INHERIT

FULL, READ, NONE = "full", "read", "none"
ALLOW, DENY, UNAUTHORIZED = "allow", "deny", "401"
EVERY_PERMISSION = ("read", "write", "writegroup", "record", "flush", "wait", "info", "create", "move", "update",
                    "listing", "drop", "usage", "map", "lookup", "unmap", "share", "revoke", "activate",
                    "deactivate", "tag", "grant", "comment")
PERMISSION_OF = {"recordbatch": "record"}     # spec 3.23: recordbatch is allowed by record
SEED_T, SEED_V = 50, 7
FORM = "application/x-www-form-urlencoded; charset=utf-8"
_names = itertools.count()


def fresh_name(prefix):
    return f"{prefix}{next(_names)}"


# --- ways of holding a resource ---------------------------------------------------------------
@dataclass(frozen=True)
class Holding:
    name: str
    owner: str                 # who owns the targets: "actor" (A), "child" (A's child client), "other" (B)
    reach: str                 # the actor client's own reach over the targets now: FULL, READ or NONE
    public: bool = False       # targets created public
    shared: bool = False       # targets shared to A and activated
    end: str = None            # afterwards: "revoke" / "deactivate" (the share), "private"
    token: tuple = None        # permissions of the token the actor calls with (None: A's CIK)
    token_covers: bool = True  # the token's permissions name the targets or a client above them
    auth: str = "ok"           # "expired": ttl ran out; "granter-gone": the granting CIK was revoked
    derived: bool = False      # the token was granted by another token
    direct_owner: bool = True  # the actor is the direct owner of client targets
    vendor: str = "own"        # provisioning: the actor's own vendor, or "other" acting on the actor's model

    @property
    def hdi(self):             # the HTTP Data Interface and provisioning take no RPC tokens
        return self.token is None and self.auth == "ok"

    @property
    def ever_readable(self):   # the actor could make an alias / a reference at some point
        return self.token is None and self.auth == "ok" and (self.reach != NONE or self.end is not None)


HOLDINGS = [
    Holding("own", "actor", FULL),
    Holding("child", "child", FULL, direct_owner=False),
    Holding("other", "other", NONE),
    Holding("public", "other", READ, public=True),
    Holding("share active", "other", READ, shared=True),
    Holding("share revoked", "other", NONE, shared=True, end="revoke"),
    Holding("share deactivated", "other", NONE, shared=True, end="deactivate"),
    Holding("public made private", "other", NONE, public=True, end="private"),
    *[Holding(f"token [{p}]", "actor", FULL, token=(p,)) for p in EVERY_PERMISSION],
    Holding("token [all] on another's public", "other", READ, public=True, token=EVERY_PERMISSION,
            token_covers=False),
    Holding("token [all] on a share", "other", READ, shared=True, token=EVERY_PERMISSION, token_covers=False),
    Holding("expired token", "actor", FULL, token=EVERY_PERMISSION, auth="expired"),
    Holding("token, granter CIK revoked", "child", FULL, token=EVERY_PERMISSION, auth="granter-gone"),
    Holding("derived token, granter CIK revoked", "child", FULL, token=EVERY_PERMISSION, auth="granter-gone",
            derived=True),
    Holding("another vendor", "actor", FULL, vendor="other"),
]


# --- operations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Op:
    name: str
    kind: str                  # target kind: "dataport", "client"; run by "rpc", "hdi" or "reference"
    run: object                # run(world, holding, target) -> ALLOW / DENY / UNAUTHORIZED / other
    needs: tuple = ()          # token permissions the call needs
    read_only: bool = False    # allowed with read-only reach
    via: str = "rpc"
    cik_only: bool = False     # reveals a CIK: direct owner only, never through a token


def rpc_op(name, kind, build, needs, read_only=False, cik_only=False):
    def run(world, holding, target):
        procedure, args = build(world, target)
        return world.verdict_of(world.actor_auth(holding), procedure, args)
    return Op(name, kind, run, tuple(needs), read_only, "rpc", cik_only)


D, C = "dataport", "client"
RPC_OPS = [
    # targets: dataports
    rpc_op("read", D, lambda w, t: ("read", [t["rid"], {}]), ["read"], read_only=True),
    rpc_op("write", D, lambda w, t: ("write", [t["rid"], 1, {}]), ["write"]),
    rpc_op("writegroup", D, lambda w, t: ("writegroup", [[[t["rid"], 1]]]), ["writegroup"]),
    rpc_op("record", D, lambda w, t: ("record", [t["rid"], [[100, 1]], {}]), ["record"]),
    rpc_op("recordbatch", D, lambda w, t: ("recordbatch", [t["rid"], [[100, 1]]]), ["recordbatch"]),
    rpc_op("flush", D, lambda w, t: ("flush", [t["rid"]]), ["flush"]),
    rpc_op("wait", D, lambda w, t: ("wait", [t["rid"], {"since": 0, "timeout": 0}]), ["wait"], read_only=True),
    rpc_op("info", D, lambda w, t: ("info", [t["rid"], {}]), ["info"], read_only=True),
    rpc_op("update", D, lambda w, t: ("update", [t["rid"], {"name": "x"}]), ["update"]),
    rpc_op("drop", D, lambda w, t: ("drop", [t["rid"]]), ["drop"]),
    rpc_op("tag", D, lambda w, t: ("tag", [t["rid"], "add", "x"]), ["tag"]),
    rpc_op("share", D, lambda w, t: ("share", [t["rid"], {}]), ["share"]),
    rpc_op("comment", D, lambda w, t: ("comment", [t["rid"], "public", "x"]), ["comment"]),
    rpc_op("move", D, lambda w, t: ("move", [t["rid"], {"alias": ""}, {}]), ["move"]),
    rpc_op("map", D, lambda w, t: ("map", ["alias", t["rid"], fresh_name("m")]), ["map"], read_only=True),
    rpc_op("grant", D, lambda w, t: ("grant", [t["rid"], {t["rid"]: ["read"]}]), ["grant", "read"]),
    rpc_op("lookup owner", D, lambda w, t: ("lookup", ["owner", t["rid"]]), ["lookup"]),
    rpc_op("revoke share", D, lambda w, t: ("revoke", ["share", t["spare_code"]]), ["revoke"]),
    rpc_op("create subscribed", D, lambda w, t: ("create", ["dataport", {"format": "integer",
                                                                         "subscribe": t["rid"]}]),
           ["create", "read"], read_only=True),
    rpc_op("create preprocess", D, lambda w, t: ("create", ["dataport", {"format": "integer",
                                                                         "preprocess": [["add", t["rid"]]]}]),
           ["create", "read"], read_only=True),
    rpc_op("update subscribe", D, lambda w, t: ("update", [{"alias": "pad"}, {"subscribe": t["rid"]}]),
           ["update", "read"], read_only=True),
    # targets: clients
    rpc_op("info client", C, lambda w, t: ("info", [t["rid"], {"basic": True}]), ["info"], read_only=True),
    Op("info key", C, lambda w, h, t: w.revealed(w.actor_auth(h), "info", [t["rid"], {"key": True}], "key"),
       ("info",), via="rpc", cik_only=True),
    rpc_op("create in", C, lambda w, t: ("create", [t["rid"], "dataport", {"format": "float"}]), ["create"]),
    rpc_op("listing", C, lambda w, t: ("listing", [t["rid"], ["dataport"], {}]), ["listing"]),
    rpc_op("usage", C, lambda w, t: ("usage", [t["rid"], "dataport", 0, 10]), ["usage"]),
    rpc_op("lookup alias", C, lambda w, t: ("lookup", [t["rid"], "alias", "seed"]), ["lookup"]),
    rpc_op("map in", C, lambda w, t: ("map", [t["rid"], "alias", t["rid"], fresh_name("m")]), ["map"]),
    rpc_op("unmap", C, lambda w, t: ("unmap", [t["rid"], "alias", "seed"]), ["unmap"]),
    rpc_op("drop client", C, lambda w, t: ("drop", [t["rid"]]), ["drop"]),
    rpc_op("update client", C, lambda w, t: ("update", [t["rid"], {"name": "n"}]), ["update"]),
    rpc_op("tag client", C, lambda w, t: ("tag", [t["rid"], "add", "x"]), ["tag"]),
    rpc_op("share client", C, lambda w, t: ("share", [t["rid"], {}]), ["share"]),
    rpc_op("grant client", C, lambda w, t: ("grant", [t["rid"], {t["rid"]: ["read"]}]), ["grant", "read"]),
    rpc_op("clone", C, lambda w, t: ("create", ["clone", {"rid": t["rid"]}]), ["create"]),
    rpc_op("activate as", C, lambda w, t: ("activate", [t["rid"], "share", t["port_code"]]), ["activate"]),
    rpc_op("lookup owner client", C, lambda w, t: ("lookup", ["owner", t["rid"]]), ["lookup"]),
    rpc_op("move client", C, lambda w, t: ("move", [t["rid"], {"alias": ""}, {}]), ["move"]),
]


def hdi_op(name, method, path, body, read_only, success):
    def run(world, holding, target):
        alias = target["alias"]
        response = world.hdi(method, path.format(alias=alias), body and body.format(alias=alias),
                             **({"Request-Timeout": "100", "If-Modified-Since": "0"} if name == "long poll" else {}))
        return {success: ALLOW, 403: DENY, 401: UNAUTHORIZED}.get(response.status, f"HTTP {response.status}")
    return Op(name, D, run, (), read_only, "hdi")


HDI_OPS = [
    hdi_op("HDI read", "GET", "/onep:v1/stack/alias?{alias}", None, True, 200),
    hdi_op("long poll", "GET", "/onep:v1/stack/alias?{alias}", None, True, 200),
    hdi_op("HDI write", "POST", "/onep:v1/stack/alias", "{alias}=1", False, 204),
    hdi_op("HDI hybrid", "POST", "/onep:v1/stack/alias?{alias}", "{alias}=1", False, 200),
    hdi_op("HDI record", "POST", "/onep:v1/stack/record", "alias={alias}&100=1", False, 204),
]


def subscribe_delivers(world, holding, target):
    t = 1000 + next(_names)
    world.ok(target["owner_auth"], "record", target["rid"], [[t, 5]], {})
    got = world.ok(world.a_cik, "read", target["follower"], {"starttime": t, "endtime": t})
    return ALLOW if got == [[t, 5]] else DENY


def preprocess_uses(world, holding, target):
    world.ok(world.a_cik, "record", target["pre"], [[100, 1]], {})
    got = world.ok(world.a_cik, "read", target["pre"], {"starttime": 100, "endtime": 100})
    return {str([[100, 1 + SEED_V]]): ALLOW, "[]": DENY}.get(str(got), f"stored {got}")


REFERENCE_OPS = [Op("subscribe delivery", D, subscribe_delivers, (), True, "reference"),
                 Op("preprocess operand", D, preprocess_uses, (), True, "reference")]

MODELS = "/provision/manage/model/"


def provision_op(name, request, success, on_actors_model=False):
    """request(world, target) -> (method, path, form body); target is a client.
    Refusals: 403 for a client outside the vendor's, 404 for another vendor's model."""
    def run(world, holding, target):
        method, path, body = request(world, target)
        response = world.provision(holding, method, path, body)
        denied = 404 if holding.vendor == "other" and on_actors_model else 403
        return {success: ALLOW, denied: DENY}.get(response.status, f"HTTP {response.status}")
    return Op(name, C, run, (), False, "provision")


def _enable(world, target):
    sn = fresh_name("sn")
    world.provision(Holding("setup", "actor", FULL), "POST", MODELS + "base/", f"sn={sn}")
    return "POST", f"{MODELS}base/{sn}", f"enable=true&owner={target['rid']}"


PROVISION_OPS = [
    provision_op("model from template", lambda w, t: ("POST", MODELS, f"model={fresh_name('m')}&rid={t['rid']}"),
                 205),
    provision_op("model template replaced", lambda w, t: ("PUT", MODELS + "base", f"rid={t['rid']}"), 205,
                 on_actors_model=True),
    provision_op("enable under owner", _enable, 200, on_actors_model=True),
]
OPS = RPC_OPS + HDI_OPS + REFERENCE_OPS + PROVISION_OPS


def applies(op, holding):
    if holding.vendor == "other" or op.via == "provision":
        return op.via == "provision" and holding.hdi
    if op.via == "hdi":
        return holding.hdi and holding.ever_readable
    if op.via == "reference":
        return holding.ever_readable
    return True


def expected(op, holding):
    """The contract's verdict for op on a resource held this way."""
    if holding.auth != "ok":
        return UNAUTHORIZED
    if holding.vendor == "other":
        return DENY
    if op.cik_only and (holding.token is not None or not holding.direct_owner):
        return DENY
    reach = holding.reach
    if holding.token is not None:
        held = set(holding.token) if holding.token_covers else set()
        if not {PERMISSION_OF.get(p, p) for p in op.needs} <= held:
            return DENY
    if reach == FULL or reach == READ and op.read_only:
        return ALLOW
    return DENY


# --- the world the cells run in ---------------------------------------------------------------
@dataclass
class World:
    rpc: object
    hdi: object
    a_cik: str
    a_rid: str
    b_cik: str
    b_rid: str
    vendor_tokens: dict        # "own" (A's) and "other" (B's) provisioning vendor tokens
    http: object
    url: str
    requests: int = 0
    auths: dict = field(default_factory=dict)    # holding name -> the actor's auth

    def batch(self, auth, calls):
        """Runs [(procedure, args)] in one request; returns the results (all must be ok)."""
        if not calls:
            return []
        self.requests += 1
        out = self.rpc(auth, [{"id": i, "procedure": p, "arguments": a} for i, (p, a) in enumerate(calls)])
        assert isinstance(out, list) and all(e["status"] == "ok" for e in out), (calls[:3], out)
        return [e.get("result") for e in out]

    def ok(self, auth, procedure, *args):
        return self.batch(auth, [(procedure, list(args))])[0]

    def verdict_of(self, auth, procedure, args):
        self.requests += 1
        out = self.rpc(auth, [{"id": 1, "procedure": procedure, "arguments": args}])
        if isinstance(out, dict):
            return UNAUTHORIZED if out.get("error", {}).get("code") == 401 else f"error {out}"
        status = out[0]["status"]
        return {"ok": ALLOW, "restricted": DENY, "noauth": DENY}.get(status, f"status {status}")

    def revealed(self, auth, procedure, args, key):
        """verdict_of for a call that leaves out what the caller may not see
        (info, spec 3.11): allowed only when `key` is in its result."""
        verdict = self.verdict_of(auth, procedure, args)
        if verdict != ALLOW:
            return verdict
        out = self.rpc(auth, [{"id": 1, "procedure": procedure, "arguments": args}])
        return ALLOW if key in out[0].get("result", {}) else DENY

    def provision(self, holding, method, path, body):
        headers = {"X-Exosite-Token": self.vendor_tokens[holding.vendor], "Content-Type": FORM}
        return self.http.request(method, self.url + path, body=body, headers=headers)

    def actor_auth(self, holding):
        return self.auths[holding.name]

    def owner_of(self, holding):
        """(auth of the targets' owner, the client they are created in)."""
        if holding.owner == "other":
            return self.b_cik, self.b_rid
        if holding.owner == "child":
            return self.a_cik, self.ok(self.a_cik, "create", "client", {"limits": INHERIT})
        return self.a_cik, self.a_rid

    # targets are built n at a time, in a few batched requests
    def build(self, holding, kind, n, owner_auth, parent):
        a = self.a_cik
        desc = {"format": "integer", "public": holding.public} if kind == D else {
            "limits": INHERIT, "public": holding.public}
        rids = self.batch(owner_auth, [("create", [parent, kind, desc])] * n)
        targets = [{"rid": rid, "owner_auth": owner_auth} for rid in rids]
        seeds = []
        for target in targets:
            rid = target["rid"]
            if kind == D:
                seeds += [("record", [rid, [[SEED_T, SEED_V]], {}]), ("share", [rid, {}]), ("share", [rid, {}])]
            else:
                seeds += [("map", [rid, "alias", rid, "seed"]), ("share", [rid, {}]),
                          ("create", [rid, "dataport", {"format": "float"}])]
        results = iter(self.batch(owner_auth, seeds))
        for target in targets:
            if kind == D:
                next(results)
                target["code"], target["spare_code"] = next(results), next(results)
            else:
                next(results)
                target["code"] = next(results)
                target["port"] = next(results)
        if kind == C:
            codes = self.batch(owner_auth, [("share", [t["port"], {}]) for t in targets])
            for target, code in zip(targets, codes):
                target["port_code"] = code
        if holding.shared:
            self.batch(a, [("activate", ["share", t["code"]]) for t in targets])
        if kind == D and holding.ever_readable:
            actor_calls = []
            for target in targets:
                target["alias"] = fresh_name("t")
                actor_calls += [("map", ["alias", target["rid"], target["alias"]]),
                                ("create", ["dataport", {"format": "integer", "subscribe": target["rid"]}]),
                                ("create", ["dataport", {"format": "integer",
                                                         "preprocess": [["add", target["rid"]]]}])]
            results = iter(self.batch(a, actor_calls))
            for target in targets:
                next(results)
                target["follower"], target["pre"] = next(results), next(results)
        if holding.end == "revoke":
            self.batch(owner_auth, [("revoke", ["share", t["code"]]) for t in targets])
        elif holding.end == "deactivate":
            self.batch(a, [("deactivate", ["share", t["code"]]) for t in targets])
        elif holding.end == "private":
            self.batch(owner_auth, [("update", [t["rid"], {"public": False}]) for t in targets])
        return targets

    def make_auth(self, holding, parent):
        """The actor's auth: A's CIK, or a token granted on the targets' owner
        client `parent` (by A's CIK, or by the CIK of `parent`, A's child, that
        A then revokes)."""
        if holding.token is None:
            return {"cik": self.a_cik}
        if holding.auth != "granter-gone":
            options = [{"ttl": 0}] if holding.auth == "expired" else []
            return {"token": self.ok(self.a_cik, "grant", self.a_rid, {self.a_rid: list(holding.token)}, *options)}
        permissions = {parent: list(holding.token)}
        child_cik = self.ok(self.a_cik, "info", parent, {"key": True})["key"]
        token = self.ok(child_cik, "grant", parent, permissions)
        if holding.derived:
            token = self.ok({"token": token}, "grant", parent, permissions)
        self.ok(self.a_cik, "revoke", "client", child_cik)
        return {"token": token}


@pytest.fixture
def world(rpc, server, http):
    def fountain():
        return orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)

    a, b = fountain(), fountain()
    a_cik, a_rid, b_cik, b_rid = a["cik"], a["rid"], b["cik"], b["rid"]

    def hdi(method, path, body=None, **headers):
        headers = {"X-Exosite-CIK": a_cik, **({"Content-Type": FORM} if body is not None else {}), **headers}
        return http.request(method, server.url + path, body=body, headers=headers)

    made = World(rpc, hdi, a_cik, a_rid, b_cik, b_rid, {"own": a["vendortoken"], "other": b["vendortoken"]},
                 http, server.url)
    # provisioning: A's model "base", whose template and devices the cells change
    assert made.provision(Holding("setup", "actor", FULL), "POST", MODELS, f"model=base&rid={a_rid}").status == 205
    # "update subscribe" updates a port of the actor's own
    made.ok(a_cik, "map", "alias", made.ok(a_cik, "create", "dataport", {"format": "integer"}), "pad")
    return made


def test_isolation_matrix(world, record_property):
    cells = mismatches = 0
    failures = []
    for holding in HOLDINGS:
        ops = [op for op in OPS if applies(op, holding)]
        owner_auth, parent = world.owner_of(holding)
        targets = {kind: iter(world.build(holding, kind, sum(op.kind == kind for op in ops), owner_auth, parent))
                   for kind in (D, C)}
        world.auths[holding.name] = world.make_auth(holding, parent)
        for op in ops:
            want = expected(op, holding)
            got = op.run(world, holding, next(targets[op.kind]))
            cells += 1
            if got != want:
                mismatches += 1
                failures.append(f"{op.name} × {holding.name}: expected {want}, got {got}")
    breaches = [f for f in failures if "expected deny" in f or "expected 401" in f]
    record_property("cells", cells)
    record_property("breaches", len(breaches))
    print(f"\nisolation matrix: {cells} cells, {len(breaches)} breaches, {mismatches} mismatches, "
          f"{world.requests} RPC requests")
    assert not failures, "\n".join(failures)
    assert cells >= len(HOLDINGS) * len(RPC_OPS)

