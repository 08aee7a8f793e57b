"""The transport side of the load-test plumbing (no Locust in this process):
process-wide hooks see every Transport's requests, and request_many's
parallel requests run in the caller's context, where a hook finds the call
they belong to."""
import contextvars

from pyonep_fast import transport
from pyonep_fast.transport import Transport
from scripted_http import ScriptedServer, http_response

current_call = contextvars.ContextVar("current_call", default=None)


def test_process_hooks_see_every_transports_requests_in_their_callers_context():
    seen = []

    def hook(event):
        seen.append((current_call.get(), event.method, event.url.rsplit("/", 1)[1], event.response_size))

    transport.PROCESS_HOOKS.append(hook)
    try:
        with ScriptedServer(lambda request: http_response(request.body * 2)) as server, \
                Transport(server.url, parallel=3) as first, Transport(server.url) as second:
            first.request("POST", "/one", b"a")
            current_call.set("batch")
            first.request_many("POST", "/many", [b"b", b"cc", b"ddd"])
            current_call.set(None)
            second.request("GET", "/two")
    finally:
        transport.PROCESS_HOOKS.remove(hook)
    assert seen[0] == (None, "POST", "one", 2)
    assert sorted(seen[1:4]) == [("batch", "POST", "many", 2), ("batch", "POST", "many", 4),
                                 ("batch", "POST", "many", 6)]
    assert seen[4] == (None, "GET", "two", 0)
