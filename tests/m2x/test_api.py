"""m2x.client / m2x.api (spec §2): URL building, the abstract base, and what
the client puts on the wire and makes of answers, against a scripted
loopback server that records every request byte."""
import gzip
import json
import platform
import threading

import pytest
import requests

from pyonep_fast.m2x import api as m2x_api
from pyonep_fast.m2x import version
from pyonep_fast.m2x.api import APIBase, HTTPResponse, RawResponse, Response
from pyonep_fast.m2x.client import M2XClient
from pyonep_fast.m2x.errors import HTTPError
from scripted_http import ScriptedServer, http_response


def test_version_and_user_agent():
    assert version == "5.5.0"
    assert m2x_api.USER_AGENT == "M2X-Python/5.5.0 python/{}.{}.{} ({})".format(
        *platform.sys.version_info[:3], platform.platform())


def test_client_url_has_no_version_path():
    client = M2XClient(key="foobar")
    assert client.url("foo", "bar") == M2XClient.ENDPOINT + "/foo/bar"
    assert client.url("/foo/", "", None, "bar/") == M2XClient.ENDPOINT + "/foo/bar"
    assert client.endpoint == "https://api-m2x.att.com"


def test_api_url_joins_endpoint_and_v2():
    client = M2XClient(key="foobar", endpoint="http://example.invalid/")
    assert client.api.url() == "http://example.invalid/v2"
    assert client.api.url("/status") == "http://example.invalid/v2/status"
    assert client.api.url("devices/", "/x") == "http://example.invalid/v2/devices/x"


def test_api_base_is_abstract():
    client = M2XClient(key="foobar", api=APIBase)
    assert client.api.last_response is None
    for call in (lambda: client.api.url("foo"), client.api.client_endpoint, lambda: client.api.request("x"),
                 *(lambda verb=verb: getattr(client.api, verb)("x")
                   for verb in ("get", "post", "put", "delete", "patch", "head", "options"))):
        with pytest.raises(NotImplementedError):
            call()
    assert client.api.to_json({"foo": "bar"}) == '{"foo": "bar"}'


class EchoAPI(APIBase):
    """An APIBase whose request echoes its arguments (the shape upstream's
    DummyAPI gives): the verbs must route through request()."""
    PATH = "/dummy"

    def client_endpoint(self):
        return self.client.endpoint

    def request(self, path, apikey=None, method="GET", **kwargs):
        echo = {"url": self.url(path), "method": method, "apikey": self.apikey, "kwargs": kwargs}
        self.last_response = Response(echo, echo, 200, {}, None)
        return echo


@pytest.mark.parametrize("verb", ["get", "post", "put", "delete", "patch", "head", "options"])
def test_verbs_route_through_request(verb):
    client = M2XClient(key="foobar", api=EchoAPI, endpoint="http://api.m2x.com")
    assert client.api.url("foo", "bar") == "http://api.m2x.com/dummy/foo/bar"
    assert client.api.url() == "http://api.m2x.com/dummy"
    echo = getattr(client, verb)("foo", foo="bar")
    assert echo["method"] == verb.upper() and echo["apikey"] == "foobar" and echo["kwargs"] == {"foo": "bar"}
    assert client.last_response.raw is echo


def test_response_properties():
    assert Response(None, b"", 204, {}, None).success
    assert Response(None, b"", 404, {}, None).client_error and Response(None, b"", 404, {}, None).error
    assert Response(None, b"", 503, {}, None).server_error and not Response(None, b"", 503, {}, None).success


@pytest.fixture
def scripted():
    answers = []

    def respond(request):
        return answers.pop(0) if answers else http_response(b'{"ok": true}')
    clients = []

    def client(key="k", **options):
        """An M2XClient of this server, closed after the test."""
        clients.append(M2XClient(key, endpoint=server.url, **options))
        return clients[-1]
    with ScriptedServer(respond) as server:
        server.answers = answers
        server.client = client
        yield server
        for each in clients:
            each.api.close()


def test_session_headers_on_every_request(scripted):
    client = scripted.client("the-key")
    assert client.status() == {"ok": True}
    request = scripted.requests[-1]
    assert (request.method, request.target) == ("GET", "/v2/status")
    assert request.headers["x-m2x-key"] == "the-key"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept-encoding"] == "gzip, deflate"
    assert request.headers["user-agent"] == m2x_api.USER_AGENT
    assert request.body == b""


def test_bodies_are_json_only_for_truthy_data(scripted):
    client = scripted.client()
    client.post("x", data={"name": "n", "list": [1, 2]})
    client.post("y", data={})
    client.put("z")
    sent, empty, bare = scripted.requests[-3:]
    assert json.loads(sent.body) == {"name": "n", "list": [1, 2]}
    assert sent.body == b'{"name": "n", "list": [1, 2]}'  # json.dumps' separators, as upstream
    assert (empty.body, empty.headers["content-length"]) == (b"", "0")
    assert (bare.method, bare.body, bare.headers["content-length"]) == ("PUT", b"", "0")


def test_params_encoded_as_requests_does(scripted):
    client = scripted.client()
    client.get("devices", params={"tags": ["a", "b"], "q": "x y", "skip": None, "flag": True, "n": 3})
    assert scripted.requests[-1].target == "/v2/devices?tags=a&tags=b&q=x+y&flag=True&n=3"


def test_per_call_key_overrides_the_session_key(scripted):
    client = scripted.client()
    client.get("status", apikey="other")
    assert scripted.requests[-1].headers["x-m2x-key"] == "other"
    client.get("status")
    assert scripted.requests[-1].headers["x-m2x-key"] == "k"


def test_unsupported_transport_keyword_is_refused(scripted):
    client = scripted.client()
    with pytest.raises(TypeError, match="allow_redirects"):
        client.get("status", allow_redirects=False)


def test_204_is_none_and_non_json_is_the_raw_response(scripted):
    client = scripted.client()
    scripted.answers.append(http_response(b"", "204 No Content"))
    assert client.delete("x") is None
    assert client.last_response.status == 204
    scripted.answers.append(http_response(b"2015-04-21T05:40:20.869Z", headers=["X-Kind: text"]))
    raw = client.get("time/iso8601")
    assert isinstance(raw, RawResponse)
    assert raw.content == b"2015-04-21T05:40:20.869Z" and raw.status_code == 200
    assert raw.headers["x-kind"] == "text"
    assert client.last_response.json is None and client.last_response.raw == raw.content
    scripted.answers.append(http_response(b"2015-04-21T05:40:20.869Z"))
    assert client.time_iso8601() == b"2015-04-21T05:40:20.869Z"


def test_gzip_bodies_are_decoded(scripted):
    client = scripted.client()
    scripted.answers.append(http_response(gzip.compress(b'{"api": "OK"}'), headers=["Content-Encoding: gzip"]))
    assert client.status() == {"api": "OK"}


def test_http_error_with_response_and_last_response_set_first(scripted):
    client = scripted.client()
    scripted.answers.append(http_response(b'{"code": "not_found", "message": "Device not found"}',
                                          "404 Not Found"))
    with pytest.raises(HTTPError) as caught:
        client.device("nope")
    error = caught.value
    assert str(error) == f"404 Client Error: Not Found for url: {scripted.url}/v2/devices/nope"
    assert isinstance(error, requests.exceptions.HTTPError)  # what m2x code catches
    assert error.response.status_code == 404 and error.response.json()["code"] == "not_found"
    assert client.last_response.status == 404 and client.last_response.client_error
    assert client.last_response.json == {"code": "not_found", "message": "Device not found"}
    scripted.answers.append(http_response(b"{}", "503 Service Unavailable"))
    with pytest.raises(HTTPError, match="503 Server Error: Service Unavailable"):
        client.status()
    assert client.last_response.server_error


def test_last_response_is_per_thread(scripted):
    client = scripted.client()
    client.status()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(client.last_response))
    thread.start()
    thread.join()
    assert seen == [None]
    assert isinstance(client.last_response, HTTPResponse)


def test_default_timeout_is_upstreams_none_and_options_reach_the_transport(scripted):
    events = []
    client = scripted.client(timeout=7.5, hooks=[events.append])
    client.status()
    transport = client.api._transports[scripted.url]
    assert transport.timeout == 7.5
    assert [(event.method, event.status) for event in events] == [("GET", 200)]
    assert scripted.client().api._options["timeout"] is None


def test_unescaped_ids_are_requoted_like_requests(scripted):
    client = scripted.client()
    client.get("devices/a b")
    assert scripted.requests[-1].target == "/v2/devices/a%20b"


def test_error_classes_in_both_trees(scripted):
    from pyonep_fast import exceptions
    from pyonep_fast.m2x.errors import ConnectionError as M2XConnectionError
    scripted.answers.append(http_response(b"{}", "401 Unauthorized"))
    with pytest.raises(exceptions.HTTPError) as caught:  # the M2X branch of pyonep_fast's tree
        scripted.client().status()
    assert isinstance(caught.value, OSError) and isinstance(caught.value, exceptions.PyonepFastError)
    import socket
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = M2XClient("k", endpoint=f"http://127.0.0.1:{port}", retries=0)
    with pytest.raises(requests.exceptions.ConnectionError) as refused:
        client.status()
    client.api.close()
    assert isinstance(refused.value, M2XConnectionError) and isinstance(refused.value, exceptions.TransportError)


def test_transport_failures_are_also_the_builtin_connection_and_timeout_errors():
    """requests' ConnectionError (what m2x raised) and m2x.errors.ConnectionError
    as before, plus the builtin a connection failure or a timeout is."""
    import socket

    from pyonep_fast import exceptions
    from pyonep_fast.m2x.errors import ConnectionError as M2XConnectionError
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused_port = unused.getsockname()[1]
    client = M2XClient("k", endpoint=f"http://127.0.0.1:{refused_port}", retries=0)
    with pytest.raises(ConnectionError) as refused:
        client.status()
    client.api.close()
    for cls in (requests.exceptions.ConnectionError, M2XConnectionError, exceptions.ConnectionFailed):
        assert isinstance(refused.value, cls)
    assert not isinstance(refused.value, TimeoutError)
    with socket.create_server(("127.0.0.1", 0)) as silent:   # listens, never accepts: no answer comes
        client = M2XClient("k", endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        with pytest.raises(TimeoutError, match="timed out") as unanswered:
            client.status()
        client.api.close()
    assert isinstance(unanswered.value, requests.exceptions.ConnectionError)
    assert isinstance(unanswered.value, M2XConnectionError)
    assert isinstance(unanswered.value, exceptions.TransportTimeout)
    assert not isinstance(unanswered.value, ConnectionError)
