"""The embedded One Platform server over loopback HTTP: envelope, auth,
resources, aliases, shares, tokens (spec sections 1-3, 8, 9)."""
import orjson
import pytest

from rpc_helpers import FAIL_ARGUMENTS, INHERIT, RID, make_client, make_dataport, ok, one


# --- envelope and auth -------------------------------------------------------------
def test_whole_request_errors(rpc, http, server, fresh_client):
    post = lambda body: orjson.loads(http.request("POST", server.url + "/onep:v1/rpc/process", body=body).data)
    assert post(b"{not json")["error"]["code"] == -1
    assert post(b"[1, 2]")["error"] == {"code": 400, "message": "Bad Request", "context": "auth"}
    assert post(b'{"calls": []}')["error"]["code"] == 400
    assert post(b'{"auth": "abc", "calls": []}')["error"] == {"code": 400, "message": "Bad Request", "context": "auth"}
    body = orjson.dumps({"auth": {"cik": fresh_client["cik"]}, "calls": {"id": 1}})
    assert post(body)["error"] == {"code": 400, "message": "Bad Request", "context": "calls"}
    assert rpc({"cik": "f" * 40}, []) == {"error": {"code": 401, "message": "Invalid", "context": "auth"}}
    assert rpc({"token": "f" * 40}, [])["error"]["code"] == 401


def test_ids_order_and_silent_calls(rpc, fresh_client):
    cik = fresh_client["cik"]
    make_dataport(rpc, cik, alias="t")
    out = rpc(cik, [
        {"id": "w", "procedure": "write", "arguments": [{"alias": "t"}, 1.5, {}]},
        {"procedure": "write", "arguments": [{"alias": "t"}, 2.5, {}]},
        {"id": 7, "procedure": "read", "arguments": [{"alias": "t"}, {"limit": 1}]},
    ])
    assert [e["id"] for e in out] == ["w", 7]
    assert out[0] == {"id": "w", "status": "ok"}          # no result key at all
    assert out[1]["result"][0][1] == 2.5                  # the silent call ran, in order
    assert rpc(cik, [{"procedure": "write", "arguments": [{"alias": "t"}, 3, {}]}]) is None
    assert ok(rpc, cik, "read", {"alias": "t"}, {})[0][1] == 3.0


def test_an_answer_of_many_small_entries_past_a_write_piece_arrives_whole_in_order(rpc, fresh_client):
    """20,000 small entries (about 2 MB) are written gathered into pieces
    (http.body_response): every entry arrives, in call order."""
    cik = fresh_client["cik"]
    make_dataport(rpc, cik, "string", alias="t")
    ok(rpc, cik, "write", {"alias": "t"}, "v" * 60, {})
    out = rpc(cik, [{"id": n, "procedure": "read", "arguments": [{"alias": "t"}, {}]} for n in range(20000)])
    assert [e["id"] for e in out] == list(range(20000))
    assert {(e["status"], e["result"][0][1]) for e in out} == {("ok", "v" * 60)}


def test_per_call_protocol_errors(rpc, fresh_client):
    cik = fresh_client["cik"]
    assert one(rpc, cik, "nosuch") == {"status": "fail", "error": {"code": 501, "message": "Error",
                                                                   "context": "procedure"}}
    assert one(rpc, cik, "read") == FAIL_ARGUMENTS
    assert one(rpc, cik, "read", {"alias": ""}, "not options") == FAIL_ARGUMENTS
    assert one(rpc, cik, "writegroup", "x") == FAIL_ARGUMENTS
    out = rpc(cik, [{"id": 1, "procedure": "info", "arguments": "nope"}])
    assert out[0]["status"] == "fail"
    # wrong types of values are "invalid", never a crash
    assert one(rpc, cik, "read", 12, {})["status"] == "invalid"
    assert one(rpc, cik, "read", {"alias": 5}, {})["status"] == "invalid"
    assert one(rpc, cik, "create", "dataport", "not a description")["status"] == "invalid"
    assert one(rpc, cik, "create", "dataport", {"format": "float", "public": "yes"})["status"] == "invalid"
    long_id = "x" * 41
    assert rpc(cik, [{"id": long_id, "procedure": "info", "arguments": [{"alias": ""}, {}]}])[0]["status"] == "fail"


def test_auth_forms_client_id_resource_id(rpc, fresh_client):
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    port = make_dataport(rpc, child_cik, alias="p")
    as_child = {"cik": cik, "client_id": child_rid}
    assert ok(rpc, as_child, "lookup", "alias", "p") == port
    owner_of_port = {"cik": cik, "resource_id": port}
    assert ok(rpc, owner_of_port, "lookup", "alias", "") == child_rid
    # the CIK's client must be an ancestor of the target
    assert rpc({"cik": child_cik, "client_id": fresh_client["rid"]}, [])["error"]["code"] == 401
    assert rpc({"cik": cik, "client_id": "0" * 40}, [])["error"]["code"] == 401


def test_tokens_permissions_and_ttl(rpc, fresh_client):
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    token = ok(rpc, cik, "grant", child_rid, {child_rid: ["read", "write"]}, {"ttl": 1000})
    assert RID.match(token)
    make_dataport(rpc, child_cik, "string", alias="message")   # created after the grant: still covered
    assert ok(rpc, {"token": token}, "write", {"alias": "message"}, "你好", {}) is None
    assert ok(rpc, {"token": token}, "read", {"alias": "message"}, {"limit": 1})[0][1] == "你好"
    assert one(rpc, {"token": token}, "flush", {"alias": "message"})["status"] == "restricted"
    assert ok(rpc, cik, "listing", child_rid, ["token"], {}) == {"token": [token]}
    expired = ok(rpc, cik, "grant", child_rid, {child_rid: ["read"]}, {"ttl": 0})
    assert rpc({"token": expired}, [])["error"]["code"] == 401
    assert one(rpc, cik, "grant", child_rid, {child_rid: "read"})["status"] == "invalid"
    ok(rpc, cik, "drop", child_rid)
    assert rpc({"token": token}, [])["error"]["code"] == 401


def test_locked_client_gets_locked_on_every_call(rpc, fresh_client):
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    ok(rpc, cik, "update", child_rid, {"locked": True})
    assert one(rpc, child_cik, "info", {"alias": ""}, {}) == {"status": "locked"}
    assert ok(rpc, cik, "info", child_rid, {"basic": True})["basic"]["status"] == "locked"


# --- create / info / update / drop --------------------------------------------------
def test_create_defaults_and_limits(rpc, fresh_client):
    cik = fresh_client["cik"]
    rid = ok(rpc, cik, "create", "client", {"writeinterval": "inherit", "name": "testclient", "visibility": "parent",
                                             "limits": {**INHERIT, "io": "inherit"}})
    assert RID.match(rid)
    info = ok(rpc, cik, "info", rid, {"key": True, "basic": True, "description": True})
    assert info["basic"]["status"] == "activated"
    assert info["description"] == {"limits": INHERIT, "locked": False, "meta": "", "name": "testclient",
                                   "public": False}
    child_cik = info["key"]
    port = ok(rpc, child_cik, "create", "dataport", {"format": "string", "limits": {"x": 1}, "name": "é"})
    desc = ok(rpc, child_cik, "info", port, {"description": True})["description"]
    assert desc == {"format": "string", "meta": "", "name": "é", "preprocess": [], "public": False,
                    "retention": {"count": "infinity", "duration": "infinity"}, "subscribe": None}
    assert one(rpc, child_cik, "create", "dataport", {"name": "no format"})["status"] == "invalid"
    assert one(rpc, child_cik, "create", "gizmo", {}) == FAIL_ARGUMENTS       # no such short form
    assert one(rpc, child_cik, "create", {"alias": ""}, "gizmo", {})["status"] == "invalid"
    # a client created without limits may own nothing
    bare = ok(rpc, cik, "create", "client", {})
    bare_cik = ok(rpc, cik, "info", bare, {"key": True})["key"]
    assert one(rpc, bare_cik, "create", "dataport", {"format": "float"})["status"] == "limit"
    ok(rpc, cik, "update", bare, {"limits": {"dataport": 1}})
    make_dataport(rpc, bare_cik)
    assert one(rpc, bare_cik, "create", "dataport", {"format": "float"})["status"] == "limit"
    assert one(rpc, cik, "update", bare, {"limits": {"dataport": 0}})["status"] == "limit"
    # current (3-argument) form, creating under a child by RID
    assert RID.match(ok(rpc, cik, "create", rid, "dataport", {"format": "integer"}))


def test_create_datarule_and_dispatch_descriptions(rpc, fresh_client):
    cik = fresh_client["cik"]
    source = make_dataport(rpc, cik, alias="src")
    rule = ok(rpc, cik, "create", "datarule", {"format": "integer", "subscribe": {"alias": "src"},
                                                "rule": {"simple": {"comparison": "gt", "constant": 10,
                                                                    "repeat": True}}})
    dispatch = ok(rpc, cik, "create", "dispatch", {"method": "email", "recipient": "a@b.c", "subscribe": source})
    assert ok(rpc, cik, "info", dispatch, {"description": True})["description"]["subscribe"] == source
    assert one(rpc, cik, "create", "dispatch", {"method": "pigeon", "recipient": "x"})["status"] == "invalid"
    assert one(rpc, cik, "create", "datarule", {"format": "integer", "rule": {"simple": {}}})["status"] == "invalid"
    subs = ok(rpc, cik, "info", source, {"subscribers": True, "basic": True})
    assert subs["basic"]["subscribers"] == 2
    assert subs["subscribers"] == [{"datarule": [rule]}, {"dispatch": [dispatch]}]
    # simple rules run on subscription: output 0/1 at the same timestamp
    ok(rpc, cik, "record", source, [[100, 5], [200, 50]], {})
    assert ok(rpc, cik, "read", rule, {"limit": 5, "sort": "asc"}) == [[100, 0], [200, 1]]
    assert ok(rpc, cik, "read", dispatch, {"limit": 5, "sort": "asc"}) == [[100, "delivered"], [200, "delivered"]]


def test_update_merges_and_rules(rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, retention={"count": 5, "duration": "infinity"})
    ok(rpc, cik, "update", port, {"retention": {"duration": 24}, "name": "renamed"})
    desc = ok(rpc, cik, "info", port, {"description": True})["description"]
    assert desc["retention"] == {"count": 5, "duration": 24} and desc["name"] == "renamed"
    assert one(rpc, cik, "update", port, {"format": "string"})["status"] == "invalid"
    assert one(rpc, cik, "update", {"alias": ""}, {"name": "me"})["status"] == "restricted"
    child_cik, child_rid = make_client(rpc, cik)
    ok(rpc, cik, "update", child_rid, {"limits": {"client": 3}})
    limits = ok(rpc, cik, "info", child_rid, {"description": True})["description"]["limits"]
    assert limits["client"] == 3 and limits["dataport"] == "inherit"


def test_info_visibility_and_keys(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    child_cik, child_rid = make_client(rpc, cik)
    grandchild_cik, grandchild_rid = make_client(rpc, child_cik)
    everything = ok(rpc, cik, "info", child_rid, {})
    assert set(everything) == {"aliases", "basic", "comments", "counts", "description", "key", "shares",
                               "subscribers", "tagged", "tags", "usage"}
    assert everything["key"] == child_cik
    assert everything["usage"]["client"] == 1 and everything["counts"]["client"] == 1
    # grandparent: no key, shares or tagged (left out when asked for, never refused: spec 3.11)
    assert "key" not in ok(rpc, cik, "info", grandchild_rid, {})
    assert ok(rpc, cik, "info", grandchild_rid, {"key": True}) == {}
    assert ok(rpc, cik, "info", grandchild_rid, {"shares": True, "tagged": True, "tags": True}) == {"tags": []}
    assert set(ok(rpc, cik, "info", grandchild_rid, {"basic": True, "usage": True})) == {"basic", "usage"}
    # outside the subhierarchy
    assert one(rpc, child_cik, "info", rid, {})["status"] == "restricted"
    assert one(rpc, cik, "info", "0" * 40, {})["status"] == "restricted"      # never existed: unreachable too
    assert one(rpc, cik, "info", "0" * 39, {})["status"] == "invalid"         # malformed
    ok(rpc, cik, "comment", child_rid, "public", "hello")
    assert ok(rpc, cik, "info", child_rid, {"comments": True}) == {"comments": [["public", "hello"]]}


def test_drop_cleans_everything(rpc, fresh_client):
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    port = make_dataport(rpc, child_cik)
    ok(rpc, cik, "map", "alias", port, "deep")
    follower = make_dataport(rpc, cik, subscribe=port)
    code = ok(rpc, cik, "share", port, {})
    ok(rpc, cik, "drop", child_rid)
    assert one(rpc, cik, "info", child_rid, {})["status"] == "restricted"    # dropped: unreachable (spec 2.1)
    assert one(rpc, cik, "info", port, {})["status"] == "restricted"
    assert one(rpc, cik, "lookup", "alias", "deep")["status"] == "invalid"
    assert one(rpc, cik, "lookup", "shared", code)["status"] == "invalid"
    assert ok(rpc, cik, "info", follower, {"description": True})["description"]["subscribe"] is None
    assert rpc(child_cik, [])["error"]["code"] == 401
    assert one(rpc, cik, "drop", {"alias": ""})["status"] == "restricted"
    assert one(rpc, cik, "drop", child_rid)["status"] == "restricted"


def test_move(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    cik2, rid2 = make_client(rpc, cik)
    cik3, rid3 = make_client(rpc, cik2)
    port = make_dataport(rpc, cik3)
    ok(rpc, cik2, "map", "alias", port, "p")
    assert ok(rpc, cik, "move", rid3, rid, {"aliases": True}) is None
    assert ok(rpc, cik, "lookup", "owner", rid3) == rid
    assert one(rpc, cik2, "lookup", "alias", "p")["status"] == "invalid"    # no longer an ancestor
    assert ok(rpc, cik, "lookup", "alias", "p") == port                     # re-created at the new owner
    assert one(rpc, cik, "move", rid2, rid2, {})["status"] == "invalid"
    assert one(rpc, cik, "move", {"alias": ""}, rid2, {})["status"] == "invalid"
    ok(rpc, cik3, "map", "alias", port, "own")
    ok(rpc, cik, "move", port, rid2, {"aliases": False})
    assert one(rpc, cik3, "lookup", "alias", "own")["status"] == "invalid"     # deleted ...
    assert one(rpc, cik2, "lookup", "alias", "own")["status"] == "invalid"     # ... not re-created
    assert ok(rpc, cik, "lookup", "alias", "p") == port                        # still an ancestor


def test_listing_variants(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    assert ok(rpc, cik, "listing", ["client", "dataport"]) == [[], []]
    a = make_dataport(rpc, cik)
    c_cik, c_rid = make_client(rpc, cik)
    b = make_dataport(rpc, cik)
    assert ok(rpc, cik, "listing", ["dataport", "client"]) == [[a, b], [c_rid]]
    assert ok(rpc, cik, "listing", ["client", "dataport"], {}) == {"client": [c_rid], "dataport": [a, b]}
    assert ok(rpc, cik, "listing", {"alias": ""}, ["dataport"], []) == {"dataport": [a, b]}
    ok(rpc, cik, "tag", b, "add", "blue")
    assert ok(rpc, cik, "listing", rid, ["dataport"], {"owned": True, "tagged": ["blue"]}) == {"dataport": [b]}
    other = make_dataport(rpc, c_cik, public=True)
    ok(rpc, cik, "map", "alias", other, "theirs")
    listed = ok(rpc, cik, "listing", ["dataport"], {"aliased": True})
    assert listed == {"dataport": [other]}
    assert other in ok(rpc, cik, "listing", ["dataport"], {"public": True})["dataport"]
    bad = one(rpc, cik, "listing", ["dataport", "gadget"], {})
    assert bad["status"] == "error" and "gadget" in bad["result"]


def test_usage(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    ports = [make_dataport(rpc, cik), make_dataport(rpc, cik)]
    start = max(ok(rpc, cik, "info", p, {"basic": True})["basic"]["created"] for p in ports)
    assert ok(rpc, cik, "usage", rid, "dataport", start, start + 10) == 20   # 2 dataports over 10 s
    assert ok(rpc, cik, "usage", rid, "client", start, start + 10) == 0
    assert ok(rpc, cik, "usage", rid, "email", 0, 10) == 0
    assert one(rpc, cik, "usage", rid, "dataport", 10, 0)["status"] == "invalid"
    assert one(rpc, cik, "usage", rid, "widgets", 0, 10)["status"] == "invalid"


# --- aliases, lookup -----------------------------------------------------------------
def test_map_unmap_lookup(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    port = make_dataport(rpc, cik, alias="temp")
    ok(rpc, cik, "map", "alias", port, "second")          # one RID, several aliases
    assert one(rpc, cik, "map", "alias", port, "temp")["status"] == "inuse"
    assert one(rpc, cik, "map", "alias", "0" * 40, "x")["status"] == "restricted"
    assert one(rpc, cik, "map", "alias", port, "")["status"] == "invalid"
    assert ok(rpc, cik, "lookup", "alias", "temp") == port
    assert ok(rpc, cik, "lookup", "aliased", "second") == port
    assert ok(rpc, cik, "lookup", "alias", "") == rid
    assert ok(rpc, cik, "lookup", rid, "alias", "temp") == port
    assert ok(rpc, cik, "lookup", "owner", port) == rid
    assert one(rpc, cik, "lookup", "owner", rid)["status"] == "restricted"
    assert ok(rpc, cik, "info", {"alias": ""}, {"aliases": True})["aliases"] == {port: ["temp", "second"]}
    ok(rpc, cik, "unmap", "alias", "second")
    ok(rpc, cik, "unmap", rid, "alias", "temp")
    assert one(rpc, cik, "unmap", "alias", "temp") == {"status": "ok"}        # not mapped: nothing to remove
    assert one(rpc, cik, "lookup", "alias", "temp")["status"] == "invalid"


# --- shares, codes ---------------------------------------------------------------------
def test_share_activate_deactivate_revoke(rpc, fresh_client):
    cik = fresh_client["cik"]
    owner_cik, owner_rid = make_client(rpc, cik)
    reader_cik, reader_rid = make_client(rpc, cik)
    port = make_dataport(rpc, owner_cik)
    ok(rpc, owner_cik, "write", port, 1.5, {})
    code = ok(rpc, owner_cik, "share", port, {"meta": "m"})
    assert RID.match(code)
    assert ok(rpc, owner_cik, "share", port, {"meta": "m2", "code": code}) == code
    assert ok(rpc, owner_cik, "info", port, {"shares": True})["shares"] == [
        {"activator": None, "code": code, "meta": "m2"}]
    assert ok(rpc, reader_cik, "lookup", "shared", code) == port
    assert one(rpc, reader_cik, "read", port, {})["status"] == "restricted"
    ok(rpc, reader_cik, "activate", "share", code)
    assert one(rpc, reader_cik, "activate", "share", code)["status"] == "invalid"   # once only
    assert ok(rpc, reader_cik, "read", port, {})[0][1] == 1.5
    assert set(ok(rpc, reader_cik, "info", port, {})) == {"basic", "description"}
    assert one(rpc, reader_cik, "write", port, 2, {})["status"] == "restricted"
    assert ok(rpc, reader_cik, "listing", ["dataport"], {"activated": True}) == {"dataport": [port]}
    ok(rpc, reader_cik, "deactivate", "share", port)          # by the shared RID
    assert one(rpc, reader_cik, "read", port, {})["status"] == "restricted"
    assert one(rpc, reader_cik, "revoke", "share", code)["status"] == "noauth"
    ok(rpc, owner_cik, "revoke", "share", code)
    assert one(rpc, reader_cik, "lookup", "shared", code)["status"] == "invalid"


def test_client_codes_revoke_activate_deactivate(rpc, fresh_client):
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    other_cik, _ = make_client(rpc, cik)
    assert one(rpc, other_cik, "revoke", "client", child_cik)["status"] == "noauth"
    new_cik = ok(rpc, cik, "revoke", "client", child_cik)
    assert RID.match(new_cik) and new_cik != child_cik
    assert rpc(child_cik, [])["error"]["code"] == 401
    assert ok(rpc, cik, "info", child_rid, {"basic": True})["basic"]["status"] == "notactivated"
    assert rpc(new_cik, [])["error"]["code"] == 401
    ok(rpc, cik, "activate", "client", new_cik)
    assert one(rpc, cik, "activate", "client", new_cik)["status"] == "invalid"
    assert rpc(new_cik, [{"id": 1, "procedure": "lookup", "arguments": ["alias", ""]}])[0]["result"] == child_rid
    ok(rpc, cik, "deactivate", "client", new_cik)
    assert ok(rpc, cik, "info", child_rid, {"basic": True})["basic"]["status"] == "expired"
    assert rpc(new_cik, [])["error"]["code"] == 401
    assert one(rpc, cik, "activate", "client", "e" * 40)["status"] == "invalid"


def test_clone(rpc, fresh_client):
    cik = fresh_client["cik"]
    template_cik, template_rid = make_client(rpc, cik)
    port = make_dataport(rpc, template_cik, alias="temp")
    ok(rpc, template_cik, "record", port, [[10, 1.0], [20, 2.0]], {})
    copy = ok(rpc, cik, "create", "clone", {"rid": template_rid})
    copy_cik = ok(rpc, cik, "info", copy, {"key": True})["key"]
    ok(rpc, cik, "activate", "client", copy_cik)             # clones start notactivated (spec 3.8)
    copied_port = ok(rpc, copy_cik, "lookup", "alias", "temp")
    assert copied_port != port
    assert ok(rpc, copy_cik, "read", {"alias": "temp"}, {"limit": 5}) == [[20, 2.0], [10, 1.0]]
    bare = ok(rpc, cik, "create", "clone", {"rid": template_rid, "noaliases": True, "nohistorical": True})
    bare_cik = ok(rpc, cik, "info", bare, {"key": True})["key"]
    ok(rpc, cik, "activate", "client", bare_cik)
    assert one(rpc, bare_cik, "lookup", "alias", "temp")["status"] == "invalid"
    bare_port, = ok(rpc, bare_cik, "listing", ["dataport"], {})["dataport"]
    assert ok(rpc, bare_cik, "read", bare_port, {}) == []
    code = ok(rpc, cik, "share", template_rid, {})
    assert RID.match(ok(rpc, cik, "create", "clone", {"code": code}))
    assert one(rpc, cik, "create", "clone", {"rid": template_rid, "code": code})["status"] == "invalid"


def test_tag(rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik)
    ok(rpc, cik, "tag", port, "add", "a")
    ok(rpc, cik, "tag", port, "add", "b")
    ok(rpc, cik, "tag", port, "remove", "a")
    assert ok(rpc, cik, "info", port, {"tags": True}) == {"tags": ["b"]}
    assert one(rpc, cik, "tag", port, "paint", "a") == {"status": "badarg"}
    assert one(rpc, cik, "tag", port, "add", 5) == {"status": "badarg"}


@pytest.mark.parametrize("procedure,arguments", [
    ("write", ["RID", 1, {}]), ("read", ["RID", {}]), ("flush", ["RID"]), ("drop", ["RID"]),
    ("update", ["RID", {"name": "x"}]), ("info", ["RID", {}]), ("share", ["RID", {}]),
])
def test_restricted_outside_subhierarchy(rpc, fresh_client, server, http, procedure, arguments):
    other = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)
    port = make_dataport(rpc, other["cik"])
    arguments = [port if a == "RID" else a for a in arguments]
    assert one(rpc, fresh_client["cik"], procedure, *arguments)["status"] == "restricted"
