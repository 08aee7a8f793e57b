"""Locust's `request` event for every call any of our clients makes: the
plumbing every API's user class shares.

Two pieces, one for each thing only that place knows:

* `transport.PROCESS_HOOKS` gets one hook (`install`), so every HTTP request
  of every Transport in the process is seen, whichever client sent it.
* A user's client runs each public call inside `measure(api, name, ...)`,
  which opens a call scope (a context variable, so greenlet-local under
  gevent and carried into `request_many`'s workers). The hook adds the HTTP
  requests made inside a scope to it; when the call returns, `measure`
  fires ONE Locust request for it: request type = the API, name = the
  procedure or endpoint template, response time = the call's wall time
  (client encoding and decoding included, as Locust's own clients measure),
  response length = the bytes of its responses, context = what the API's
  judge adds (a deferred batch: its call count). A call that sent nothing
  (queued with defer=True) fires nothing.

Requests made outside any scope (M2X and EXP clients, the fountain,
fixtures, provisioning calls) are fired one by one by the hook itself:
request type from the URL path's API (API_PATHS), name = method and the
path's endpoint template (`POST /v2/devices/{id}/streams/{name}/values`,
`GET /api/devices/{uuid}`; other APIs: ids replaced by `{id}`), timed from
the request's first byte to the response's last.

A call fails in Locust's statistics when it raises (the exception is
recorded, then re-raised: the client keeps its own API's contract) or when
the API's judge finds a failure in what it returned (One Platform answers a
refused call with HTTP 200 and a status). A request abandoned midway by a
BaseException that is no error (GreenletExit when Locust stops a user,
KeyboardInterrupt) is not reported at all, as Locust's own clients do.
"""
import contextvars
import re
import time
from urllib.parse import urlsplit

from .. import transport

_ID_SEGMENT = re.compile(r"/(?:[0-9a-fA-F]{16,}|[0-9]+|[0-9a-fA-F-]{36})(?=/|$)")


def template_of(path):
    """`path` without its query, with id-like segments replaced by {id}."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])


def _after_nouns(placeholders, fixed=frozenset()):
    """A templater for REST paths: a segment after one of `placeholders`'
    keys (a collection name, or a placeholder itself) becomes that key's
    placeholder, unless it is one of the `fixed` words; the query goes."""
    def template(path):
        segments = path.split("?", 1)[0].split("/")
        for index in range(1, len(segments)):
            placeholder = placeholders.get(segments[index - 1])
            if placeholder is not None and segments[index] not in fixed:
                segments[index] = placeholder
        return "/".join(segments)
    return template


#: M2X v2 (spec/m2x.md section 5): POST /v2/devices/{id}/streams/{name}/values
m2x_template = _after_nouns(
    {"devices": "{id}", "streams": "{name}", "keys": "{key}", "distributions": "{id}", "collections": "{id}",
     "commands": "{id}", "jobs": "{id}", "metadata": "{field}"},
    fixed=frozenset(("catalog", "search", "tags")))
_exp_resource = _after_nouns(dict.fromkeys(("devices", "things", "experiences", "locations", "feeds", "content"),
                                           "{uuid}") | {"data": "{group}", "{group}": "{key}"})


def exp_template(path):
    """EXP (spec/exp.md section 3): GET /api/devices/{uuid}, /api/data/{group}/{key},
    /api/delivery/{path}."""
    if path.startswith("/api/delivery/"):
        return "/api/delivery/{path}"
    return _exp_resource(path)


# (path prefix, request type, name template), first match wins: how a
# request outside any call scope is typed and named.
API_PATHS = (
    ("/onep:v1/", "onep", template_of),
    ("/provision/", "provision", template_of),
    ("/api/create", "fountain", template_of),
    ("/api/fixtures/", "fixtures", template_of),
    ("/_fixtures/", "fixtures", template_of),
    ("/v2/", "M2X", m2x_template),
    ("/api/", "EXP", exp_template),
    ("/socket.io/", "EXP", template_of),
)


class RequestFailed(Exception):
    """What Locust records for a call the server refused without raising."""


class CallScope:
    """The HTTP requests (transport RequestEvents) of one measured call."""

    __slots__ = ("events",)

    def __init__(self):
        self.events = []  # list.append is atomic: request_many's workers may add at once


_scope = contextvars.ContextVar("pyonep_fast_loadtest_call", default=None)


def request_name(path):
    """(request type, name template) of a request to `path`."""
    for prefix, api, template in API_PATHS:
        if path.startswith(prefix):
            return api, template(path)
    return "http", template_of(path)


class Reporter:
    """Fires Locust's request event of one Environment; `install` makes it
    the process's (a Locust process runs one Environment)."""

    def __init__(self, environment):
        self.environment = environment
        self.fire = environment.events.request.fire

    def measure(self, api, name, judge, method, *args, **kwargs):
        """method(*args, **kwargs), reported as one request `api` / `name`.
        judge(result) -> (exception or None, context dict or None)."""
        scope = CallScope()
        token = _scope.set(scope)
        started = time.perf_counter()
        try:
            result = method(*args, **kwargs)
        except Exception as exc:
            _scope.reset(token)
            self._fire_call(api, name, started, scope, exc, None)
            raise
        _scope.reset(token)
        if scope.events:
            failure, context = judge(result) if judge is not None else (None, None)
            self._fire_call(api, name, started, scope, failure, context, result)
        return result

    def _fire_call(self, api, name, started, scope, exception, context, result=None):
        elapsed = time.perf_counter() - started
        events = scope.events
        context = dict(context or ())
        if len(events) > 1:
            context["http_requests"] = len(events)
        if exception is None:
            exception = next((_status_failure(event) for event in events
                              if event.status is not None and event.status >= 400), None)
        self.fire(request_type=api, name=name, response_time=elapsed * 1000.0,
                  response_length=sum(event.response_size for event in events),
                  response=result, context=context, exception=exception)

    def on_transport_request(self, event):
        if event.exception is not None and not isinstance(event.exception, Exception):
            return    # abandoned, not answered (a user stopped mid-request): Locust's own clients report none
        scope = _scope.get()
        if scope is not None:
            scope.events.append(event)
            return
        api, template = request_name(urlsplit(event.url).path)
        exception = event.exception
        if exception is None and event.status is not None and event.status >= 400:
            exception = _status_failure(event)
        self.fire(request_type=api, name=f"{event.method} {template}",
                  response_time=event.elapsed * 1000.0, response_length=event.response_size,
                  response=None, context={}, exception=exception)


def _status_failure(event):
    return RequestFailed(f"HTTP {event.status}")


def install(environment):
    """The Reporter of `environment`, hooked into every Transport of this
    process (replacing the hook of an earlier Environment)."""
    reporter = getattr(environment, "pyonep_fast_reporter", None)
    if reporter is not None:
        return reporter
    reporter = Reporter(environment)
    environment.pyonep_fast_reporter = reporter
    transport.PROCESS_HOOKS[:] = [hook for hook in transport.PROCESS_HOOKS
                                  if not isinstance(getattr(hook, "__self__", None), Reporter)]
    transport.PROCESS_HOOKS.append(reporter.on_transport_request)
    return reporter
