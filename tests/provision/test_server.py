"""The embedded server's Provisioning API over loopback HTTP (urllib3 directly)."""
import re
import sqlite3
import urllib.parse

import orjson
import pytest

from pyonep_fast.server import EmbeddedServer
from pyonep_fast.server.provision import service_for
from rpc_helpers import make_client, make_dataport, ok

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
CSV = {"Content-Type": "text/csv; charset=utf-8"}
JS = {"Content-Type": "application/javascript; charset=utf-8"}
HEX40 = re.compile(r"[0-9a-f]{40}\Z")


class Api:
    """Requests to one server with one vendor's key."""

    def __init__(self, http, url, key, header="X-Exosite-Token"):
        self.http, self.url, self.key, self.header = http, url, key, header

    def __call__(self, method, path, body=None, headers=None, key=None):
        all_headers = {self.header: self.key if key is None else key}
        if body is not None and method == "POST" and not headers:
            all_headers.update(FORM)
        all_headers.update(headers or {})
        return self.http.request(method, self.url + path, body=body, headers=all_headers)


def text(response):
    return response.data.decode()


def lines(response):
    return text(response).splitlines()


def assert_error(response, status, reason):
    assert response.status == status, (response.status, response.data)
    assert response.data == f"HTTP/1.1 {status} {reason}\r\n".encode()
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def assert_reset(response):
    assert response.status == 205, (response.status, response.data)
    assert response.data == b""
    assert response.headers["Content-Length"] == "0"


@pytest.fixture
def vendor(fresh_client, server, http):
    fresh_client["api"] = Api(http, server.url, fresh_client["vendortoken"])
    return fresh_client


@pytest.fixture
def other_vendor(server, http):
    """A second fountain client and vendor."""
    client = orjson.loads(http.request("GET", server.url + "/api/create?vendor").data)
    client["api"] = Api(http, server.url, client["vendortoken"])
    return client


@pytest.fixture
def template(vendor, rpc):
    """A client under the vendor's client with an integer dataport aliased `temp`."""
    limits = {"client": "inherit", "dataport": "inherit"}
    rid = rpc(vendor["cik"], [{"id": 1, "procedure": "create", "arguments": ["client", {"limits": limits}]}])[0]["result"]
    cik = rpc(vendor["cik"], [{"id": 1, "procedure": "info", "arguments": [rid, {"key": True}]}])[0]["result"]["key"]
    port = rpc(cik, [{"id": 1, "procedure": "create", "arguments": ["dataport", {"format": "integer"}]}])[0]["result"]
    assert rpc(cik, [{"id": 1, "procedure": "map", "arguments": ["alias", port, "temp"]}])[0]["status"] == "ok"
    assert rpc(cik, [{"id": 1, "procedure": "write", "arguments": [port, 7]}])[0]["status"] == "ok"
    return rid


@pytest.fixture
def model(vendor, template):
    assert_reset(vendor["api"]("POST", "/provision/manage/model/", f"model=m&rid={template}"))
    return "m"


@pytest.fixture
def clock(server):
    """Moves the server's provisioning clock; restored afterwards."""
    service = service_for(server.store)
    original = service.clock
    state = {"now": original()}
    service.clock = lambda: state["now"]
    yield state
    service.clock = original


def activate(http, server, vendor, model, sn, header="X-Exosite-CIK"):
    body = urllib.parse.urlencode({"vendor": vendor["vendor"], "model": model, "sn": sn})
    return http.request("POST", server.url + "/provision/activate", body=body, headers={**FORM, header: ""})


def rpc_status(rpc, cik, calls):
    """The statuses of calls made with a CIK, or the whole-request error."""
    answer = rpc(cik, calls)
    return answer["error"]["code"] if isinstance(answer, dict) else [c["status"] for c in answer]


# ---------------------------------------------------------------- auth, routing, robustness

def test_unknown_or_missing_key_is_401(vendor):
    api = vendor["api"]
    assert_error(api("GET", "/provision/manage/model/", key="0" * 40), 401, "Unauthorized")
    assert_error(api("GET", "/provision/manage/model/", key=""), 401, "Unauthorized")


def test_vendor_cik_works_like_its_token(vendor, server, http):
    by_cik = Api(http, server.url, vendor["cik"], "X-Exosite-CIK")
    assert_reset(by_cik("POST", "/provision/manage/model/", f"model=viacik&rid={vendor['rid']}"))
    assert "viacik" in lines(vendor["api"]("GET", "/provision/manage/model/"))


def test_unknown_path_and_method(vendor):
    api = vendor["api"]
    assert_error(api("GET", "/provision/nowhere"), 404, "Not Found")
    assert_error(api("GET", "/provision/manage/model/m/s/x"), 404, "Not Found")
    response = api("PATCH", "/provision/manage/model/")
    assert_error(response, 405, "Method Not Allowed")


def test_unsupported_body_type_is_400(vendor):
    response = vendor["api"]("POST", "/provision/manage/model/", b"{}", {"Content-Type": "application/xml"})
    assert_error(response, 400, "Bad Request")


# ---------------------------------------------------------------- models

def test_model_lifecycle(vendor, template, rpc):
    api = vendor["api"]
    assert lines(api("GET", "/provision/manage/model/")) == []
    body = f"model=m1&rid={template}&options%5B%5D=nohistorical&options[]=noaliases&options=bogus"
    assert_reset(api("POST", "/provision/manage/model/", body))
    code = ok(rpc, vendor["cik"], "share", template, {})
    assert_reset(api("POST", "/provision/manage/model/", f"model=m2&code={code}"))
    listing = api("GET", "/provision/manage/model/")
    assert listing.status == 200 and lines(listing) == ["m1", "m2"]
    info = api("GET", "/provision/manage/model/m1")
    assert info.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert text(info) == f"rid={template}&options[]=noaliases&options[]=nohistorical"
    assert text(api("GET", "/provision/manage/model/m2")) == f"code={code}"
    # PUT from pyonep has no Content-Type; it replaces template and options.
    assert_reset(api("PUT", "/provision/manage/model/m1", f"rid={vendor['rid']}&options%5B%5D=nocomments"))
    assert text(api("GET", "/provision/manage/model/m1")) == f"rid={vendor['rid']}&options[]=nocomments"
    assert_reset(api("PUT", "/provision/manage/model/m1", f"code={code}"))
    assert text(api("GET", "/provision/manage/model/m1")) == f"code={code}"
    # DELETE carries pyonep's body, which is ignored.
    assert_reset(api("DELETE", "/provision/manage/model/m1", "delete=true&model=m1&confirm=true"))
    assert_reset(api("POST", "/provision/manage/model/", "delete=true&model=m2"))
    assert lines(api("GET", "/provision/manage/model/")) == []


def test_model_errors(vendor):
    api = vendor["api"]
    assert_reset(api("POST", "/provision/manage/model/", f"model=m&rid={vendor['rid']}"))
    assert_error(api("POST", "/provision/manage/model/", "model=m&code=c"), 409, "Conflict")
    assert_error(api("POST", "/provision/manage/model/", "rid=r"), 400, "Bad Request")
    assert_error(api("POST", "/provision/manage/model/", "model=x"), 400, "Bad Request")
    assert_error(api("POST", "/provision/manage/model/", "model=x&rid=r&code=c"), 400, "Bad Request")
    assert_error(api("PUT", "/provision/manage/model/m", "options%5B%5D=noaliases"), 400, "Bad Request")
    for method in ("GET", "PUT", "DELETE"):
        assert_error(api(method, "/provision/manage/model/nope", "rid=r"), 404, "Not Found")
    assert_error(api("POST", "/provision/manage/model/", "delete=true&model=nope"), 404, "Not Found")


def test_models_are_per_vendor(vendor, other_vendor):
    other = other_vendor["api"]
    assert_reset(vendor["api"]("POST", "/provision/manage/model/", f"model=same&rid={vendor['rid']}"))
    assert_reset(other("POST", "/provision/manage/model/", f"model=same&rid={other_vendor['rid']}"))
    assert text(other("GET", "/provision/manage/model/same")) == f"rid={other_vendor['rid']}"
    assert_error(other("GET", "/provision/manage/model/m"), 404, "Not Found")


# ---------------------------------------------------------------- serial numbers

def test_sn_add_forms_and_list(vendor, model):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    assert_reset(api("POST", path, "add=true&sn=s1"))
    assert_reset(api("POST", path, "add=true&sn=s2&extra=x+y"))
    assert_reset(api("POST", path, "add=true&sn%5B%5D=s3&sn[]=s4"))
    assert_reset(api("POST", path, b"s5,Extra one\r\ns6\r\n\r\ns7,with, comma", CSV))
    listing = api("GET", path + "?offset=0&limit=100")
    assert listing.status == 200 and listing.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert lines(listing) == ["s1,,", "s2,,x y", "s3,,", "s4,,", "s5,,Extra one", "s6,,", "s7,,with, comma"]
    assert lines(api("GET", path)) == ["s1,,", "s2,,x y", "s3,,", "s4,,", "s5,,Extra one"]  # default limit 5
    assert lines(api("GET", path + "?offset=6&limit=1")) == ["s7,,with, comma"]  # limit clamped up to 5
    assert lines(api("GET", path + "?status=true&limit=2"))[:2] == ["s1,,,", "s2,,,x y"]
    assert_error(api("GET", path + "?offset=x"), 400, "Bad Request")


def test_sn_add_conflict_adds_nothing(vendor, model):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    assert_reset(api("POST", path, "sn=a"))
    assert_error(api("POST", path, "sn=a"), 409, "Conflict")
    assert_error(api("POST", path, "sn%5B%5D=b&sn%5B%5D=a"), 409, "Conflict")
    assert_error(api("POST", path, b"c\nc\n", CSV), 409, "Conflict")
    assert lines(api("GET", path)) == ["a,,"]
    assert_error(api("POST", path, "add=true"), 400, "Bad Request")
    assert_error(api("POST", "/provision/manage/model/nope/", "sn=a"), 404, "Not Found")


def test_sn_remove_by_remove_delete_and_csv(vendor, model):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    assert_reset(api("POST", path, "&".join(f"sn%5B%5D=s{i}" for i in range(8))))
    assert_reset(api("POST", path, "remove=true&sn%5B%5D=s0&sn%5B%5D=s1&sn%5B%5D=unknown"))
    assert_reset(api("POST", path, "delete=true&sn=s2"))
    assert_reset(api("DELETE", path, b"s3\r\ns4,ignored\r\n", CSV))
    assert_reset(api("DELETE", path + "s5"))
    assert_error(api("DELETE", path + "s5"), 404, "Not Found")
    assert [line.split(",")[0] for line in lines(api("GET", path + "?limit=10"))] == ["s6", "s7"]


def test_sn_ranges(vendor, model):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    mac = {"format": "mac:48", "length": None, "casing": "upper", "first": 0x010203040500, "last": 0x0102030405FF}
    assert api("GET", path + "?show=ranges").data == b"[]"
    assert_reset(api("POST", path, orjson.dumps({"ranges": [mac]}), JS))
    assert_reset(api("POST", path, orjson.dumps([mac]), JS))  # exact duplicate ignored
    assert_reset(api("POST", path, b'{"ranges":[{"format":"base10","length":4,"first":10,"last":20}]}'))
    ranges = api("GET", path + "?show=ranges&offset=3")
    assert ranges.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert ranges.data == (b'[{"format":"mac:48","length":null,"casing":"upper","first":1108152157440,'
                           b'"last":1108152157695},{"format":"base10","length":4,"casing":null,"first":10,"last":20}]')
    # Range-covered sns are whitelisted but unlisted until enabled.
    assert api("GET", path + "01:02:03:04:05:0A").status == 204
    assert api("GET", path + "0015").status == 204
    assert_error(api("GET", path + "15"), 404, "Not Found")
    assert lines(api("GET", path)) == []
    assert_reset(api("DELETE", path, b'{"ranges":[{"format":"mac:48","first":1108152157440,"last":1108152157695}]}',
                     JS))
    assert orjson.loads(api("GET", path + "?show=ranges").data) == [
        {"format": "base10", "length": 4, "casing": None, "first": 10, "last": 20}]
    assert_error(api("POST", path, b'{"ranges":[{"format":"base7","first":1,"last":2}]}', JS), 400, "Bad Request")
    assert_error(api("POST", path, b"{not json", JS), 400, "Bad Request")


def test_enable_activate_write(vendor, model, server, http, rpc):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    assert_reset(api("POST", path, "sn=dev1&extra=e"))
    assert api("GET", path + "dev1").status == 204
    assert_error(activate(http, server, vendor, model, "dev1"), 404, "Not Found")
    enabled = api("POST", path + "dev1", f"enable=true&owner={vendor['rid']}")
    assert enabled.status == 200 and enabled.headers["Content-Type"] == "text/csv; charset=utf-8"
    rid = text(enabled)
    assert HEX40.match(rid)
    assert text(api("GET", path + "dev1")) == f"notactivated,{rid},e"
    assert lines(api("GET", path + "?status=true")) == [f"dev1,notactivated,{rid},e"]
    assert lines(api("GET", path)) == [f"dev1,{rid},e"]
    assert_error(api("POST", path + "dev1", f"enable=true&owner={vendor['rid']}"), 409, "Conflict")
    assert api("GET", path + "dev1?show=log").status == 204

    activated = activate(http, server, vendor, model, "dev1")
    assert activated.status == 200 and activated.headers["Content-Type"] == "text/plain; charset=utf-8"
    cik = text(activated)
    assert HEX40.match(cik)
    assert text(api("GET", path + "dev1")) == f"activated,{rid},e"
    assert_error(activate(http, server, vendor, model, "dev1"), 409, "Conflict")
    log = lines(api("GET", path + "dev1?show=log"))
    assert len(log) == 1 and re.fullmatch(rf"\d+,127\.0\.0\.1,model={model}&vendor={vendor['vendor']}&sn=dev1", log[0])

    # The device is a clone of the template under the owner: same alias, history copied.
    history = rpc(cik, [{"id": 1, "procedure": "read", "arguments": [{"alias": "temp"}, {"limit": 5}]}])
    assert [value for _, value in history[0]["result"]] == [7]
    answer = rpc(cik, [{"id": 1, "procedure": "write", "arguments": [{"alias": "temp"}, 42]},
                       {"id": 2, "procedure": "read", "arguments": [{"alias": "temp"}, {"limit": 1}]}])
    assert answer[0]["status"] == "ok" and answer[1]["result"][0][1] == 42
    owner_view = rpc(vendor["cik"], [{"id": 1, "procedure": "info", "arguments": [rid, {"basic": True}]}])
    assert owner_view[0]["result"]["basic"]["status"] == "activated"


def test_reenable_disable_and_remap(vendor, model, server, http, rpc):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    assert_reset(api("POST", path, "sn%5B%5D=a&sn%5B%5D=b"))
    rid = text(api("POST", path + "a", f"enable=true&owner={vendor['rid']}"))
    first_cik = text(activate(http, server, vendor, model, "a"))
    # regen: new CIK, the old one dies at once, status notactivated
    assert_reset(api("POST", path + "a", "enable=true"))
    assert rpc_status(rpc, first_cik, [{"id": 1, "procedure": "read", "arguments": [{"alias": "temp"}, {}]}]) == 401
    assert text(api("GET", path + "a")).startswith("notactivated,")
    second_cik = text(activate(http, server, vendor, model, "a"))
    assert second_cik != first_cik
    # disable: expired, not activatable, CIK unusable; re-enable opens a new window
    assert_reset(api("POST", path + "a", "disable=true"))
    assert text(api("GET", path + "a")) == f"expired,{rid},"
    assert_error(activate(http, server, vendor, model, "a"), 409, "Conflict")
    assert rpc_status(rpc, second_cik, [{"id": 1, "procedure": "read", "arguments": [{"alias": "temp"}, {}]}]) == 401
    assert_reset(api("POST", path + "a", "enable=true"))
    third_cik = text(activate(http, server, vendor, model, "a"))
    # remap: the client moves to sn b with a new CIK and window; a keeps its entry
    assert_reset(api("POST", path + "b", "enable=true&oldsn=a"))
    assert api("GET", path + "a").status == 204
    assert text(api("GET", path + "b")) == f"notactivated,{rid},"
    assert_error(activate(http, server, vendor, model, "a"), 404, "Not Found")
    fourth_cik = text(activate(http, server, vendor, model, "b"))
    assert fourth_cik not in (first_cik, second_cik, third_cik)
    assert rpc_status(rpc, fourth_cik, [{"id": 1, "procedure": "read", "arguments": [{"alias": "temp"}, {}]}]) == ["ok"]


def test_sn_change_errors(vendor, model):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    assert_reset(api("POST", path, "sn%5B%5D=a&sn%5B%5D=b"))
    assert_error(api("POST", path + "zz", f"enable=true&owner={vendor['rid']}"), 404, "Not Found")
    assert_error(api("POST", path + "a", "enable=true"), 409, "Conflict")
    assert_error(api("POST", path + "a", "disable=true"), 409, "Conflict")
    assert_error(api("POST", path + "zz", "disable=true"), 404, "Not Found")
    assert_error(api("POST", path + "b", "enable=true&oldsn=a"), 409, "Conflict")
    assert_error(api("POST", path + "b", "enable=true&oldsn=zz"), 404, "Not Found")
    assert_error(api("POST", path + "a", "frobnicate=true"), 400, "Bad Request")
    api("POST", path + "a", f"enable=true&owner={vendor['rid']}")
    api("POST", path + "b", f"enable=true&owner={vendor['rid']}")
    assert_error(api("POST", path + "b", "enable=true&oldsn=a"), 409, "Conflict")


def test_enable_range_covered_sn_creates_its_record(vendor, model):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    api("POST", path, b'[{"format":"base16","casing":"lower","first":0,"last":255}]', JS)
    rid = text(api("POST", path + "0a", f"enable=true&owner={vendor['rid']}"))
    assert lines(api("GET", path)) == [f"0a,{rid},"]


def test_activation_window_expires(vendor, model, server, http, clock):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    api("POST", path, "sn=late")
    rid = text(api("POST", path + "late", f"enable=true&owner={vendor['rid']}"))
    clock["now"] += 86400
    assert text(api("GET", path + "late")) == f"expired,{rid},"
    assert_error(activate(http, server, vendor, model, "late"), 409, "Conflict")
    assert_reset(api("POST", path + "late", "enable=true"))
    assert text(api("GET", path + "late")) == f"notactivated,{rid},"
    assert activate(http, server, vendor, model, "late").status == 200


def test_dropped_client_is_orphaned(vendor, model, rpc):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    api("POST", path, "sn=gone")
    rid = text(api("POST", path + "gone", f"enable=true&owner={vendor['rid']}"))
    assert rpc(vendor["cik"], [{"id": 1, "procedure": "drop", "arguments": [rid]}])[0]["status"] == "ok"
    assert_error(api("GET", path + "gone"), 409, "Conflict")


def test_owner_at_its_client_limit_gives_409(vendor, model, rpc):
    api = vendor["api"]
    path = f"/provision/manage/model/{model}/"
    api("POST", path, "sn=y")
    full = rpc(vendor["cik"], [{"id": 1, "procedure": "create", "arguments": ["client", {"limits": {"client": 0}}]}])
    assert_error(api("POST", path + "y", f"enable=true&owner={full[0]['result']}"), 409, "Conflict")


def test_activate_errors(vendor, model, server, http):
    api = vendor["api"]
    api("POST", f"/provision/manage/model/{model}/", "sn=s")
    api("POST", f"/provision/manage/model/{model}/s", f"enable=true&owner={vendor['rid']}")
    assert_error(activate(http, server, {"vendor": "nobody"}, model, "s"), 404, "Not Found")
    assert_error(activate(http, server, vendor, "nomodel", "s"), 404, "Not Found")
    assert_error(activate(http, server, vendor, model, "nosn"), 404, "Not Found")
    assert activate(http, server, vendor, model, "s", header="X-Exosite-Token").status == 200


# ---------------------------------------------------------------- content and downloads

def device(api, http, server, vendor, model, sn):
    api("POST", f"/provision/manage/model/{model}/", f"sn={sn}")
    api("POST", f"/provision/manage/model/{model}/{sn}", f"enable=true&owner={vendor['rid']}")
    return text(activate(http, server, vendor, model, sn))


def test_content_lifecycle_and_device_download(vendor, model, server, http):
    api = vendor["api"]
    base = f"/provision/manage/content/{model}/"
    assert lines(api("GET", base)) == []
    assert_reset(api("POST", base, "id=a.txt&meta=This+is+text"))
    assert_reset(api("POST", base, "id=b.bin&description=legacy&protected=TRUE"))
    assert_error(api("POST", base, "id=a.txt&meta=again"), 409, "Conflict")
    assert_error(api("POST", base, "meta=x"), 400, "Bad Request")
    assert lines(api("GET", base)) == ["a.txt", "b.bin"]
    created = text(api("GET", base + "a.txt")).split(",")
    assert created[:2] == ["", "0"] and created[3:] == ["This is text", "false"]
    assert text(api("GET", base + "b.bin")).endswith(",legacy,true")
    assert api("GET", base + "a.txt?download=true").data == b""

    assert_reset(api("POST", base + "a.txt", b"This is content data", {"Content-Type": "text/plain"}))
    assert_reset(api("POST", base + "b.bin", bytes(range(256)), {"Content-Type": "application/octet-stream"}))
    info = text(api("GET", base + "a.txt")).split(",")
    assert info[0] == "text/plain" and info[1] == "20" and info[3:] == ["This is text", "false"]
    download = api("GET", base + "a.txt?download=true")
    assert download.data == b"This is content data" and download.headers["Content-Type"] == "text/plain"
    assert download.headers["Accept-Ranges"] == "bytes"
    assert_reset(api("POST", base + "a.txt", b'{"v": 1}', {"Content-Type": "application/json"}))
    assert text(api("GET", base + "a.txt")).startswith("application/json,8,")
    assert_error(api("POST", base + "nope", b"x", {"Content-Type": "text/plain"}), 404, "Not Found")

    cik = device(api, http, server, vendor, model, "dev")
    dl = "/provision/download?" + urllib.parse.urlencode({"vendor": vendor["vendor"], "model": model})
    as_device = Api(http, server.url, cik, "X-Exosite-CIK")
    assert lines(as_device("GET", dl)) == ["a.txt"]  # b.bin is protected
    blob = as_device("GET", dl + "&id=a.txt")
    assert blob.status == 200 and blob.data == b'{"v": 1}' and blob.headers["Content-Type"] == "application/json"
    assert text(as_device("GET", dl + "&id=a.txt&info=true")).startswith("application/json,8,")
    assert len(text(as_device("GET", dl + "&id=a.txt&info=true")).split(",")) == 4
    assert_error(as_device("GET", dl + "&id=b.bin"), 403, "Forbidden")
    assert_error(as_device("GET", dl + "&id=missing"), 404, "Not Found")
    partial = as_device("GET", dl + "&id=a.txt", headers={"Range": "bytes=1-3"})
    assert partial.status == 206 and partial.data == b'"v"' and partial.headers["Content-Range"] == "bytes 1-3/8"
    assert as_device("GET", dl + "&id=a.txt", headers={"Range": "bytes=-2"}).data == b"1}"
    bad = as_device("GET", dl + "&id=a.txt", headers={"Range": "bytes=9-"})
    assert_error(bad, 416, "Requested Range Not Satisfiable")
    assert bad.headers["Content-Range"] == "bytes */8"
    # the device key may come in either header
    assert lines(Api(http, server.url, cik)("GET", dl)) == ["a.txt"]

    assert_reset(api("DELETE", base + "a.txt"))
    assert_error(api("GET", base + "a.txt"), 404, "Not Found")
    assert_error(api("DELETE", base + "a.txt"), 404, "Not Found")
    assert_reset(api("POST", base, "delete=true&id=b.bin"))
    assert_error(api("POST", base, "delete=true&id=b.bin"), 404, "Not Found")
    assert lines(api("GET", base)) == []


def test_content_and_download_errors(vendor, model, server, http):
    api = vendor["api"]
    api("POST", f"/provision/manage/content/{model}/", "id=c")
    assert_error(api("GET", "/provision/manage/content/nope/"), 400, "Bad Request")
    assert_error(api("GET", "/provision/manage/content/nope/c?download=true"), 403, "Forbidden")
    assert_error(api("GET", f"/provision/manage/content/{model}/?sn=unknown"), 400, "Bad Request")
    dl = "/provision/download?" + urllib.parse.urlencode({"vendor": vendor["vendor"], "model": model})
    assert_error(http.request("GET", server.url + dl), 401, "Unauthorized")
    # not a device of the model, or not activated yet
    assert_error(Api(http, server.url, vendor["cik"], "X-Exosite-CIK")("GET", dl), 403, "Forbidden")
    api("POST", f"/provision/manage/model/{model}/", "sn=pending")
    api("POST", f"/provision/manage/model/{model}/pending", f"enable=true&owner={vendor['rid']}")
    cik = text(activate(http, server, vendor, model, "pending"))
    as_device = Api(http, server.url, cik, "X-Exosite-CIK")
    assert_error(as_device("GET", "/provision/download?vendor=x&model=y&id=c"), 403, "Forbidden")
    assert_error(as_device("GET", "/provision/download?vendor=x&model=y&id=c&info=true"), 400, "Bad Request")
    api("POST", f"/provision/manage/model/{model}/pending", "disable=true")
    assert_error(as_device("GET", dl), 403, "Forbidden")


def test_protected_content_through_groups(vendor, model, server, http, clock):
    api = vendor["api"]
    content, groups = f"/provision/manage/content/{model}/", f"/provision/manage/group/{model}/"
    api("POST", content, "id=fw&protected=true&meta=firmware")
    api("POST", content + "fw", b"\x00\x01", {"Content-Type": "application/octet-stream"})
    cik = device(api, http, server, vendor, model, "d1")
    dl = "/provision/download?" + urllib.parse.urlencode({"vendor": vendor["vendor"], "model": model, "id": "fw"})
    as_device = Api(http, server.url, cik, "X-Exosite-CIK")
    assert_error(as_device("GET", dl), 403, "Forbidden")
    assert lines(api("GET", content + "?sn=d1")) == []
    assert_error(api("GET", content + "fw?sn=d1"), 403, "Forbidden")

    assert_reset(api("POST", groups, "id=beta&meta=testers"))
    assert_reset(api("POST", groups + "beta/", "type=content&id=fw"))
    assert_reset(api("POST", groups + "beta/", "type=sn&id%5B%5D=d1&expire=" + str(clock["now"] + 100)))
    assert as_device("GET", dl).data == b"\x00\x01"
    assert lines(api("GET", content + "?sn=d1")) == ["fw"]
    assert text(api("GET", content + "fw?sn=d1")).endswith(",firmware")
    assert api("GET", content + "fw?download=true&sn=d1").data == b"\x00\x01"
    clock["now"] += 100  # the sn's membership expires
    assert_error(as_device("GET", dl), 403, "Forbidden")


def test_groups(vendor, model):
    api = vendor["api"]
    groups = f"/provision/manage/group/{model}/"
    assert api("GET", groups).status == 204
    assert_reset(api("POST", groups, "id=g1&meta=first"))
    assert_reset(api("POST", groups, "id=g2&description=second"))
    assert_error(api("POST", groups, "id=g1"), 409, "Conflict")
    assert_error(api("POST", groups, "meta=x"), 400, "Bad Request")
    assert lines(api("GET", groups)) == ["g1,first", "g2,second"]
    assert text(api("GET", groups + "g1")) == "first,0"
    assert api("GET", groups + "g1/").status == 204

    assert_reset(api("POST", groups + "g1/", "type=sn&id%5B%5D=a&id%5B%5D=b&expire=10&meta=m"))
    assert_reset(api("POST", groups + "g1/", b"content,c1,,cm\r\ngroup,g2,0,\r\n", CSV))
    assert_reset(api("POST", groups + "g1/", "type=sn&id=a&expire=20&meta=updated"))
    assert text(api("GET", groups + "g1")) == "first,4"
    assert lines(api("GET", groups + "g1/?limit=10")) == ["sn,a,20,updated", "sn,b,10,m", "content,c1,0,cm", "group,g2,0,"]
    assert lines(api("GET", groups + "g1/?type=sn&id=b")) == ["sn,b,10,m"]
    assert lines(api("GET", groups + "g2?show=groups")) == ["g1"]
    assert_error(api("POST", groups + "g1/", "id=x"), 400, "Bad Request")
    assert_error(api("POST", groups + "g1/", "type=sn&id=x&expire=soon"), 400, "Bad Request")
    assert_error(api("POST", groups + "g1/", b"onlytype\n", CSV), 400, "Bad Request")

    assert_reset(api("POST", groups + "g1/", "type=sn&id=b&delete=true"))
    assert_reset(api("DELETE", groups + "g1/", b"content,c1\n", CSV))
    assert lines(api("GET", groups + "g1/")) == ["sn,a,20,updated", "group,g2,0,"]
    assert_reset(api("DELETE", groups + "g2"))  # also leaves g1's member list
    assert lines(api("GET", groups + "g1/")) == ["sn,a,20,updated"]
    assert_reset(api("POST", groups, "id=g1&delete=true"))
    assert_error(api("GET", groups + "g1"), 404, "Not Found")
    assert_error(api("DELETE", groups + "g1"), 404, "Not Found")
    assert_error(api("GET", groups + "g1/"), 404, "Not Found")
    assert_error(api("GET", "/provision/manage/group/nope/"), 404, "Not Found")


def test_memberships_of_sn_and_content(vendor, model):
    api = vendor["api"]
    api("POST", f"/provision/manage/model/{model}/", "sn=a")
    api("POST", f"/provision/manage/content/{model}/", "id=c")
    assert api("GET", f"/provision/manage/model/{model}/a?show=groups").status == 204
    assert api("GET", f"/provision/manage/content/{model}/c?show=groups").status == 204
    for gid in ("g1", "g2"):
        api("POST", f"/provision/manage/group/{model}/", f"id={gid}")
        api("POST", f"/provision/manage/group/{model}/{gid}/", "type=sn&id=a")
    api("POST", f"/provision/manage/group/{model}/g2/", "type=content&id=c")
    assert lines(api("GET", f"/provision/manage/model/{model}/a?show=groups")) == ["g1", "g2"]
    assert lines(api("GET", f"/provision/manage/content/{model}/c?show=groups")) == ["g2"]


# ---------------------------------------------------------------- shares

def test_shares_and_acting_through_them(vendor, model, other_vendor, server, http):
    owner, guest, guest_name = vendor["api"], other_vendor["api"], other_vendor["vendor"]
    shares = f"/provision/manage/share/{model}/"
    assert owner("GET", shares).status == 204
    assert_error(owner("POST", shares, "vendor=nobody"), 404, "Not Found")
    assert_reset(owner("POST", shares, f"vendor={guest_name}"))
    assert_reset(owner("POST", shares, f"vendor={guest_name}"))
    assert lines(owner("GET", shares)) == [guest_name]
    assert owner("GET", shares + guest_name).status == 204
    assert lines(guest("GET", "/provision/manage/model/?show=shared")) == [f"{vendor['vendor']},{model}"]

    path = f"/provision/manage/model/{model}/"
    owner("POST", path, "sn%5B%5D=mine&sn%5B%5D=theirs&extra=secret")
    owner("POST", path + "mine", f"enable=true&owner={vendor['rid']}")
    as_owner = {"X-Exosite-Vendor": vendor["vendor"]}
    rid = text(guest("POST", path + "theirs", f"enable=true&owner={other_vendor['rid']}", {**FORM, **as_owner}))
    assert HEX40.match(rid)
    assert lines(guest("GET", path, headers=as_owner)) == [f"theirs,{rid},"]
    assert text(guest("GET", path + "theirs", headers=as_owner)) == f"notactivated,{rid},"
    assert_error(guest("GET", path + "mine", headers=as_owner), 403, "Forbidden")
    assert_reset(guest("POST", path + "theirs", "disable=true", {**FORM, **as_owner}))
    assert lines(owner("GET", path + f"?shared={guest_name}")) == [f"theirs,{rid},secret"]
    # devices enabled by the guest still activate under the owner's name
    assert_reset(guest("POST", path + "theirs", "enable=true", {**FORM, **as_owner}))
    assert activate(http, server, vendor, model, "theirs").status == 200
    # the guest may do nothing else with the owner's model
    assert_error(guest("POST", path, "sn=new", {**FORM, **as_owner}), 403, "Forbidden")
    assert_error(guest("GET", f"/provision/manage/model/{model}", headers=as_owner), 403, "Forbidden")
    assert_error(guest("GET", path + "?show=ranges", headers=as_owner), 403, "Forbidden")

    assert_reset(owner("DELETE", shares + guest_name))
    assert_error(owner("GET", shares + guest_name), 404, "Not Found")
    assert_error(guest("GET", path, headers=as_owner), 403, "Forbidden")
    assert_error(owner("POST", shares, f"vendor={guest_name}&delete=true"), 404, "Not Found")
    assert_error(owner("DELETE", shares + guest_name), 404, "Not Found")


# ---------------------------------------------------------------- vendor registration and tokens

def test_register_vendor_and_manage_tokens(server, http, rpc, fresh_client):
    created = rpc(fresh_client["cik"], [{"id": 1, "procedure": "create", "arguments": ["client", {}]}])
    rid = created[0]["result"]
    cik = rpc(fresh_client["cik"], [{"id": 1, "procedure": "info", "arguments": [rid, {"key": True}]}])[0]["result"]["key"]
    api = Api(http, server.url, cik, "X-Exosite-CIK")
    name = "acme" + rid[:8]
    assert api("GET", "/provision/register").status == 204
    assert_reset(api("POST", "/provision/register", f"vendor={name}"))
    shown = api("GET", "/provision/register")
    assert shown.status == 200 and text(shown) == name
    assert text(Api(http, server.url, cik)("GET", "/provision/register")) == name  # key in the token header
    assert_error(api("POST", "/provision/register", f"vendor={fresh_client['vendor']}"), 409, "Conflict")
    assert_error(api("POST", "/provision/register", "vendor=another"), 409, "Conflict")
    assert_error(api("GET", "/provision/register", key="0" * 40), 401, "Unauthorized")

    auth = "/provision/admin/auth/"
    assert lines(api("GET", auth)) == []
    made = api("POST", auth, "id=ci")
    assert made.status == 200 and made.headers["Content-Type"] == "text/plain; charset=utf-8"
    token = text(made)
    assert HEX40.match(token)
    assert_error(api("POST", auth, "id=ci"), 409, "Conflict")
    assert lines(api("GET", "/provision/admin/auth")) == ["ci"]
    assert text(api("GET", auth + "ci")) == token
    with_token = Api(http, server.url, token)
    assert_reset(with_token("POST", "/provision/manage/model/", f"model=tm&rid={rid}"))
    assert_error(with_token("GET", auth), 403, "Forbidden")
    assert_reset(api("DELETE", auth + "ci"))
    assert_error(with_token("GET", "/provision/manage/model/"), 401, "Unauthorized")
    assert_error(api("GET", auth + "ci"), 404, "Not Found")
    assert_error(api("DELETE", auth + "ci"), 404, "Not Found")
    api("POST", auth, "id=second")
    assert_reset(api("POST", auth, "delete=true&id=second"))
    assert_error(api("POST", auth, "delete=true&id=second"), 404, "Not Found")

    assert_error(api("POST", "/provision/register", f"delete=true&vendor={fresh_client['vendor']}"), 404,
                 "Not Found")
    assert_reset(api("POST", "/provision/register", f"delete=true&vendor={name}"))
    assert api("GET", "/provision/register").status == 204
    assert_error(api("GET", auth), 401, "Unauthorized")


# ---------------------------------------------------------------- persistence

def test_state_survives_a_restart(tmp_path, http):
    db = str(tmp_path / "prov.db")
    with EmbeddedServer(db=db) as first:
        client = orjson.loads(http.request("GET", first.url + "/api/create?vendor").data)
        api = Api(http, first.url, client["vendortoken"])
        created = http.request("POST", first.url + "/onep:v1/rpc/process", headers={"Content-Type": "application/json"},
                               body=orjson.dumps({"auth": {"cik": client["cik"]},
                                                  "calls": [{"id": 1, "procedure": "create", "arguments": ["client", {}]}]}))
        template = orjson.loads(created.data)[0]["result"]
        api("POST", "/provision/manage/model/", f"model=keep&rid={template}")
        api("POST", "/provision/manage/model/keep/", "sn%5B%5D=s1&sn%5B%5D=s2")
        api("POST", "/provision/manage/content/keep/", "id=f")
        api("POST", "/provision/manage/content/keep/f", b"blob", {"Content-Type": "text/plain"})
        rid = text(api("POST", "/provision/manage/model/keep/s1", f"enable=true&owner={client['rid']}"))
        cik = text(activate(http, first, client, "keep", "s1"))
    with EmbeddedServer(db=db) as second:
        api = Api(http, second.url, client["vendortoken"])
        assert lines(api("GET", "/provision/manage/model/keep/")) == [f"s1,{rid},", "s2,,"]
        assert text(api("GET", "/provision/manage/model/keep/s1")) == f"activated,{rid},"
        dl = f"/provision/download?vendor={client['vendor']}&model=keep&id=f"
        assert Api(http, second.url, cik, "X-Exosite-CIK")("GET", dl).data == b"blob"


def test_bad_input_gets_api_errors_and_the_server_keeps_serving(tmp_path, http):
    with EmbeddedServer(db=str(tmp_path / "small.db"), max_body=1024) as small:
        client = orjson.loads(http.request("GET", small.url + "/api/create?vendor").data)
        api = Api(http, small.url, client["vendortoken"])
        api("POST", "/provision/manage/model/", f"model=m&rid={client['rid']}")
        api("POST", "/provision/manage/content/m/", "id=big")
        assert_error(api("POST", "/provision/manage/content/m/big", b"x" * 4096, {"Content-Type": "text/plain"}),
                     413, "Request Entity Too Large")
        huge = str(2**64)
        assert_error(api("GET", f"/provision/manage/model/m/?offset={huge}"), 400, "Bad Request")
        assert_error(api("POST", "/provision/manage/model/m/", f'[{{"format":"base10","first":0,"last":{huge}}}]',
                         JS), 400, "Bad Request")
        api("POST", "/provision/manage/group/m/", "id=g")
        assert_error(api("POST", "/provision/manage/group/m/g/", f"type=sn&id=a&expire={huge}"), 400, "Bad Request")
        assert_error(api("GET", "/provision/manage/model/%ZZ%00/"), 404, "Not Found")
        assert_reset(api("POST", "/provision/manage/model/m/", b"sn=%FF%FE&extra=\xff"))
        assert len(lines(api("GET", "/provision/manage/model/m/"))) == 1
        assert text(api("GET", "/provision/manage/model/m")) == f"rid={client['rid']}"


# ---------------------------------------------------------------- tenancy: what a vendor may name (issue 9 item 3)

MODELS = "/provision/manage/model/"


def clients(rpc, cik):
    return ok(rpc, cik, "listing", ["client"])[0]


def test_a_model_template_must_lie_in_the_vendors_client(vendor, template, other_vendor, rpc):
    """B may not build a model (and so devices holding a copy of A's history) from A's clients."""
    thief = other_vendor["api"]
    own_port = make_dataport(rpc, other_vendor["cik"])
    for rid, status, reason in ((template, 403, "Forbidden"), (vendor["rid"], 403, "Forbidden"),
                                ("f" * 40, 404, "Not Found"), (own_port, 400, "Bad Request")):
        assert_error(thief("POST", MODELS, f"model=stolen&rid={rid}"), status, reason)
    assert lines(thief("GET", MODELS)) == []
    assert_reset(thief("POST", MODELS, f"model=own&rid={other_vendor['rid']}"))
    assert_error(thief("PUT", MODELS + "own", f"rid={template}"), 403, "Forbidden")
    assert text(thief("GET", MODELS + "own")) == f"rid={other_vendor['rid']}"
    # A share code is taken as RPC's clone takes it: a share not yet activated, of a client.
    assert_error(thief("POST", MODELS, "model=coded&code=" + "e" * 40), 404, "Not Found")
    port_code = ok(rpc, vendor["cik"], "share", make_dataport(rpc, vendor["cik"]), {})
    assert_error(thief("POST", MODELS, f"model=coded&code={port_code}"), 404, "Not Found")
    code = ok(rpc, vendor["cik"], "share", template, {})
    ok(rpc, other_vendor["cik"], "activate", "share", code)
    assert_error(thief("POST", MODELS, f"model=coded&code={code}"), 404, "Not Found")
    assert_error(thief("PUT", MODELS + "own", f"code={code}"), 404, "Not Found")


def test_a_device_is_enabled_only_under_the_calling_vendors_client(vendor, model, template, other_vendor, server,
                                                                  http, rpc):
    thief = other_vendor["api"]
    child_cik, child_rid = make_client(rpc, other_vendor["cik"])
    assert_reset(thief("POST", MODELS, f"model=bm&rid={child_rid}"))
    thief("POST", MODELS + "bm/", "sn=s")
    before = clients(rpc, vendor["cik"])
    for owner in (vendor["rid"], template):
        assert_error(thief("POST", MODELS + "bm/s", f"enable=true&owner={owner}"), 403, "Forbidden")
    assert clients(rpc, vendor["cik"]) == before
    assert thief("GET", MODELS + "bm/s").status == 204  # still no client
    assert_error(activate(http, server, other_vendor, "bm", "s"), 404, "Not Found")
    # nor the other way round, nor through a share
    owner_api, path = vendor["api"], f"{MODELS}{model}/"
    owner_api("POST", path, "sn%5B%5D=a1&sn%5B%5D=a2")
    assert_error(owner_api("POST", path + "a1", f"enable=true&owner={other_vendor['rid']}"), 403, "Forbidden")
    assert_error(owner_api("POST", path + "a1", f"enable=true&owner={child_rid}"), 403, "Forbidden")
    assert_reset(owner_api("POST", f"/provision/manage/share/{model}/", f"vendor={other_vendor['vendor']}"))
    as_owner = {**FORM, "X-Exosite-Vendor": vendor["vendor"]}
    assert_error(thief("POST", path + "a2", f"enable=true&owner={vendor['rid']}", as_owner), 403, "Forbidden")
    assert clients(rpc, vendor["cik"]) == before
    assert HEX40.match(text(thief("POST", path + "a2", f"enable=true&owner={child_rid}", as_owner)))
    assert len(clients(rpc, child_cik)) == 1


def test_an_unknown_owner_is_404_and_never_falls_back(vendor, model, server, http, rpc):
    api, path = vendor["api"], f"{MODELS}{model}/"
    api("POST", path, "sn=x")
    root_clients, vendor_clients = clients(rpc, server.root_cik), clients(rpc, vendor["cik"])
    assert_error(api("POST", path + "x", "enable=true&owner=" + "f" * 40), 404, "Not Found")
    assert_error(api("POST", path + "x", f"enable=true&owner={make_dataport(rpc, vendor['cik'])}"), 400,
                 "Bad Request")
    assert (clients(rpc, server.root_cik), clients(rpc, vendor["cik"])) == (root_clients, vendor_clients)
    assert api("GET", path + "x").status == 204
    assert_error(activate(http, server, vendor, model, "x"), 404, "Not Found")


def test_a_vendor_ends_when_its_client_is_dropped(vendor, model, other_vendor, server, http, rpc):
    api, path = vendor["api"], f"{MODELS}{model}/"
    by_cik = Api(http, server.url, vendor["cik"], "X-Exosite-CIK")
    admin_token = text(by_cik("POST", "/provision/admin/auth/", "id=ops"))
    api("POST", path, "sn%5B%5D=s1&sn%5B%5D=s2")
    assert HEX40.match(text(api("POST", path + "s1", f"enable=true&owner={vendor['rid']}")))
    device_cik = text(activate(http, server, vendor, model, "s1"))
    api("POST", f"/provision/manage/content/{model}/", "id=c")
    assert HEX40.match(device_cik)

    ok(rpc, server.root_cik, "drop", vendor["rid"])
    for token in (vendor["vendortoken"], admin_token):
        assert_error(api("GET", MODELS, key=token), 401, "Unauthorized")
        assert_error(api("POST", MODELS, f"model=again&rid={other_vendor['rid']}", key=token), 401, "Unauthorized")
    assert_error(api("POST", path + "s2", f"enable=true&owner={vendor['rid']}"), 401, "Unauthorized")
    assert_error(activate(http, server, vendor, model, "s2"), 404, "Not Found")
    download = Api(http, server.url, device_cik, "X-Exosite-CIK")
    assert_error(download("GET", f"/provision/download?vendor={vendor['vendor']}&model={model}"), 403, "Forbidden")
    # whoever registers the name next starts empty: no models, sns, content or tokens
    heir_cik, _ = make_client(rpc, other_vendor["cik"])
    heir = Api(http, server.url, heir_cik, "X-Exosite-CIK")
    assert_reset(heir("POST", "/provision/register", f"vendor={vendor['vendor']}"))
    assert lines(heir("GET", MODELS)) == []
    assert lines(heir("GET", "/provision/admin/auth/")) == []
    assert_error(heir("GET", path), 404, "Not Found")
    assert_error(heir("GET", f"/provision/manage/content/{model}/"), 400, "Bad Request")


def test_a_vendor_ends_when_an_ancestor_of_its_client_is_dropped(vendor, model, other_vendor, server, http, rpc):
    """Also for a sharing vendor: the sns it enabled go back to the owner, not to its name."""
    parent_cik, parent_rid = make_client(rpc, other_vendor["cik"])
    guest_cik, guest_rid = make_client(rpc, parent_cik)
    guest = Api(http, server.url, guest_cik, "X-Exosite-CIK")
    name = "guest" + guest_rid[:8]
    assert_reset(guest("POST", "/provision/register", f"vendor={name}"))
    token = text(guest("POST", "/provision/admin/auth/", "id=t"))
    owner, path, shares = vendor["api"], f"{MODELS}{model}/", f"/provision/manage/share/{model}/"
    assert_reset(owner("POST", shares, f"vendor={name}"))
    owner("POST", path, "sn=theirs")
    as_owner = {**FORM, "X-Exosite-Vendor": vendor["vendor"]}
    assert HEX40.match(text(guest("POST", path + "theirs", f"enable=true&owner={guest_rid}", as_owner, key=token)))

    ok(rpc, other_vendor["cik"], "drop", parent_rid)
    assert_error(guest("GET", MODELS, key=token), 401, "Unauthorized")
    assert owner("GET", shares).status == 204
    assert lines(owner("GET", path + f"?shared={name}")) == []
    # a vendor registered later under the same name and given a share inherits nothing
    heir_cik, _ = make_client(rpc, other_vendor["cik"])
    heir = Api(http, server.url, heir_cik, "X-Exosite-CIK")
    assert_reset(heir("POST", "/provision/register", f"vendor={name}"))
    assert_reset(owner("POST", shares, f"vendor={name}"))
    assert lines(heir("GET", path, headers={"X-Exosite-Vendor": vendor["vendor"]})) == []
    assert_error(heir("GET", path + "theirs", headers={"X-Exosite-Vendor": vendor["vendor"]}), 403, "Forbidden")
    assert_error(heir("POST", path + "theirs", "enable=true&owner=" + "f" * 40, as_owner), 403, "Forbidden")


def test_only_an_activated_client_acts_as_a_vendor(vendor, model, server, http):
    """A disabled device's CIK is refused, as on the RPC side."""
    api, path = vendor["api"], f"{MODELS}{model}/"
    api("POST", path, "sn=dev")
    api("POST", path + "dev", f"enable=true&owner={vendor['rid']}")
    device = Api(http, server.url, text(activate(http, server, vendor, model, "dev")), "X-Exosite-CIK")
    assert device("GET", "/provision/register").status == 204
    assert_reset(api("POST", path + "dev", "disable=true"))
    assert_error(device("GET", "/provision/register"), 401, "Unauthorized")
    assert_error(device("POST", "/provision/register", "vendor=fromadevice"), 401, "Unauthorized")


def test_vendors_of_clients_dropped_before_this_fix_end_at_startup(tmp_path, http):
    db = str(tmp_path / "stale.db")
    with EmbeddedServer(db=db) as first:
        client = orjson.loads(http.request("GET", first.url + "/api/create?vendor").data)
        api = Api(http, first.url, client["vendortoken"])
        assert_reset(api("POST", MODELS, f"model=old&rid={client['rid']}"))
    # what an older server left behind: the client gone, its vendor and model still stored
    with sqlite3.connect(db) as stale:
        stale.execute("DELETE FROM resources WHERE rid = ?", (client["rid"],))
    with EmbeddedServer(db=db) as second:
        assert_error(Api(http, second.url, client["vendortoken"])("GET", MODELS), 401, "Unauthorized")
        assert second.store.provision.vendor_by_name(client["vendor"]) is None
    with sqlite3.connect(db) as after:
        assert after.execute("SELECT count(*) FROM prov_models").fetchone() == (0,)
