"""Pooled keep-alive HTTP for every facade.

urllib3 owns the connections: one `HTTPConnectionPool` per transport (the
pool manager picks it per scheme/host/port and proxy), TLS verification,
proxy tunnels, reconnecting a checked-out connection that went stale. The
request itself is framed here as one byte string, written with
`socket.sendall` on the pooled connection's socket, and the response is
parsed here (status line, headers, Content-Length / chunked / read-to-close
bodies, `Connection: close`). urllib3's own request path costs ~300 us of
CPU per round trip on this machine; this one costs a few microseconds of
Python on top of the two syscalls. Everything stays on Python sockets, so
gevent (Locust) patching keeps working.

A thread keeps the connection it checked out of the pool between its
requests (a `_Lease`; a poll() before each reuse still catches a server
close, as urllib3's checkout does), and gives it back when the server
closes it; `close()` closes the kept ones too, and a thread's connection
goes back to the pool when the thread ends. On plain stdlib sockets the read timeout is the
kernel's (SO_RCVTIMEO/SO_SNDTIMEO, set only when it changes), so a request
makes no poll() before its send and its recv.

Retries happen only where they cannot run a request twice:
  * the connection could not be made, or the request could not be written
    completely (a server never acts on a request it did not receive whole);
  * a reused keep-alive connection was closed by the server after our request
    went out but before any response byte came back (the idle-close race),
    and only when the request is idempotent (GET/HEAD/OPTIONS by default; a
    caller marks a read-only POST idempotent explicitly). A POST that may
    have been acted on is never re-sent.

Every finished request (success or failure) is reported to each callable in
`Transport.hooks`, then in the process-wide `PROCESS_HOOKS` (what a load
test installs once for every client in its process), as one `RequestEvent`.
`request_many` runs its requests in the caller's contextvars context, so a
hook sees them as part of the call that made them.

Hosts can be redirected process-wide (`redirect()`), which is how unchanged
programs that hardcode a hosted service reach the embedded server:
`PYONEP_FAST_URL=http://127.0.0.1:8080` redirects the hosts of every upstream
in UPSTREAMS (m2.exosite.com, api-m2x.att.com, api.goexp.io).
"""
import _socket
import concurrent.futures
import contextvars
import http.client
import logging
import os
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import urllib3
from urllib3.util import parse_url
from urllib3.util.proxy import connection_requires_http_tunnel

from . import __version__
from ._http import REDACTED, decode_text
from .exceptions import ConnectionFailed, ConnectTimeout, ResponseTooLarge, TransportError, TransportTimeout
from .upstreams import UPSTREAMS, hosted_hosts

log = logging.getLogger(__name__)

ONE_PLATFORM_HOST = UPSTREAMS["pyonep"].hosts[0]
USER_AGENT = f"pyonep_fast/{__version__}"
DEFAULT_TIMEOUT = 10.0
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))

# A header block larger than this is not an HTTP response we can trust.
MAX_HEADER_BYTES = 65536
RECV_SIZE = 65536
# Response bodies above this raise ResponseTooLarge (Transport's max_response_bytes).
DEFAULT_MAX_RESPONSE_BYTES = 256 << 20
# A body is received into blocks of at most this size, allocated as bytes
# arrive: what a server declares never decides what the client allocates.
BODY_BLOCK = 1 << 20
# Bodies above this are written after the head instead of being copied into one buffer.
LARGE_BODY = 65536

# The stdlib socket class, unless something (gevent) replaced it before we
# were imported: on it, read timeouts are the kernel's (SO_RCVTIMEO on a
# blocking socket), which spares the poll() CPython makes before every send
# and recv on a socket with a timeout. Other sockets (TLS, gevent) keep
# Python's timeouts.
_KERNEL_TIMEOUT_SOCKET = (socket.socket if sys.platform.startswith("linux")
                          and socket.socket.__bases__ == (_socket.socket,) else None)
# Longer kernel timeouts than this go through Python's timeout instead.
_MAX_KERNEL_TIMEOUT = 1 << 31


def _os_poll():
    """The operating system's select.poll, also under gevent: the idle check
    of a kept connection is a poll with timeout 0, which never blocks, while
    gevent's cooperative poll(0) starts watchers and waits for a turn of its
    event loop before every request (bench/bench_loadtest.py --kinds OnepUser,
    3 rounds each on a loaded machine: 169 us of CPU per request with it,
    157 us without)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        return monkey.get_original("select", "poll")
    return select.poll


_POLL = _os_poll()


class _UseDefault:
    def __repr__(self):
        return "DEFAULT"


#: Pass as `timeout` to use the transport's own timeout.
DEFAULT = _UseDefault()

#: Callables receiving the RequestEvent of every request of every Transport
#: in this process, after the transport's own hooks (append/remove to change).
PROCESS_HOOKS: list[Callable[["RequestEvent"], object]] = []

_redirects: dict[str, str] = {}
_redirects_lock = threading.Lock()


def redirect(host: str, url: str | None) -> None:
    """Send every transport built from now on for `host` (or any of its
    subdomains) to `url` (scheme://host:port) instead; url None removes it."""
    with _redirects_lock:
        if url is None:
            _redirects.pop(host.lower(), None)
        else:
            _redirects[host.lower()] = url.rstrip("/")


def redirected(base_url):
    """`base_url` after applying the redirects (its path, if any, is dropped
    when redirected)."""
    host = (parse_url(base_url).host or "").lower()
    with _redirects_lock:
        for name, target in _redirects.items():
            if host == name or host.endswith("." + name):
                return target
    return base_url


def redirect_hosted(url):
    """redirect() every upstream's hosted hosts (UPSTREAMS) to `url`;
    None removes those redirects."""
    for host in hosted_hosts():
        redirect(host, url)


if os.environ.get("PYONEP_FAST_URL"):
    redirect_hosted(os.environ["PYONEP_FAST_URL"])


class RequestEvent(NamedTuple):
    """What a hook receives once per request."""

    method: str
    url: str
    status: int | None  # None when no response arrived
    elapsed: float  # seconds, wall clock, from start to last byte or failure
    request_size: int  # body bytes sent
    response_size: int  # body bytes received
    exception: BaseException | None  # the TransportError, or what interrupted the request (gevent's GreenletExit)


class Response:
    """An HTTP response read in full: status, reason, headers, data (bytes)."""

    __slots__ = ("status", "reason", "data", "_head", "_headers")

    def __init__(self, status, reason, head, data):
        self.status = status
        self.reason = reason
        self.data = data
        self._head = head  # the raw header lines, CRLF-separated
        self._headers = None

    @property
    def raw_head(self):
        """The header lines as received (bytes, CRLF-separated)."""
        return self._head

    @property
    def headers(self):
        """Case-insensitive mapping (urllib3's HTTPHeaderDict), built on first use."""
        if self._headers is None:
            headers = urllib3.HTTPHeaderDict()
            for line in self._head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name:
                    headers.add(name.strip().decode("latin-1"), value.strip().decode("latin-1"))
            self._headers = headers
        return self._headers

    @property
    def text(self):
        """`data` as text, decoded as the Content-Type says (_http.decode_text)."""
        return decode_text(self.data, self.headers.get("Content-Type", ""))

    def __repr__(self):
        return f"<Response {self.status} {self.reason} {len(self.data)} bytes>"


class _ProtocolError(Exception):
    """The server's bytes are not an HTTP/1.x response we can parse."""


class _ConnectionLost(_ProtocolError):
    """The connection closed before the response was complete."""


class _NotSent(Exception):
    """Wraps a failure that happened before the whole request was written."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


class _TooLarge(_ProtocolError):
    """The response body exceeds the transport's max_response_bytes."""


class _ClosedEarly(Exception):
    """A reused connection reached EOF before any response byte."""


class _Lease:
    """A pooled connection a thread keeps checked out between its requests
    (checking it out and back in through urllib3's queue for every request
    cost more Python than the rest of a request's framing and parsing).

    `busy` is set while the thread uses it; `Transport.close()` closes only
    leases that are not busy, and a busy one is closed by its thread when
    it finds the pool replaced. When the thread ends, its thread-local
    reference goes and the connection is handed to `returned`, which the
    next checkout moves back into the pool (a finalizer must not take the
    pool's lock: it may run while its own thread holds it)."""

    __slots__ = ("conn", "pool", "returned", "sock", "poller", "busy", "__weakref__")

    def __init__(self, conn, pool, returned):
        self.conn = conn
        self.pool = pool
        self.returned = returned
        self.sock = None
        self.poller = None
        self.busy = True

    def watch(self, sock):
        """Poll `sock` (the connection's current socket) for a server close."""
        if sock is not self.sock:
            self.sock = sock
            self.poller = _POLL()
            self.poller.register(sock, select.POLLIN)

    def __del__(self):
        if not self.busy:
            self.returned.append((self.pool, self.conn))  # atomic: no lock taken


class _Leases(threading.local):
    lease = None


def _split_timeout(timeout):
    """(connect, read) seconds; None means wait forever."""
    if isinstance(timeout, urllib3.Timeout):
        return timeout.connect_timeout, timeout.read_timeout
    if isinstance(timeout, tuple):
        return timeout
    return timeout, timeout


class _Reader:
    """Buffered reads on a socket, for the parts of a response that did not
    arrive with the first recv; a body is refused past `limit` bytes."""

    __slots__ = ("sock", "buf", "pos", "limit")

    def __init__(self, sock, data, pos, limit):
        self.sock = sock
        self.buf = data
        self.pos = pos
        self.limit = limit

    def too_large(self, what):
        return _TooLarge(f"the response body ({what}) is larger than max_response_bytes ({self.limit})")

    def _fill(self):
        chunk = self.sock.recv(RECV_SIZE)
        if not chunk:
            raise _ConnectionLost("connection closed before the response was complete")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def until(self, separator, limit):
        """Bytes up to (not including) separator, which is consumed."""
        while True:
            end = self.buf.find(separator, self.pos)
            if end >= 0:
                data = self.buf[self.pos:end]
                self.pos = end + len(separator)
                return data
            if len(self.buf) - self.pos > limit:
                raise _ProtocolError("response line or header block too long")
            self._fill()

    def head(self, limit):
        """The status line and header lines up to the empty line that ends
        them, consumed, CRLF-separated. A bare LF ends a line too (RFC 9112
        §2.2: test doubles that patch sockets, such as httpretty, write
        those); the usual all-CRLF block takes the first branch."""
        while True:
            buf, pos = self.buf, self.pos
            end = buf.find(b"\r\n\r\n", pos)
            if end >= 0 and buf.find(b"\n\n", pos, end) < 0 and buf.find(b"\n\r\n", pos, end) < 0:
                self.pos = end + 4
                head = buf[pos:end]
                return head if head.count(b"\n") == head.count(b"\r\n") else _crlf(head)
            ends = [(at, length) for at, length in ((buf.find(b"\n\n", pos), 2), (buf.find(b"\n\r\n", pos), 3))
                    if at >= 0]
            if ends:
                at, length = min(ends)
                self.pos = at + length
                return _crlf(buf[pos:at].rstrip(b"\r"))
            if len(buf) - pos > limit:
                raise _ProtocolError("response line or header block too long")
            self._fill()

    def exact(self, n):
        have = len(self.buf) - self.pos
        if have >= n:
            data = self.buf[self.pos:self.pos + n]
            self.pos += n
            return data
        parts = [self.buf[self.pos:]]
        self.buf, self.pos = b"", 0
        while have < n:  # block by block, each allocated once the previous one is full
            block = bytearray(min(n - have, BODY_BLOCK))
            with memoryview(block) as view:
                filled = 0
                while filled < len(block):
                    got = self.sock.recv_into(view[filled:])
                    if not got:
                        raise _ConnectionLost(f"connection closed after {have + filled} of {n} body bytes")
                    filled += got
            parts.append(block)
            have += filled
        return b"".join(parts)

    def to_eof(self):
        parts = [self.buf[self.pos:]]
        self.buf, self.pos = b"", 0
        size = len(parts[0])
        while size <= self.limit and (chunk := self.sock.recv(RECV_SIZE)):
            size += len(chunk)
            parts.append(chunk)
        if size > self.limit:
            raise self.too_large(f"over {self.limit} bytes before the connection closed")
        return b"".join(parts)

    def chunked(self):
        parts = []
        total = 0
        while True:
            size_line = self.until(b"\r\n", 1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _ProtocolError(f"bad chunk size line {size_line[:40]!r}") from None
            if size < 0:
                raise _ProtocolError(f"bad chunk size line {size_line[:40]!r}")
            if size == 0:
                while self.until(b"\r\n", MAX_HEADER_BYTES):  # trailers end with an empty line
                    pass
                return b"".join(parts)
            total += size
            if total > self.limit:
                raise self.too_large(f"chunks of {total} bytes so far")
            parts.append(self.exact(size))
            if self.exact(2) != b"\r\n":
                raise _ProtocolError("chunk not followed by CRLF")

    @property
    def leftover(self):
        return len(self.buf) - self.pos


def _crlf(lines):
    """Lines ended by CRLF or a bare LF, CRLF-separated."""
    return lines.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _header_value(head, name):
    """The value of header `name` (lowercase bytes, with the leading CRLF
    and trailing colon) in a lowercased header block, or None."""
    at = head.find(name)
    if at < 0:
        return None
    at += len(name)
    end = head.find(b"\r\n", at)
    return head[at:end if end >= 0 else len(head)].strip()


def _read_response(sock, method, reused, limit):
    """(status, reason, raw header lines, body, keep_alive) of the next
    response; a body above `limit` bytes raises _TooLarge."""
    try:
        data = sock.recv(RECV_SIZE)
    except ConnectionResetError:
        if reused:
            raise _ClosedEarly() from None
        raise
    if not data:
        if reused:
            raise _ClosedEarly()
        raise _ConnectionLost("connection closed without a response")
    reader = _Reader(sock, data, 0, limit)
    while True:
        head = reader.head(MAX_HEADER_BYTES)
        status_line, _, header_lines = head.partition(b"\r\n")
        version, _, rest = status_line.partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise _ProtocolError(f"bad status line {status_line[:80]!r}")
        status = int(code)
        if status >= 200 or status == 101:
            break
        # 1xx interim responses (100 Continue, 103 Early Hints) precede the real one.
    lowered = b"\r\n" + header_lines.lower()
    connection = _header_value(lowered, b"\r\nconnection:")
    if connection is None:
        keep_alive = version == b"HTTP/1.1"
    else:
        keep_alive = b"close" not in connection and (
            version == b"HTTP/1.1" or b"keep-alive" in connection)
    if method == "HEAD" or status in (204, 304) or status == 101:
        body = b""
    elif (encoding := _header_value(lowered, b"\r\ntransfer-encoding:")) is not None \
            and encoding.endswith(b"chunked"):
        body = reader.chunked()
    elif (length := _header_value(lowered, b"\r\ncontent-length:")) is not None:
        if not length.isdigit():
            raise _ProtocolError(f"bad Content-Length {length[:40]!r}")
        size = int(length)
        if size > limit:
            raise reader.too_large(f"Content-Length {size}")
        body = reader.exact(size)
    else:
        body = reader.to_eof()
        keep_alive = False
    if reader.leftover:
        keep_alive = False  # bytes we did not ask for: the stream is out of step
    return status, reason.decode("latin-1"), header_lines, body, keep_alive


# a CIK (40 hex digits) as a path segment, and an M2X key in /v2/keys/<key>
_SECRET_SEGMENT = re.compile(r"(?<=/)[0-9a-fA-F]{40}(?=/|$)|(?<=/keys/)[^/]+")


def _loggable_path(path):
    """`path` without its query, CIKs and keys redacted: what may be logged
    of a request target."""
    return _SECRET_SEGMENT.sub(REDACTED, path.partition("?")[0])


def _header_bytes(headers, error=TransportError):
    """`Name: value\\r\\n` lines for a mapping; refuses CR/LF injection
    (raising `error`)."""
    lines = []
    for name, value in headers.items():
        name, value = str(name), str(value)
        if "\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value:
            raise error(f"Failed to make http request: invalid header {name!r}")
        lines.append(f"{name}: {value}\r\n")
    try:
        return "".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise error(f"Failed to make http request: header not latin-1: {exc}") from None


def _set_read_timeout(conn, sock, timeout):
    """Make every send and recv on `sock` (conn's socket) give up after
    `timeout` seconds (None: never), and remember it on conn."""
    if type(sock) is _KERNEL_TIMEOUT_SOCKET and (
            timeout is None or 0 < timeout < _MAX_KERNEL_TIMEOUT):
        if timeout is None:
            seconds, micros = 0, 0  # a zero timeval waits forever
        else:
            seconds = int(timeout)
            micros = max(int((timeout - seconds) * 1e6), 0 if seconds else 1)
        timeval = struct.pack("ll", seconds, micros)
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    else:
        sock.settimeout(timeout)
    conn.pyonep_fast_timeout = (sock, timeout)


#: The kinds of failure a Transport raises, most specific first.
FAILURE_KINDS = (ConnectTimeout, ConnectionFailed, TransportTimeout, ResponseTooLarge, TransportError)


def failure_classes(errors: Mapping[type[TransportError], type[TransportError]] | None = None,
                    ) -> dict[type[TransportError], type[TransportError]]:
    """{kind: the class a Transport raises for it} for every FAILURE_KINDS,
    given a facade's `errors` ({kind: its subclass}): a kind the facade
    does not name takes the class it gives the nearest base kind, so a
    facade that names only TransportError gets that for every failure."""
    errors = dict(errors or {})
    table = {}
    for kind in FAILURE_KINDS:
        table[kind] = next((errors[base] for base in kind.__mro__ if base in errors), kind)
    return table


def _connect_timed_out(error):
    """Whether urllib3 gave up on a connect for its timeout (its
    NewConnectionError, a refusal, derives from ConnectTimeoutError)."""
    return (isinstance(error, urllib3.exceptions.ConnectTimeoutError)
            and not isinstance(error, urllib3.exceptions.NewConnectionError))


def env_proxy(url):
    """The proxy URL the environment (http_proxy, https_proxy, no_proxy)
    chooses for `url`, or None."""
    parsed = parse_url(url)
    if urllib.request.proxy_bypass(parsed.host or ""):
        return None
    return urllib.request.getproxies().get(parsed.scheme)


class Transport:
    """Keep-alive HTTP/1.1 to one base URL (scheme://host[:port]).

    timeout: seconds, a (connect, read) tuple, or a urllib3.Timeout; None
        waits forever. Per request, `timeout=None` means no timeout and
        `DEFAULT` (the default) this value.
    pool_maxsize: idle connections kept; more may be open at once.
    headers: sent with every request (a request's own headers override).
    proxy: a proxy URL; None takes it from the environment; False: none.
    verify: True (system CAs), False, or a CA bundle path.
    retries / backoff: attempts for failures before the request was sent,
        with backoff * 2**k seconds between connection attempts.
    parallel: worker threads of request_many.
    hooks: callables receiving a RequestEvent after each request.
    max_response_bytes: a larger response body (declared or received)
        raises ResponseTooLarge; bodies are read in blocks as they arrive.
    errors: {TransportError or a subclass: the subclass of it to raise
        instead}, so that a facade's callers catch its upstream's names
        (OnepV1 passes exceptions.ONEP_TRANSPORT_ERRORS); failure_classes()
        completes it.
    Every request is logged at DEBUG on `pyonep_fast.transport` as one line
    (method, URL without its query, status, bytes, milliseconds); CIKs and
    keys travel in headers and bodies, which are never logged.
    """

    def __init__(self, base_url, *, timeout=DEFAULT_TIMEOUT, pool_maxsize=32, headers=None,
                 proxy=None, verify=True, retries=2, backoff=0.05, parallel=4, hooks=None,
                 max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES, errors=None):
        self._errors = failure_classes(errors)
        self._error = self._errors[TransportError]
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.parallel = parallel
        self.hooks = list(hooks or ())
        self.max_response_bytes = max_response_bytes
        self._pool = None
        self._lock = threading.Lock()
        self._executor = None
        self._local = _Leases()  # this thread's _Lease
        self._leases = weakref.WeakSet()  # every thread's, for close()
        self._returned = []  # (pool, conn) kept by threads that ended
        # A bad base URL is reported by the first request, never by the
        # constructor: clients built and never used must not fail (spec 4.2).
        self._unusable = None
        try:
            self.base_url = redirected(base_url.rstrip("/"))
            url = parse_url(self.base_url)
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError(f"unsupported URL {self.base_url!r}")
        except ValueError as exc:   # urllib3's LocationParseError is one
            self.base_url = base_url
            self.scheme = None
            self._unusable = f"Failed to make http request: {exc}"
            self._manager = urllib3.PoolManager(num_pools=1)
            return
        self.scheme = url.scheme
        default_port = 443 if url.scheme == "https" else 80
        netloc = url.host if url.port in (None, default_port) else f"{url.host}:{url.port}"
        self._origin = f"{url.scheme}://{netloc}"  # what is logged: no user:password
        default_headers = {"Host": netloc, "User-Agent": USER_AGENT}
        default_headers.update(headers or {})
        self._default_headers = default_headers
        self._default_names = {name.lower() for name in default_headers}
        self._default_block = _header_bytes(default_headers, self._error)
        self._header_blocks = {}  # tuple(request headers.items()) -> framed block
        if proxy is None:
            proxy = env_proxy(self.base_url)
        self.proxy = proxy or None
        pool_kw = {"maxsize": pool_maxsize, "block": False, "retries": False}
        if url.scheme == "https":
            if verify is False:
                pool_kw["cert_reqs"] = "CERT_NONE"
            else:
                pool_kw["cert_reqs"] = "CERT_REQUIRED"
                if isinstance(verify, str):
                    pool_kw["ca_certs"] = verify
        if self.proxy:
            self._manager = urllib3.ProxyManager(self.proxy, num_pools=1, **pool_kw)
            tunnel = connection_requires_http_tunnel(
                self._manager.proxy, self._manager.proxy_config, url.scheme)
            self._tunnel = tunnel
            # A forwarding proxy wants the absolute URL as the request target.
            self._target_prefix = "" if tunnel else self.base_url
            self._proxy_block = b"" if tunnel else _header_bytes(self._manager.proxy_headers,
                                                                 self._error)
        else:
            self._manager = urllib3.PoolManager(num_pools=1, **pool_kw)
            self._tunnel = False
            self._target_prefix = ""
            self._proxy_block = b""

    def __repr__(self):
        return f"<Transport {self.base_url}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _get_pool(self):
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self._manager.connection_from_url(self.base_url)
                pool = self._pool
        return pool

    def close(self) -> None:
        """Close the pooled connections; the next request opens new ones."""
        with self._lock:
            pool, self._pool = self._pool, None
            executor, self._executor = self._executor, None
            leases = list(self._leases)
            self._leases.clear()
        self._manager.clear()  # urllib3 2 drops its pools here without closing them
        if pool is not None:
            pool.close()
        for lease in leases:
            if not lease.busy:  # a busy one is closed by its thread, which sees _pool changed
                lease.conn.close()
        self._reclaim(None)
        if executor is not None:
            executor.shutdown(wait=True)

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None, timeout: Any = DEFAULT,
                idempotent: bool | None = None) -> Response:
        """Send one request and read the whole response.

        path: the request target, e.g. "/onep:v1/rpc/process?x=1".
        body: bytes or str (UTF-8) or None.
        idempotent: whether the request may be re-sent after the server
            dropped a reused connection; None: only GET/HEAD/OPTIONS.
        Raises TransportError when no complete response could be had.
        """
        if self._unusable is not None:
            raise self._error(self._unusable)
        method = method.upper()
        if isinstance(body, str):
            body = body.encode("utf-8")
        if timeout is DEFAULT:
            timeout = self.timeout
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        message = self._frame(method, path, body, headers)
        started = time.perf_counter()
        status = None
        data = b""
        error = None
        try:
            response = self._exchange(method, message, timeout, idempotent)
            status = response.status
            data = response.data
            return response
        except BaseException as exc:      # a hook must not take an interrupted request for an answered one
            error = exc
            raise
        finally:
            if self.hooks or PROCESS_HOOKS:
                event = RequestEvent(method, self.base_url + path, status,
                                     time.perf_counter() - started,
                                     len(body) if body else 0, len(data), error)
                for hook in self.hooks:
                    hook(event)
                for hook in PROCESS_HOOKS:
                    hook(event)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s%s -> %s, %d bytes sent, %d received, %.1f ms", method, self._origin,
                          _loggable_path(path), status if error is None else type(error).__name__,
                          len(body) if body else 0, len(data), (time.perf_counter() - started) * 1000)

    def request_many(self, method, path, bodies, headers=None, timeout=DEFAULT, idempotent=None):
        """request() for each body, several at once over pooled connections;
        responses in the order of `bodies`. If any fail, the first failure
        is raised once all have finished."""
        if len(bodies) <= 1:
            return [self.request(method, path, body, headers, timeout, idempotent)
                    for body in bodies]
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.parallel, thread_name_prefix="pyonep_fast-transport")
            executor = self._executor
        # each in a copy of the caller's context: hooks attribute them to its call
        futures = [executor.submit(contextvars.copy_context().run, self.request, method, path,
                                   body, headers, timeout, idempotent)
                   for body in bodies]
        concurrent.futures.wait(futures)
        return [future.result() for future in futures]

    def _frame(self, method, path, body, headers):
        """What to write: the request line, headers and body as one bytes,
        or for a large body (head, body), so that it is not copied."""
        if headers:
            key = tuple(headers.items())
            header_block = self._header_blocks.get(key)
            if header_block is None:
                header_block = self._header_block(headers)
                if len(self._header_blocks) >= 64:  # callers with ever-changing headers
                    self._header_blocks.clear()
                self._header_blocks[key] = header_block
        else:
            header_block = self._default_block
        if body is None and method in IDEMPOTENT_METHODS:
            length = b""
        else:
            length = b"Content-Length: %d\r\n" % (len(body) if body else 0)
        target = self._target_prefix + path
        if " " in target or "\r" in target or "\n" in target:
            raise self._error(f"Failed to make http request: invalid request target {path!r}")
        start = f"{method} {target} HTTP/1.1\r\n".encode("latin-1")
        if body and len(body) > LARGE_BODY:
            return b"".join((start, header_block, self._proxy_block, length, b"\r\n")), body
        return b"".join((start, header_block, self._proxy_block, length, b"\r\n", body or b""))

    def _header_block(self, headers):
        """Default headers merged with `headers` (which win, whatever the case)."""
        overridden = {name.lower() for name in headers}
        if self._default_names.isdisjoint(overridden):
            return self._default_block + _header_bytes(headers, self._error)
        merged = {name: value for name, value in self._default_headers.items()
                  if name.lower() not in overridden}
        merged.update(headers)
        return _header_bytes(merged, self._error)

    def _exchange(self, method, message, timeout, idempotent):
        connect_timeout, read_timeout = _split_timeout(timeout)
        attempt = 0
        while True:
            try:
                return self._attempt(method, message, connect_timeout, read_timeout)
            except _NotSent as exc:
                # a refused certificate does not get better by asking again
                if attempt >= self.retries or isinstance(exc.error, ssl.SSLError):
                    kind = ConnectTimeout if _connect_timed_out(exc.error) else ConnectionFailed
                    raise self._errors[kind](f"Failed to make http request: {exc.error}") from exc.error
                if not isinstance(exc.error, _ClosedEarly):
                    time.sleep(self.backoff * (2 ** attempt))
                log.debug("retrying %s %s after %r (nothing was sent)", method, self.base_url,
                          exc.error)
            except _ClosedEarly as exc:
                if not idempotent or attempt >= self.retries:
                    raise self._errors[ConnectionFailed](
                        "Failed to make http request: the server closed the connection "
                        "without answering") from exc
                log.debug("re-sending idempotent %s %s on a fresh connection", method,
                          self.base_url)
            attempt += 1

    def _checkout(self):
        """(lease, reused) of a connection checked out of the pool (urllib3
        replaces a dropped idle one)."""
        try:
            pool = self._get_pool()
            self._reclaim(pool)
            conn = pool._get_conn()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _NotSent(exc) from exc
        lease = _Lease(conn, pool, self._returned)
        return lease, conn.sock is not None

    def _reclaim(self, pool):
        """Put the connections of ended threads back into `pool`; close
        those from an earlier pool."""
        while self._returned:
            try:
                owner, conn = self._returned.pop()
            except IndexError:  # another thread took the last one
                break
            if owner is pool:
                pool._put_conn(conn)
            else:
                conn.close()

    def _give_back(self, lease, keep):
        """Return a lease's connection to its pool (closed unless `keep`)."""
        lease.busy = True  # the pool's connection now: neither close() nor __del__ touch it
        if self._local.lease is lease:
            self._local.lease = None
        with self._lock:
            self._leases.discard(lease)
        if not keep:
            lease.conn.close()
        lease.pool._put_conn(lease.conn)

    def _keep(self, lease):
        """Make `lease` this thread's, watching its connection's socket."""
        if self._local.lease is not lease:
            self._local.lease = lease
            with self._lock:
                self._leases.add(lease)
        lease.watch(lease.conn.sock)

    def _attempt(self, method, message, connect_timeout, read_timeout):
        # This thread's kept connection, when the pool is still current and
        # the server has not closed it (readable while idle: closed, or garbage).
        lease = self._local.lease
        if lease is not None:
            lease.busy = True  # before reading _pool: see _Lease
            conn = lease.conn
            if lease.pool is self._pool and conn.sock is lease.sock and conn.sock is not None \
                    and not lease.poller.poll(0):
                reused = True
            else:
                self._give_back(lease, keep=False)
                lease = None
        if lease is None:
            lease, reused = self._checkout()
            conn = lease.conn
        keep = False
        try:
            try:
                if not reused:
                    conn.timeout = connect_timeout
                    if self._tunnel:
                        lease.pool._prepare_proxy(conn)
                    else:
                        conn.connect()
                sock = conn.sock
                applied = getattr(conn, "pyonep_fast_timeout", None)
                if applied is None or applied[0] is not sock or applied[1] != read_timeout:
                    _set_read_timeout(conn, sock, read_timeout)  # syscalls only on a change
                if type(message) is tuple:
                    for part in message:
                        sock.sendall(part)
                else:
                    sock.sendall(message)
            except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
                if reused:
                    # A stale keep-alive connection: count the failure as a
                    # dropped connection, not as a reason to back off.
                    raise _NotSent(_ClosedEarly()) from exc
                raise _NotSent(exc) from exc
            try:
                status, reason, head, data, keep = _read_response(sock, method, reused,
                                                                  self.max_response_bytes)
            except _TooLarge as exc:
                raise self._errors[ResponseTooLarge](
                    f"Failed to make http request: {exc}", self.max_response_bytes) from None
            except (TimeoutError, BlockingIOError):  # Python's timeout, or the kernel's
                raise self._errors[TransportTimeout](
                    f"Failed to make http request: read timed out after {read_timeout} s") from None
            except (OSError, _ConnectionLost) as exc:
                raise self._errors[ConnectionFailed](
                    f"Failed to make http request: {exc or type(exc).__name__}") from exc
            except _ProtocolError as exc:
                raise self._error(f"Failed to make http request: {exc}") from exc
            return Response(status, reason, head, data)
        finally:
            if keep and lease.pool is self._pool:
                if lease.sock is not conn.sock or self._local.lease is not lease:
                    self._keep(lease)  # a new lease, or a reconnected socket
                lease.busy = False
                if lease.pool is not self._pool:  # close() ran meanwhile and may have missed it
                    self._give_back(lease, keep=False)
            else:
                self._give_back(lease, keep)
