"""The exception tree: every error is a PyonepFastError; pyonep's names are
one branch, and what the clients raise sits at the right place in it,
checked on errors raised by real calls (the embedded server, a scripted
loopback server, a closed port)."""
import math
import pickle
import socket

import orjson
import pytest

from pyonep_fast import exceptions
from pyonep_fast.exceptions import (CoreError, EncodeError, ExpError, HTTPError, IngestError,
                                    JsonRPCRequestException, NotStoredError, OneException,
                                    OnePlatformException, OnepConnectionFailed, OnepConnectTimeout,
                                    OnepEncodeError, OnepTransportError, OnepTransportTimeout,
                                    ProvisionException, PyonepFastError, TransportError)
from pyonep_fast.ingest import ingest
from pyonep_fast.onep import OnepV1
from pyonep_fast.provision import Provision
from pyonep_fast.transport import Transport
from scripted_http import ScriptedServer, closed_port, http_response

BAD_CIK = "0" * 40
AUTH_ERROR = {"code": 401, "message": "Invalid", "context": "auth"}


def client_for(url, **options):
    host, port = url.rsplit("//", 1)[1].split(":")
    return OnepV1(host=host, port=port, https=False, **options)


def lineage(error):
    """The classes of the tree (exceptions module) that `error` is an instance of."""
    return {name for name, cls in vars(exceptions).items()
            if isinstance(cls, type) and issubclass(cls, BaseException) and isinstance(error, cls)}


def test_every_class_of_the_module_is_a_pyonep_fast_error():
    classes = [cls for cls in vars(exceptions).values()
               if isinstance(cls, type) and issubclass(cls, BaseException)]
    assert len(classes) >= 17
    assert all(issubclass(cls, PyonepFastError) for cls in classes)


def test_platform_error_from_the_server_carries_code_and_error(server):
    with client_for(server.url) as onep, pytest.raises(OnePlatformException) as info:
        onep.lookup(BAD_CIK, "alias", "")
    error = info.value
    assert lineage(error) == {"PyonepFastError", "OneException", "OnePlatformException"}
    assert error.code == 401 and error.context == "auth" and error.error == AUTH_ERROR
    assert str(error) == str(AUTH_ERROR)  # pyonep's text, unchanged
    assert error.args == (str(AUTH_ERROR),)
    copy = pickle.loads(pickle.dumps(error))  # e.g. from a worker process
    assert (type(copy), str(copy), copy.code, copy.error) == (OnePlatformException, str(error), 401, AUTH_ERROR)


def test_per_call_error_and_unparsable_answer():
    def answer(request):
        (call,) = orjson.loads(request.body)["calls"]
        if call["procedure"] == "read":
            return http_response(b"[{\"id\": %d, \"error\": {\"code\": 501, \"message\": \"Error\"}}]" % call["id"])
        return http_response(b"not json")

    with ScriptedServer(answer) as scripted, client_for(scripted.url) as onep:
        with pytest.raises(OnePlatformException) as call_error:
            onep.read("c" * 40, "r" * 40, {})
        assert call_error.value.code == 501 and call_error.value.error == {"code": 501, "message": "Error"}
        assert str(call_error.value) == "{'code': 501, 'message': 'Error'}"
        with pytest.raises(OnePlatformException, match="^Exception while parsing JSON response: ") as parse:
            onep.info("c" * 40, "r" * 40)
        assert parse.value.code is None and parse.value.error is None


def silent_listener(backlog):
    """A listening socket that never accepts: connections queue in the
    kernel (a request on one is never answered); past `backlog` queued ones
    a connect is not answered either."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    return listener


def fill_backlog(listener):
    """Connections that fill `listener`'s accept queue (listen(0) holds one),
    so that the next connect waits for a SYN-ACK that never comes."""
    port = listener.getsockname()[1]
    queued = []
    for _ in range(3):
        sock = socket.socket()
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        queued.append(sock)
    return queued


def test_transport_failure_through_onepv1_is_also_pyonep_request_exception():
    with client_for(f"http://127.0.0.1:{closed_port()}", httptimeout=2) as onep:
        onep.onephttp.retries = 0
        with pytest.raises(JsonRPCRequestException, match="^Failed to make http request: ") as info:
            onep.write(BAD_CIK, "r" * 40, 1)
    assert type(info.value) is OnepConnectionFailed
    assert lineage(info.value) == {"PyonepFastError", "OneException", "JsonRPCRequestException",
                                   "TransportError", "OnepTransportError", "ConnectionFailed",
                                   "OnepConnectionFailed"}
    assert isinstance(info.value, ConnectionError) and not isinstance(info.value, TimeoutError)


def test_a_request_without_answer_is_a_timeout_error_too():
    with silent_listener(8) as listener:
        port = listener.getsockname()[1]
        with client_for(f"http://127.0.0.1:{port}") as onep:
            onep.httptimeout = 0.3
            with pytest.raises(TimeoutError, match="read timed out after 0.3 s") as info:
                onep.info(BAD_CIK, {"alias": ""})
            assert type(info.value) is OnepTransportTimeout
            assert isinstance(info.value, JsonRPCRequestException)
            assert not isinstance(info.value, ConnectionError)
        with Transport(f"http://127.0.0.1:{port}", timeout=0.3) as plain, \
                pytest.raises(TimeoutError) as info:
            plain.request("POST", "/", b"{}")
        assert lineage(info.value) == {"PyonepFastError", "TransportError", "TransportTimeout"}


def test_a_connection_not_made_in_time_is_both_connection_and_timeout_error():
    with silent_listener(0) as listener:
        queued = fill_backlog(listener)
        try:
            with client_for(f"http://127.0.0.1:{listener.getsockname()[1]}") as onep:
                onep.httptimeout = 0.3
                onep.onephttp.retries = 0
                with pytest.raises(ConnectionError) as info:
                    onep.info(BAD_CIK, {"alias": ""})
        finally:
            for sock in queued:
                sock.close()
    assert type(info.value) is OnepConnectTimeout
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, OneException)
    assert "timed out" in str(info.value)


def test_constructors_never_fail_on_their_arguments():
    """A host that already carries a port (spec 4.2): OnepV1 and Provision
    construct; the first request raises pyonep's JsonRPCRequestException."""
    onep = OnepV1(host="127.0.0.1:34627", port=443, https=False)
    with pytest.raises(JsonRPCRequestException, match="^Failed to make http request: ") as info:
        onep.info(BAD_CIK, {"alias": ""})
    assert type(info.value) is OnepTransportError
    onep.close()
    for options in ({}, {"https": True}):
        provision = Provision(host="127.0.0.1:34627", port=443, **options)
        with pytest.raises(TransportError, match="^Failed to make http request: "):
            provision.model_list(BAD_CIK)
        provision.close()


def test_transport_failure_of_the_transport_itself_is_not_a_pyonep_name():
    with Transport(f"http://127.0.0.1:{closed_port()}", retries=0) as plain, \
            pytest.raises(TransportError) as info:
        plain.request("GET", "/")
    assert lineage(info.value) == {"PyonepFastError", "TransportError", "ConnectionFailed"}
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(OnepTransportError, match="invalid header"):  # raised before sending too
        Transport("http://127.0.0.1:1", errors=exceptions.ONEP_TRANSPORT_ERRORS,
                  headers={"X-Bad": "a\r\nb"})


def test_a_value_onepv1_cannot_encode_is_an_encode_error_and_a_pyonep_name():
    """pyonep code catches OneException around its calls; NaN must not slip past it."""
    with client_for("http://127.0.0.1:1") as onep:
        for call in (lambda: onep.write(BAD_CIK, "r" * 40, math.nan),
                     lambda: onep.record(BAD_CIK, "r" * 40, [[1, math.inf]], {}, defer=True),
                     lambda: onep.create(BAD_CIK, "dataport", {"name": "\udc80"})):
            with pytest.raises(OneException) as info:
                call()
            assert type(info.value) is OnepEncodeError
            assert lineage(info.value) == {"PyonepFastError", "CoreError", "EncodeError", "OneException",
                                           "OnepEncodeError"}
            assert isinstance(info.value, ValueError)


def test_core_errors_outside_onepv1_are_value_errors_not_pyonep_names():
    from pyonep_fast._core.batch import Batch

    with pytest.raises(EncodeError) as info:
        Batch().add("re\udc80ad", b"[]")
    assert lineage(info.value) == {"PyonepFastError", "CoreError", "EncodeError"}
    assert isinstance(info.value, ValueError) and isinstance(info.value, CoreError)


def test_ingest_error_is_a_value_error(server, fresh_client):
    with client_for(server.url) as onep, pytest.raises(IngestError, match="'missing'") as info:
        ingest(fresh_client["cik"], {"missing": ([1], [1.0])}, client=onep, progress=False)
    assert lineage(info.value) == {"PyonepFastError", "IngestError"}
    assert isinstance(info.value, ValueError)


def test_ingest_stops_at_an_auth_error_without_retrying(server):
    """The auth check reads OnePlatformException.code, not its text."""
    with client_for(server.url) as onep:
        report = ingest(BAD_CIK, {"v": ([1, 2], [1.0, 2.0])}, client=onep, kinds={"v": "float"},
                        retries=2, retry_delay=0.01, progress=False)
    assert report.retries == 0 and not report.ok
    ((_, reason),) = report.failed_chunks
    assert reason == f"server: {AUTH_ERROR}"


def test_provision_exception_is_a_pyonep_name(server):
    provision = Provision("127.0.0.1", server.url.rsplit(":", 1)[1], raise_api_exceptions=True)
    with pytest.raises(ProvisionException) as info:
        provision.model_list(BAD_CIK)
    provision.close()
    assert lineage(info.value) == {"PyonepFastError", "OneException", "ProvisionException"}
    assert str(info.value).startswith(f"{info.value.response.status()} ")


def test_m2x_and_exp_roots_keep_their_upstream_shapes():
    response = object()
    m2x = HTTPError("404 Client Error: Not Found for url: http://x/v2/devices/d", response=response)
    assert lineage(m2x) == {"PyonepFastError", "HTTPError"} and isinstance(m2x, OSError)
    assert m2x.response is response and str(m2x) == "404 Client Error: Not Found for url: http://x/v2/devices/d"
    exp = ExpError("Listen timed out.")
    assert lineage(exp) == {"PyonepFastError", "ExpError"}
    assert exp.message == "Listen timed out." and str(exp) == "Listen timed out."
    assert not isinstance(m2x, OneException) and not isinstance(exp, OneException)


def test_not_stored_error_text():
    error = NotStoredError({"a": [(1, 2.0, "invalid")], "b": [(1, 2.0, "x"), (2, 3.0, "x")]})
    assert str(error) == "3 points not stored: a: 1, b: 2"
    assert lineage(error) == {"PyonepFastError", "NotStoredError"}
