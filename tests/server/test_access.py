"""Regression tests for issue 9 items 2, 4 and 5: the HTTP Data Interface,
tokens and references (subscribe, preprocess) go through the one access
check of spec 2.4 / 3.23."""
import orjson
import pytest

from polling import eventually
from rpc_helpers import make_client, make_dataport, ok, one

ALIAS = "/onep:v1/stack/alias"
RECORD = "/onep:v1/stack/record"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.fixture
def tenants(server, http):
    """Two unrelated fountain clients: (cik of A, cik of B)."""
    def fountain():
        return orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)["cik"]
    return fountain(), fountain()


@pytest.fixture
def hdi(server, http):
    """hdi(method, path, cik, body=None, **headers) -> urllib3 response."""
    def request(method, path, cik, body=None, **headers):
        headers = {"X-Exosite-CIK": cik, **({"Content-Type": FORM} if body is not None else {}),
                   **{k.replace("_", "-"): v for k, v in headers.items()}}
        return http.request(method, server.url + path, body=body, headers=headers)
    return request


def latest(rpc, cik, port):
    return ok(rpc, cik, "read", port, {"limit": 1})


# --- item 2: HDI goes through the same check as RPC ----------------------------------
def test_hdi_cannot_write_another_tenants_public_port(rpc, hdi, tenants):
    a, b = tenants
    port = make_dataport(rpc, a, "integer", public=True)
    ok(rpc, a, "write", port, 1, {})
    ok(rpc, b, "map", "alias", port, "theirs")
    assert one(rpc, b, "write", {"alias": "theirs"}, 2, {})["status"] == "restricted"
    assert hdi("POST", ALIAS, b, "theirs=2").status == 403
    assert hdi("POST", RECORD, b, "alias=theirs&100=2").status == 403
    assert latest(rpc, a, port)[0][1] == 1 and ok(rpc, a, "read", port, {"starttime": 100, "endtime": 100}) == []
    assert hdi("GET", ALIAS + "?theirs", b).data == b"theirs=1"      # reading a public port is allowed
    ok(rpc, a, "update", port, {"public": False})
    assert one(rpc, b, "read", {"alias": "theirs"}, {})["status"] == "restricted"
    assert hdi("GET", ALIAS + "?theirs", b).status == 403
    assert hdi("GET", ALIAS + "?theirs", b, Request_Timeout="50", If_Modified_Since="0").status == 403


def test_hdi_reads_of_a_shared_port_end_with_the_share(rpc, hdi, tenants):
    a, b = tenants
    port = make_dataport(rpc, a, "integer")
    ok(rpc, a, "write", port, 7, {})
    code = ok(rpc, a, "share", port, {})
    ok(rpc, b, "activate", "share", code)
    ok(rpc, b, "map", "alias", port, "shared")
    assert hdi("GET", ALIAS + "?shared", b).data == b"shared=7"
    assert hdi("POST", ALIAS, b, "shared=8").status == 403           # a share is read-only
    assert hdi("POST", ALIAS + "?shared", b, "shared=8").status == 403
    assert latest(rpc, a, port)[0][1] == 7
    ok(rpc, a, "revoke", "share", code)
    assert hdi("GET", ALIAS + "?shared", b).status == 403
    assert hdi("GET", ALIAS + "?shared", b, Request_Timeout="50", If_Modified_Since="0").status == 403


def test_hdi_long_poll_ends_when_access_ends_while_waiting(rpc, hdi, tenants, server, http):
    """A long poll that started with access gets no point written after the share was revoked."""
    import threading

    a, b = tenants
    port = make_dataport(rpc, a, "integer")
    code = ok(rpc, a, "share", port, {})
    ok(rpc, b, "activate", "share", code)
    ok(rpc, b, "map", "alias", port, "shared")
    store = server.store
    answer = {}
    poll = threading.Thread(target=lambda: answer.update(r=hdi("GET", ALIAS + "?shared", b, Request_Timeout="20000")))
    poll.start()
    eventually(lambda: store.storage.watchers.watching(port))
    ok(rpc, a, "revoke", "share", code)
    ok(rpc, a, "write", port, 9, {})
    poll.join(30)
    assert answer["r"].status == 403




# --- item 4: tokens ------------------------------------------------------------------
def test_token_never_reveals_a_cik(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    child_cik, child_rid = make_client(rpc, cik)
    token = {"token": ok(rpc, cik, "grant", rid, {rid: ["info", "revoke"]})}
    assert "key" not in ok(rpc, token, "info", child_rid, {})
    assert ok(rpc, token, "info", child_rid, {"key": True, "basic": True}).keys() == {"basic"}   # left out
    assert one(rpc, token, "revoke", "client", child_cik)["status"] == "restricted"
    assert rpc(child_cik, []) is None                                    # the CIK still works


def test_token_never_reveals_share_codes_it_could_not_mint(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    port = make_dataport(rpc, cik)
    ok(rpc, cik, "share", port, {})
    info_only = {"token": ok(rpc, cik, "grant", rid, {rid: ["info"]})}
    assert "shares" not in ok(rpc, info_only, "info", port, {})
    sharer = {"token": ok(rpc, cik, "grant", rid, {rid: ["info", "share"]})}
    assert len(ok(rpc, sharer, "info", port, {})["shares"]) == 1


def test_token_grants_no_more_than_it_holds(rpc, server, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    port = make_dataport(rpc, cik)
    granter = {"token": ok(rpc, cik, "grant", rid, {rid: ["grant", "read", "listing"]}, {"ttl": 3600})}
    assert one(rpc, granter, "grant", rid, {rid: ["read", "write"]})["status"] == "restricted"
    assert one(rpc, granter, "grant", rid, {rid: ["write"]})["status"] == "restricted"
    reader = ok(rpc, granter, "grant", rid, {port: ["read"]})           # a part of what it holds
    assert ok(rpc, {"token": reader}, "read", port, {}) == []
    assert one(rpc, {"token": reader}, "write", port, 1, {})["status"] == "restricted"
    # no longer than it lives itself
    store = server.store.onep
    assert store.tokens[reader].expires is not None
    assert store.tokens[reader].expires <= store.tokens[granter["token"]].expires
    # and it lists only tokens it could have granted
    listed = ok(rpc, granter, "listing", rid, ["token"], {})["token"]
    assert reader in listed and granter["token"] in listed
    wider = ok(rpc, cik, "grant", rid, {rid: ["read", "write", "drop"]})
    assert wider in ok(rpc, cik, "listing", rid, ["token"], {})["token"]
    assert wider not in ok(rpc, granter, "listing", rid, ["token"], {})["token"]


@pytest.mark.parametrize("end", ["revoke", "deactivate", "drop"])
def test_token_dies_with_the_cik_that_granted_it(rpc, fresh_client, end):
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    port = make_dataport(rpc, child_cik)
    token = ok(rpc, child_cik, "grant", port, {port: ["read", "grant"]})
    derived = ok(rpc, {"token": token}, "grant", port, {port: ["read"]})
    assert ok(rpc, {"token": derived}, "read", port, {}) == []
    if end == "drop":
        # the granter's client goes; a token granted by its owner on the same port survives
        survivor = ok(rpc, cik, "grant", port, {port: ["read"]})
        ok(rpc, cik, "move", port, fresh_client["rid"], {})
        ok(rpc, cik, "drop", child_rid)
        assert ok(rpc, {"token": survivor}, "read", port, {}) == []
    else:
        ok(rpc, cik, end, "client", child_cik)
    assert rpc({"token": token}, [])["error"]["code"] == 401
    assert rpc({"token": derived}, [])["error"]["code"] == 401
    assert token not in ok(rpc, cik, "listing", fresh_client["rid"], ["token"], {})["token"]


def test_token_survives_a_restart_with_its_granter(tmp_path):
    from pyonep_fast.server import EmbeddedServer, Store

    db = str(tmp_path / "s.db")
    with EmbeddedServer(db=db) as first:
        root = first.root_cik
        store = first.store.onep
        with store.lock:
            token = store.create_token(store.root.rid, {store.root.rid: ["read"]}, None, root)
            store.commit()
    reopened = Store(db)
    try:
        onep = reopened.onep
        assert onep.tokens[token.token].granter == root
        with onep.lock:
            onep.set_cik(onep.root, onep.new_code(), "activated")
        assert token.token not in onep.tokens
    finally:
        reopened.close()


# --- item 5: references are checked when they are evaluated ---------------------------
def _share_to(rpc, owner, reader, port):
    code = ok(rpc, owner, "share", port, {})
    ok(rpc, reader, "activate", "share", code)
    return code


@pytest.mark.parametrize("end", ["revoke", "deactivate", "private"])
def test_subscription_stops_when_access_ends(rpc, tenants, end):
    a, b = tenants
    source = make_dataport(rpc, a, "integer", public=end == "private")
    code = _share_to(rpc, a, b, source) if end != "private" else None
    follower = make_dataport(rpc, b, "integer", subscribe=source)
    ok(rpc, a, "record", source, [[100, 1]], {})
    assert ok(rpc, b, "read", follower, {"starttime": 0, "limit": 10}) == [[100, 1]]
    if end == "revoke":
        ok(rpc, a, "revoke", "share", code)
    elif end == "deactivate":
        ok(rpc, b, "deactivate", "share", code)
    else:
        ok(rpc, a, "update", source, {"public": False})
    ok(rpc, a, "record", source, [[200, 2]], {})
    assert ok(rpc, b, "read", follower, {"starttime": 0, "limit": 10}) == [[100, 1]]
    assert ok(rpc, a, "info", source, {"basic": True})["basic"]["subscribers"] == 0


def test_preprocess_operand_stops_when_share_revoked(rpc, tenants):
    a, b = tenants
    source = make_dataport(rpc, a, "integer")
    ok(rpc, a, "write", source, 1000, {})
    code = _share_to(rpc, a, b, source)
    port = make_dataport(rpc, b, "integer", preprocess=[["add", source]])
    ok(rpc, b, "record", port, [[100, 1]], {})
    assert ok(rpc, b, "read", port, {"starttime": 0, "limit": 10}) == [[100, 1001]]
    ok(rpc, a, "revoke", "share", code)
    ok(rpc, b, "record", port, [[200, 2]], {})
    assert ok(rpc, b, "read", port, {"starttime": 0, "limit": 10}) == [[100, 1001]]


def test_reference_made_by_an_ancestor_keeps_working(rpc, fresh_client):
    """A reference is judged by the client that made it, not by the resource's owner."""
    cik = fresh_client["cik"]
    child_cik, child_rid = make_client(rpc, cik)
    source = make_dataport(rpc, cik, "integer")
    follower = ok(rpc, cik, "create", child_rid, "dataport", {"format": "integer", "subscribe": source})
    ok(rpc, cik, "record", source, [[100, 1]], {})
    assert ok(rpc, cik, "read", follower, {"starttime": 0, "limit": 10}) == [[100, 1]]


def test_clone_by_share_code_carries_no_live_reference_into_the_source_tenant(rpc, tenants):
    a, b = tenants
    private = make_dataport(rpc, a, "integer")
    device_cik, device = make_client(rpc, a)
    ok(rpc, a, "create", device, "dataport", {"format": "integer", "subscribe": private})
    code = ok(rpc, a, "share", device, {})
    copy = ok(rpc, b, "create", "clone", {"code": code})
    copied_port, = ok(rpc, b, "listing", copy, ["dataport"], {})["dataport"]
    ok(rpc, a, "record", private, [[100, 5]], {})
    assert ok(rpc, b, "read", copied_port, {"starttime": 0, "limit": 10}) == []


def test_token_reference_needs_read_permission_on_its_target(rpc, fresh_client):
    cik, rid = fresh_client["cik"], fresh_client["rid"]
    source = make_dataport(rpc, cik, "integer")
    creator = {"token": ok(rpc, cik, "grant", rid, {rid: ["create"]})}
    assert one(rpc, creator, "create", "dataport", {"format": "integer", "subscribe": source})["status"] == \
        "restricted"


def test_hdi_record_refused_stores_nothing(rpc, hdi, fresh_client):
    """Every alias is checked before anything is stored (also issue 9 item 9's 400 case)."""
    cik = fresh_client["cik"]
    good = make_dataport(rpc, cik, "integer", alias="good")
    make_dataport(rpc, cik, "integer", alias="bad")
    assert hdi("POST", RECORD, cik, "alias=good&100=1&alias=bad&100=x").status == 400
    assert ok(rpc, cik, "read", good, {"starttime": 0, "limit": 10}) == []
