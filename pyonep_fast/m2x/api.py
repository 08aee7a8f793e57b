"""API base classes of m2x 5.5.0 (spec m2x.md §2) on pyonep_fast's transport.

HTTPAPIBase.request keeps upstream's order: URL, per-call key, JSON body
(only for truthy data), send, `last_response` (per thread) set, 204 ->
None, >= 400 -> HTTPError, else the decoded JSON or, for a body that is not
JSON, the raw response.
"""
import json
import platform
import sys
import threading
import urllib.parse
import zlib

import orjson

from .. import transport as _transport
from .._http import decode_text, text_encoding
from . import version
from ..exceptions import TransportError
from .errors import TRANSPORT_ERRORS, HTTPError
from .utils import DateTimeJSONEncoder

PYTHON_VERSION = "{0}.{1}.{2}".format(*sys.version_info[:3])
USER_AGENT = f"M2X-Python/{version} python/{PYTHON_VERSION} ({platform.platform()})"

#: Keywords of M2XClient / APIVersion2 that configure the transport.
TRANSPORT_OPTIONS = ("timeout", "proxy", "verify", "pool_maxsize", "retries", "hooks", "max_response_bytes")
#: Transport keywords a request takes (upstream passed any to requests).
_REQUEST_KEYWORDS = frozenset(("params", "data", "json", "headers", "timeout"))
_UNDECODED = object()
# What requests' requote_uri leaves unquoted in a path.
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"


class RawResponse:
    """A response as requests.Response showed it (the attributes m2x code
    reads): status_code, reason, headers, content, text, url, ok, json()."""

    def __init__(self, url, status_code, reason, headers, content):
        self.url = url
        self.status_code = status_code
        self.reason = reason
        self._headers = headers  # a mapping, or a callable building it on first use
        self.content = content
        self.request = None
        self._json = _UNDECODED

    @property
    def headers(self):
        if callable(self._headers):
            self._headers = self._headers()
        return self._headers

    @property
    def ok(self):
        return self.status_code < 400

    @property
    def encoding(self):
        """requests' rule: the charset; ISO-8859-1 for text/*; else None."""
        return text_encoding(self.headers.get("Content-Type", ""))

    @property
    def text(self):
        return decode_text(self.content, self.headers.get("Content-Type", ""))

    def json(self, **kwargs):
        """The body decoded as JSON; ValueError if it is not JSON."""
        if kwargs:
            return json.loads(self.text, **kwargs)
        if self._json is _UNDECODED:
            try:
                self._json = orjson.loads(self.content)
            except orjson.JSONDecodeError:
                # json.loads also takes NaN, big integers, other encodings; a
                # failure is not cached, each call raises it anew
                return json.loads(self.text)
        return self._json

    def raise_for_status(self):
        if self.status_code >= 400:
            kind = "Client" if self.status_code < 500 else "Server"
            raise HTTPError(f"{self.status_code} {kind} Error: {self.reason} for url: {self.url}", response=self)

    def __repr__(self):
        return f"<Response [{self.status_code}]>"


class Response:
    def __init__(self, response, raw, status, headers, json):
        self.response = response
        self.raw = raw
        self.status = status
        self.headers = headers
        self.json = json

    @property
    def success(self):
        return 200 <= self.status <= 299

    @property
    def client_error(self):
        return 400 <= self.status <= 499

    @property
    def server_error(self):
        return self.status >= 500

    @property
    def error(self):
        return self.client_error or self.server_error


class HTTPResponse(Response):
    def __init__(self, response):
        try:
            decoded = response.json()
        except ValueError:
            decoded = None
        self.response = response
        self.raw = response.content
        self.status = response.status_code
        self.json = decoded

    @property
    def headers(self):
        """response.headers (built when first read: most callers never do)."""
        return self.response.headers


class APIBase:
    PATH = "/"

    def __init__(self, key, client, **kwargs):
        self.apikey = key
        self.client = client
        self._locals = threading.local()

    def url(self, *parts):
        parts = (self.client_endpoint(), self.PATH) + parts
        return "/".join(part.strip("/") for part in parts if part)

    def get(self, path, **kwargs):
        return self.request(path, **kwargs)

    def post(self, path, **kwargs):
        return self.request(path, method="POST", **kwargs)

    def put(self, path, **kwargs):
        return self.request(path, method="PUT", **kwargs)

    def delete(self, path, **kwargs):
        return self.request(path, method="DELETE", **kwargs)

    def patch(self, path, **kwargs):
        return self.request(path, method="PATCH", **kwargs)

    def head(self, path, **kwargs):
        return self.request(path, method="HEAD", **kwargs)

    def options(self, path, **kwargs):
        return self.request(path, method="OPTIONS", **kwargs)

    @property
    def last_response(self):
        return getattr(self._locals, "last_response", None)

    @last_response.setter
    def last_response(self, value):
        self._locals.last_response = value

    def to_json(self, value):
        return json.dumps(value, cls=DateTimeJSONEncoder)

    def client_endpoint(self):
        raise NotImplementedError

    def request(self, path, apikey=None, method="GET", **kwargs):
        raise NotImplementedError


def _query(params):
    """requests' query encoding: lists repeat the key, None is left out."""
    if isinstance(params, (str, bytes)):
        return params.decode() if isinstance(params, bytes) else params
    items = params.items() if hasattr(params, "items") else params
    pairs = []
    for key, values in items:
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        pairs.extend((key, value) for value in values if value is not None)
    return urllib.parse.urlencode(pairs)


class HTTPAPIBase(APIBase):
    def __init__(self, key, client, **kwargs):
        super().__init__(key, client, **kwargs)
        self._options = {name: kwargs[name] for name in TRANSPORT_OPTIONS if name in kwargs}
        self._options.setdefault("timeout", None)  # upstream waited forever
        self._transports = {}  # scheme://host:port -> Transport (one pool each)
        self._lock = threading.Lock()

    def client_endpoint(self):
        return self.client.endpoint

    def _transport_for(self, origin):
        found = self._transports.get(origin)
        if found is None:
            with self._lock:
                found = self._transports.get(origin)
                if found is None:
                    headers = {"X-M2X-KEY": self.apikey, "Content-type": "application/json",
                               "Accept-Encoding": "gzip, deflate", "User-Agent": USER_AGENT}
                    found = self._transports[origin] = _transport.Transport(
                        origin, headers=headers, errors=TRANSPORT_ERRORS, **self._options)
        return found

    def close(self):
        """Closes the pooled connections (the next request opens new ones)."""
        with self._lock:
            transports, self._transports = list(self._transports.values()), {}
        for each in transports:
            each.close()

    def request(self, path, apikey=None, method="GET", **kwargs):
        unknown = set(kwargs) - _REQUEST_KEYWORDS
        if unknown:
            raise TypeError(f"request() got unsupported transport keyword(s): {', '.join(sorted(unknown))}")
        url = self.url(path)
        headers = dict(kwargs.get("headers") or {})
        if apikey:
            headers["X-M2X-KEY"] = apikey
        body = None
        if kwargs.get("data"):
            body = self.to_json(kwargs["data"]).encode("utf-8")
        elif kwargs.get("json") is not None:
            body = json.dumps(kwargs["json"]).encode("utf-8")
        if kwargs.get("params"):
            query = _query(kwargs["params"])
            if query:
                url += ("&" if "?" in url else "?") + query
        return self.send(method, url, body, headers, kwargs.get("timeout", _transport.DEFAULT))

    def send(self, method, url, body=None, headers=None, timeout=_transport.DEFAULT):
        """Steps 4-8 of request(): send, set last_response, check, decode."""
        raw = self.exchange(method, url, body, headers, timeout)
        self.last_response = HTTPResponse(raw)
        if raw.status_code == 204:
            return None
        raw.raise_for_status()
        try:
            return raw.json()
        except ValueError:
            return raw

    def exchange(self, method, url, body=None, headers=None, timeout=_transport.DEFAULT):
        """One request through the transport: the RawResponse."""
        parts = urllib.parse.urlsplit(url)
        target = urllib.parse.quote(parts.path or "/", safe=_PATH_SAFE)
        if parts.query:
            target += "?" + parts.query
        answer = self._transport_for(f"{parts.scheme}://{parts.netloc}").request(
            method.upper(), target, body, headers or None, timeout=timeout)
        content = answer.data
        # the header mapping is built only when a caller reads it (or to
        # check an encoding the server announced)
        if content and b"content-encoding" in answer.raw_head.lower() and \
                answer.headers.get("Content-Encoding", "").lower() in ("gzip", "deflate"):
            content = zlib.decompress(content, 47)  # gzip or zlib header, detected
        return RawResponse(url, answer.status, answer.reason, lambda: answer.headers, content)
