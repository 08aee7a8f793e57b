"""One Platform behaviours that programs written for the hosted platform
depend on (issue 10; spec 2.1, 3.1, 3.8, 3.11, 3.16, 7), against the
embedded server over loopback HTTP."""
import orjson

from rpc_helpers import make_client, make_dataport, ok, one


def test_givenwindow_earliest_point_of_each_window(rpc, fresh_client):
    # the worked example of spec 3.1
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "record", port, [[t, t * 10] for t in (1, 2, 3, 4, 5, 8)], {})
    window = {"starttime": 1, "endtime": 10, "limit": 2, "selection": "givenwindow"}
    assert ok(rpc, cik, "read", port, {**window, "sort": "desc"}) == [[8, 80], [1, 10]]
    assert ok(rpc, cik, "read", port, {**window, "sort": "asc"}) == [[1, 10], [8, 80]]
    # an empty window gives nothing; the others still their earliest point
    assert ok(rpc, cik, "read", port, {**window, "limit": 5, "sort": "desc"}) == [[8, 80], [5, 50], [3, 30], [1, 10]]


def _rid_calls(rid):
    """Every procedure that takes a ResourceID, each naming rid."""
    return [("read", rid, {}), ("write", rid, 1, {}), ("writegroup", [[rid, 1]]), ("record", rid, [[1, 1]], {}),
            ("recordbatch", rid, [[1, 1]]), ("flush", rid), ("wait", rid, {"timeout": 0}), ("info", rid, {}),
            ("update", rid, {"name": "x"}), ("drop", rid), ("map", "alias", rid, "a"), ("share", rid, {}),
            ("tag", rid, "add", "t"), ("grant", rid, {rid if isinstance(rid, str) else "x": ["read"]}), ("move", rid, {"alias": ""}, {}),
            ("lookup", "owner", rid), ("usage", rid, "dataport", 0, 10), ("listing", rid, ["dataport"], {}),
            ("create", rid, "dataport", {"format": "float"}), ("comment", rid, "public", "x"),
            ("create", "dataport", {"format": "float", "subscribe": rid})]


def test_unreachable_rids_are_restricted_everywhere(rpc, fresh_client, server, http):
    cik = fresh_client["cik"]
    stranger = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]
    elsewhere = make_dataport(rpc, stranger)                   # exists, in another client's tree
    dropped = make_dataport(rpc, cik)
    ok(rpc, cik, "drop", dropped)
    for rid in (elsewhere, dropped, "0" * 40):
        for procedure, *arguments in _rid_calls(rid):
            assert one(rpc, cik, procedure, *arguments)["status"] == "restricted", (procedure, rid)
    assert ok(rpc, stranger, "read", elsewhere, {}) == []       # nothing reached it
    for malformed in ("0" * 39, "G" * 40, 12):
        for procedure, *arguments in _rid_calls(malformed):
            if procedure not in ("grant", "listing", "usage", "create"):
                assert one(rpc, cik, procedure, *arguments)["status"] == "invalid", (procedure, malformed)
    for procedure, *arguments in _rid_calls({"alias": "nowhere"}):
        if procedure not in ("grant", "listing", "usage", "create"):
            assert one(rpc, cik, procedure, *arguments)["status"] == "invalid", (procedure, "alias")


def test_unmap_of_an_alias_not_mapped_is_ok(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    port = make_dataport(rpc, cik, alias="temp")
    assert one(rpc, cik, "unmap", "alias", "never") == {"status": "ok"}
    assert one(rpc, cik, "unmap", rid, "alias", "never") == {"status": "ok"}
    ok(rpc, cik, "unmap", "alias", "temp")
    assert one(rpc, cik, "unmap", "alias", "temp") == {"status": "ok"}      # twice: still ok
    assert one(rpc, cik, "lookup", "alias", "temp")["status"] == "invalid"
    assert ok(rpc, cik, "info", port, {"basic": True})["basic"]["type"] == "dataport"   # resource untouched


ALL_INFO = {key: True for key in ("aliases", "basic", "comments", "counts", "description", "key", "shares",
                                  "storage", "subscribers", "tagged", "tags", "usage")}


def test_info_leaves_out_never_refuses(rpc, fresh_client):
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    # a client asking about itself with every option: everything but key
    itself = ok(rpc, child_cik, "info", {"alias": ""}, ALL_INFO)
    assert set(itself) == {"aliases", "basic", "comments", "counts", "description", "shares", "subscribers",
                           "tagged", "tags", "usage"}
    assert ok(rpc, child_cik, "info", {"alias": ""}, {"key": True}) == {}
    # the direct owner gets the key
    assert ok(rpc, cik, "info", child_rid, {"key": True}) == {"key": child_cik}
    # a reader through an activated share: basic and description only
    port = make_dataport(rpc, cik, name="shared port")
    reader_cik, _ = make_client(rpc, cik)
    ok(rpc, reader_cik, "activate", "share", ok(rpc, cik, "share", port, {}))
    shared = ok(rpc, reader_cik, "info", port, ALL_INFO)
    assert set(shared) == {"basic", "description"} and shared["description"]["name"] == "shared port"
    assert set(ok(rpc, reader_cik, "info", port, {})) == {"basic", "description"}
    assert ok(rpc, reader_cik, "info", port, {"storage": True, "shares": True}) == {}


def test_aliases_shown_to_the_client_and_its_direct_owner(rpc, fresh_client):
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    grandchild_cik, grandchild_rid = make_client(rpc, child_cik)
    port = make_dataport(rpc, grandchild_cik, alias="temp")
    ok(rpc, grandchild_cik, "map", "alias", port, "second")
    real = {port: ["temp", "second"]}
    assert ok(rpc, grandchild_cik, "info", {"alias": ""}, {"aliases": True}) == {"aliases": real}   # itself
    assert ok(rpc, child_cik, "info", grandchild_rid, {"aliases": True}) == {"aliases": real}      # direct owner
    assert ok(rpc, cik, "info", grandchild_rid, {"aliases": True}) == {"aliases": {port: "undefined"}}
    assert ok(rpc, cik, "info", grandchild_rid, {})["aliases"] == {port: "undefined"}


def test_clones_start_notactivated_until_their_owner_activates_them(rpc, fresh_client):
    cik = fresh_client["cik"]
    template_cik, template_rid = make_client(rpc, cik)
    _, inner_rid = make_client(rpc, template_cik)
    copy = ok(rpc, cik, "create", "clone", {"rid": template_rid})
    copy_cik = ok(rpc, cik, "info", copy, {"key": True})["key"]
    assert ok(rpc, cik, "info", copy, {"basic": True})["basic"]["status"] == "notactivated"
    assert rpc(copy_cik, [{"id": 1, "procedure": "info", "arguments": [{"alias": ""}, {}]}])["error"]["code"] == 401
    assert ok(rpc, cik, "activate", "client", copy_cik) is None
    assert ok(rpc, copy_cik, "info", {"alias": ""}, {"basic": True})["basic"]["status"] == "activated"
    # the client inside the copy too: its owner (the copy) activates it
    inner_copy, = ok(rpc, copy_cik, "listing", ["client"], {})["client"]
    assert inner_copy != inner_rid
    inner_cik = ok(rpc, copy_cik, "info", inner_copy, {"key": True})["key"]
    assert ok(rpc, copy_cik, "info", inner_copy, {"basic": True})["basic"]["status"] == "notactivated"
    assert rpc(inner_cik, [])["error"]["code"] == 401
    assert one(rpc, cik, "activate", "client", inner_cik)["status"] == "noauth"       # not its owner
    ok(rpc, copy_cik, "activate", "client", inner_cik)
    assert rpc(inner_cik, []) is None
    assert one(rpc, cik, "activate", "client", copy_cik)["status"] == "invalid"       # once only
