"""Helpers for tests that speak One Platform RPC to the embedded server through
the `rpc` fixture (tests/conftest.py)."""
import re

RID = re.compile(r"[0-9a-f]{40}\Z")
INHERIT = {key: "inherit" for key in ("client", "dataport", "datarule", "disk", "dispatch", "email", "email_bucket",
                                      "http", "http_bucket", "share", "sms", "sms_bucket", "xmpp", "xmpp_bucket")}
FAIL_ARGUMENTS = {"status": "fail", "error": {"code": 501, "message": "Error", "context": "arguments"}}


def one(rpc, auth, procedure, *arguments):
    """Runs one call; returns its response entry without the id."""
    entry, = rpc(auth, [{"id": 1, "procedure": procedure, "arguments": list(arguments)}])
    assert entry.pop("id") == 1
    return entry


def ok(rpc, auth, procedure, *arguments):
    entry = one(rpc, auth, procedure, *arguments)
    assert entry["status"] == "ok", entry
    return entry.get("result")


def make_client(rpc, cik, limits=INHERIT):
    rid = ok(rpc, cik, "create", "client", {"limits": limits})
    return ok(rpc, cik, "info", rid, {"key": True})["key"], rid


def make_dataport(rpc, cik, fmt="float", alias=None, **desc):
    rid = ok(rpc, cik, "create", "dataport", {"format": fmt, **desc})
    if alias:
        ok(rpc, cik, "map", "alias", rid, alias)
    return rid
