"""The embedded server's budgets, in one place (issue 9, items 7 and 8).

A request over a budget is answered with its API's own error and changes
nothing; the server keeps serving everyone else. `Limits` holds the
configurable ones (EmbeddedServer(limits=...), `pyonep-fast serve` flags);
the rest are constants of the contracts.

Per connection (item 8):
  header_timeout   seconds a connection may spend without a complete request
                   head: from its start or from its previous answer, so an
                   idle keep-alive connection and one sending its headers a
                   byte at a time (slowloris) are both closed after it.
                   aiohttp's own keep-alive timer does this. Long polls,
                   `wait` and websockets are past their head: never cut.
  body_timeout     seconds a request body may take to arrive once its head
                   did: 408 in the API's shape, then the connection closes.
  max_connections  connections open at once; past it a new connection is
                   answered 503 (`Connection: close`) and closed, and the
                   episode is logged once. Never above the process's file
                   descriptor limit less FD_RESERVE.
Per request (item 7):
  max_body         bytes of a request body (413 in the API's shape).
  calls_per_request  RPC calls in one request (whole-request 413, context "calls").
  items_per_request  form fields or CSV lines in one provisioning body (serial
                   numbers, group members): 413 `HTTP/1.1 413 Request Entity Too
                   Large`, counted before anything is parsed; nothing stored.
                   Also the documents of one EXP find page (413 response.tooLarge).
  points_per_read  points one read may return (RPC read, M2X values/sampling/
                   export); more: refused, not truncated.
  response_bytes   bytes of one response's results (a batch of reads that
                   would build more refuses the call that would pass it; an
                   HDI read or an EXP find page over it is refused whole).
  STRING_VALUE_BYTES  one string value (spec 1.8: 64 KB): more is `invalid`.
"""
import dataclasses
import resource

from .._core.entries import MAX_STRING_BYTES

STRING_VALUE_BYTES = MAX_STRING_BYTES
FD_RESERVE = 256          # descriptors kept for the database, worker threads and outgoing dispatches


@dataclasses.dataclass(frozen=True)
class Limits:
    max_body: int = 256 * 1024 * 1024
    body_timeout: float = 30.0
    header_timeout: float = 30.0
    max_connections: int = 10000
    calls_per_request: int = 20000
    items_per_request: int = 20000
    points_per_read: int = 1_000_000
    response_bytes: int = 64 * 1024 * 1024

    def with_options(self, **options):
        """A copy with the options that are not None replaced."""
        return dataclasses.replace(self, **{k: v for k, v in options.items() if v is not None})

    def connection_cap(self):
        """max_connections, held under the process's file descriptor limit."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft - FD_RESERVE))


DEFAULT = Limits()
