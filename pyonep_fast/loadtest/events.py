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

Requests made outside any scope (a client without a Locust user, the
fountain, provisioning calls) are fired one by one by the hook itself:
request type from the URL path's API, name = method and path with ids
replaced by `{id}`.

A call fails in Locust's statistics when it raises (the exception is
recorded, then re-raised: the client keeps its own API's contract) or when
the API's judge finds a failure in what it returned (One Platform answers a
refused call with HTTP 200 and a status).
"""
import contextvars
import re
import time
from urllib.parse import urlsplit

from .. import transport

# (path prefix, API), first match wins: how a request outside any call scope is typed.
API_PATHS = (
    ("/onep:v1/", "onep"),
    ("/provision/", "provision"),
    ("/api/create", "fountain"),
    ("/v2/", "m2x"),
    ("/api/", "exp"),
    ("/socket.io/", "exp"),
)
_ID_SEGMENT = re.compile(r"/(?:[0-9a-fA-F]{16,}|[0-9]+|[0-9a-fA-F-]{36})(?=/|$)")


class RequestFailed(Exception):
    """What Locust records for a call the server refused without raising."""


class CallScope:
    """The HTTP requests (transport RequestEvents) of one measured call."""

    __slots__ = ("events",)

    def __init__(self):
        self.events = []  # list.append is atomic: request_many's workers may add at once


_scope = contextvars.ContextVar("pyonep_fast_loadtest_call", default=None)


def api_of(path):
    for prefix, api in API_PATHS:
        if path.startswith(prefix):
            return api
    return "http"


def template_of(path):
    """`path` without its query, with id-like segments replaced by {id}."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])


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
        scope = _scope.get()
        if scope is not None:
            scope.events.append(event)
            return
        path = urlsplit(event.url).path
        exception = event.exception
        if exception is None and event.status is not None and event.status >= 400:
            exception = _status_failure(event)
        self.fire(request_type=api_of(path), name=f"{event.method} {template_of(path)}",
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
