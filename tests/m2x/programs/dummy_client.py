"""A program for m2x 5.5.0 (written from spec m2x.md §6, not upstream's
tests): its test helpers in m2x.tests.common build URLs and answer every
verb without a server. Prints "ok" when each behaves as the spec says."""
from m2x.api import APIBase, Response
from m2x.client import M2XClient
from m2x.tests.common import DummyAPI, DummyClient, DummyRequest, DummyResponse, _Response

client = DummyClient("secret")
api = client.api
assert isinstance(api, DummyAPI) and issubclass(DummyAPI, APIBase) and isinstance(client, M2XClient)
assert client.endpoint == "http://api.m2x.com"
assert api.url("foo", "bar") == "http://api.m2x.com/dummy/foo/bar" and api.url() == "http://api.m2x.com/dummy"
assert api.last_response is None
for verb in ("get", "post", "put", "delete", "patch", "head", "options"):
    answer = getattr(api, verb)("/things/1", foo="bar")
    assert answer.method == verb.upper() and answer.apikey == "secret" and answer.kwargs == {"foo": "bar"}, verb
    assert answer.url == "http://api.m2x.com/dummy/things/1" and answer.status_code == 200 and answer.json is None
    assert isinstance(answer, _Response) and answer.headers == {"foo": "bar"}
    last = client.last_response   # the client hands unknown attributes to its api
    assert isinstance(last, DummyResponse) and isinstance(last, Response) and last.raw is answer
    assert last.status == 200 and last.success and not last.error and last.headers == {"foo": "bar"}
assert api.get("x", apikey="other").apikey == "other"
request = DummyRequest("u", "GET", "k", a=1)
assert request.response().request is request and request.kwargs == {"a": 1}
elsewhere = DummyClient("k", endpoint="http://example.invalid")
assert elsewhere.api.url("a") == "http://example.invalid/dummy/a"
print("ok")
