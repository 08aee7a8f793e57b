"""Response bodies are read in bounded pieces, up to the transport's
max_response_bytes (issue 9, item 10): a server's declared length never
decides how much the client allocates, and no framing (Content-Length,
chunked, read-to-close) gets past the limit."""
import pickle
import tracemalloc

import pytest

from pyonep_fast import exceptions
from pyonep_fast.exceptions import TransportError
from pyonep_fast.onep import OnepV1
from pyonep_fast.transport import DEFAULT_MAX_RESPONSE_BYTES, Transport
from scripted_http import ScriptedServer, http_response

MiB = 1 << 20


def declaring(length, sent=b"12345678"):
    """An answer whose Content-Length claims `length` bytes; `sent` follow, then the server closes."""
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length + sent, True)


def chunked(*chunks, sizes=None):
    body = b"".join(b"%x\r\n%s\r\n" % (size if size is not None else len(chunk), chunk)
                    for chunk, size in zip(chunks, sizes or [None] * len(chunks)))
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n"


def peak_bytes_of(action):
    """Peak traced allocation (bytes) while running action()."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_follows_the_bytes_received_not_the_declared_length():
    declared = 64 * MiB  # under the default limit: read, and found short
    with ScriptedServer(lambda request: declaring(declared)) as server, \
            Transport(server.url, retries=0) as client:
        def request():
            with pytest.raises(TransportError, match=f"connection closed after 8 of {declared} body bytes"):
                client.request("GET", "/")
        peak = peak_bytes_of(request)
    assert peak < 4 * MiB, f"{peak:,} bytes allocated for an 8-byte body"


def test_a_declared_length_above_the_limit_is_refused_at_once():
    answers = iter([declaring(3_000_000_000), http_response(b"next")])
    with ScriptedServer(lambda request: next(answers)) as server, Transport(server.url) as client:
        assert client.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 256 * MiB
        holder = {}

        def request():
            with pytest.raises(exceptions.ResponseTooLarge) as info:
                client.request("GET", "/")
            holder["error"] = info.value
        peak = peak_bytes_of(request)
        assert peak < 4 * MiB, f"{peak:,} bytes allocated"
        error = holder["error"]
        assert error.limit == 256 * MiB and isinstance(error, TransportError)
        copy = pickle.loads(pickle.dumps(error))  # e.g. from a worker process
        assert (type(copy), str(copy), copy.limit) == (type(error), str(error), error.limit)
        assert str(error) == ("Failed to make http request: the response body (Content-Length 3000000000) "
                              "is larger than max_response_bytes (268435456)")
        assert client.request("GET", "/").data == b"next"  # on a new connection
        assert server.connections == 2


@pytest.mark.parametrize("answer,within", [
    (http_response(b"x" * 1000), True),
    (http_response(b"x" * 1001), False),
    (chunked(b"x" * 400, b"y" * 600), True),
    (chunked(b"x" * 400, b"y" * 601), False),
    (chunked(*[b"z" * 10] * 101), False),
    (chunked(b"x" * 8, sizes=[0xFFFFFFFFFF]), False),  # a chunk claiming a terabyte
    ((b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1000, True), True),  # read to close
    ((b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1001, True), False),
])
def test_every_framing_respects_the_limit(answer, within):
    with ScriptedServer(lambda request: answer) as server, \
            Transport(server.url, max_response_bytes=1000) as client:
        if within:
            assert len(client.request("GET", "/").data) == 1000
        else:
            with pytest.raises(exceptions.ResponseTooLarge, match=r"larger than max_response_bytes \(1000\)"):
                client.request("GET", "/")


def test_chunks_are_read_in_bounded_pieces():
    claim = 200 * MiB  # under the limit, never sent
    answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\nabc" % claim, True)
    with ScriptedServer(lambda request: answer) as server, Transport(server.url, retries=0) as client:
        def request():
            with pytest.raises(TransportError, match=f"connection closed after 3 of {claim} body bytes"):
                client.request("GET", "/")
        peak = peak_bytes_of(request)
    assert peak < 4 * MiB, f"{peak:,} bytes allocated"


def test_onepv1_names_it_as_pyonep_does():
    with ScriptedServer(lambda request: declaring(3_000_000_000)) as server:
        host, port = server.url.rsplit("//", 1)[1].split(":")
        with OnepV1(host=host, port=port, https=False) as onep, \
                pytest.raises(exceptions.JsonRPCRequestException) as info:
            onep.read("c" * 40, "r" * 40, {})
    assert type(info.value) is exceptions.OnepResponseTooLarge
    assert isinstance(info.value, exceptions.ResponseTooLarge) and info.value.limit == 256 * MiB
