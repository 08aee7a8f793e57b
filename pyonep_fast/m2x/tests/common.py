"""m2x.tests.common (spec m2x.md §1, §6): an API that answers without a
server, for tests of the URL and verb plumbing. Its `request` echoes what it
was asked (URL, method, key, transport keywords) in a fake response and
records that response, wrapped, as `last_response`."""
from ..api import APIBase, Response
from ..client import M2XClient


class DummyResponse(Response):
    """A Response over a fake one: raw is the fake itself."""

    def __init__(self, response):
        super().__init__(response=response, raw=response, status=response.status_code,
                         headers=response.headers, json=response.json)


class _Response:
    """What DummyRequest answers: status 200, the request's keywords as headers, no JSON."""

    def __init__(self, request):
        self.request = request
        self.url, self.method, self.apikey, self.kwargs = request.url, request.method, request.apikey, request.kwargs
        self.status_code = 200
        self.headers = request.kwargs
        self.json = None


class DummyRequest:
    def __init__(self, url, method, apikey, **kwargs):
        self.url, self.method, self.apikey, self.kwargs = url, method, apikey, kwargs

    def response(self):
        return _Response(self)


class DummyAPI(APIBase):
    PATH = "/dummy"

    def client_endpoint(self):
        return self.client.endpoint

    def request(self, path, apikey=None, method="GET", **kwargs):
        answer = DummyRequest(self.url(path), method, apikey or self.apikey, **kwargs).response()
        self.last_response = DummyResponse(answer)
        return answer


class DummyClient(M2XClient):
    ENDPOINT = "http://api.m2x.com"

    def __init__(self, key, api=DummyAPI, endpoint=None, **kwargs):
        super().__init__(key, api, endpoint, **kwargs)
