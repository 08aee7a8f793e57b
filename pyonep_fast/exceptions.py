"""One exception tree for the whole package.

Every exception pyonep_fast raises derives from `PyonepFastError`. Under it,
each upstream client's own names form a branch, so that code written for
that client catches ours unchanged; errors of our own machinery sit beside
them, also deriving from a builtin where one fits:

    PyonepFastError
    ├── OneException                      pyonep's names (pyonep.exceptions)
    │   ├── OnePlatformException          the One Platform answered with an error (.code, .error)
    │   ├── JsonRPCRequestException       the request could not be made
    │   │   └── OnepTransportError        a TransportError seen through OnepV1
    │   │       └── OnepResponseTooLarge  a ResponseTooLarge seen through OnepV1
    │   ├── JsonRPCResponseException      (pyonep name; kept for compatibility)
    │   ├── JsonStringException           (pyonep name; kept for compatibility)
    │   └── ProvisionException            provisioning response with status >= 400
    ├── HTTPError (also OSError)          m2x's name: an M2X answer with status >= 400
    ├── ExpError                          root of exp_sdk.exceptions' names
    ├── TransportError                    connection, timeout, TLS, malformed response
    │   ├── ConnectionFailed (also ConnectionError)  refused, reset, closed unanswered, DNS, TLS
    │   │   └── ConnectTimeout            no connection within the connect timeout (also ↓)
    │   ├── TransportTimeout (also TimeoutError)     no answer within the timeout
    │   └── ResponseTooLarge              a body above the transport's max_response_bytes
    ├── CoreError (also ValueError)       C core / Python twin error codes
    │   ├── EncodeError                   a value that cannot be written as JSON
    │   │   └── OnepEncodeError           ...in a call of the pyonep surface (also OneException)
    │   └── DecodeError                   malformed JSON handed to the core
    ├── IngestError (also ValueError)     a bulk ingest cannot start or resume
    └── NotStoredError                    buffered points the server did not store

The embedded server's own errors live in the server (pyonep_fast.server:
ServerError; server/onep/errors.py: CallRefused, a call's non-ok status).

A facade whose upstream names transport failures differently has the
transport raise a subclass of both (the Transport's `errors` maps each
transport error class to the facade's): OnepV1's transport failures are pyonep's
`JsonRPCRequestException` and still our `TransportError`, and a connection
failure or a timeout is also the builtin `ConnectionError` or `TimeoutError`
that code written for requests catches. Values the pyonep surface cannot
encode raise `OnepEncodeError`: an `EncodeError` and pyonep's `OneException`.
"""


class PyonepFastError(Exception):
    """Base of every exception pyonep_fast raises."""


# ---- pyonep's names (spec/onep-rpc.md 4.8, spec/provision.md) ----------------


class OneException(PyonepFastError):
    """pyonep's base: "Unknown error" responses, and every pyonep name below."""


class OnePlatformException(OneException):
    """The platform reported an error for the request or a call.

    str() is pyonep's text (the error object's repr, or the parse failure);
    `error` is the error object the server sent (None when the body could not
    be read as an answer), `code` its "code" (e.g. 401 for a bad CIK) and
    `context` its "context" (e.g. "auth"), so callers need not parse the text.
    """

    def __init__(self, message, error=None):
        super().__init__(message)
        self.error = error

    @property
    def code(self):
        return self._field("code")

    @property
    def context(self):
        """Where the platform saw the error ("auth", "arguments", ...), or None."""
        return self._field("context")

    def _field(self, name):
        error = self.error
        return error.get(name) if isinstance(error, dict) else None


class JsonRPCRequestException(OneException):
    """The request could not be made (or there was nothing to send)."""


class JsonRPCResponseException(OneException):
    """Kept for pyonep compatibility; pyonep never raises it either."""


class JsonStringException(OneException):
    """Kept for pyonep compatibility; pyonep never raises it either."""


class ProvisionException(OneException):
    """A provisioning call answered with HTTP status >= 400.

    `response` is the ProvisionResponse; str() gives "<status> <reason>".
    """

    def __init__(self, response):
        super().__init__(response)
        self.response = response

    def __str__(self):
        return f"{self.response.status()} {self.response.reason()}"

    __repr__ = __str__


# ---- the M2X and EXP branches (spec/m2x.md, spec/exp.md) --------------------


class HTTPError(PyonepFastError, OSError):
    """Root of the M2X branch, named as m2x raises it: an answer with status
    4xx/5xx (requests.exceptions.HTTPError upstream, an OSError, with the
    response in `.response`; the client's `last_response` is set first).
    str() is requests' text, e.g. "404 Client Error: Not Found for url: <url>".
    """

    def __init__(self, *args, response=None):
        super().__init__(*args)
        self.response = response


class ExpError(PyonepFastError):
    """Root of exp_sdk.exceptions' names (AuthenticationError,
    UnexpectedError, RuntimeError, ApiError, NetworkError derive from it).
    `message` is the text; str() gives it."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return str(self.message)


# ---- our own machinery ------------------------------------------------------


class TransportError(PyonepFastError):
    """Connection refused or reset, timeout, TLS failure, or bytes that are
    not an HTTP response."""


class ResponseTooLarge(TransportError):
    """A response body larger than the transport's max_response_bytes
    (`limit`), as declared or as received; its connection is closed."""

    def __init__(self, message, limit=None):  # limit optional: unpickling passes only the message
        super().__init__(message)
        self.limit = limit


class ConnectionFailed(TransportError, ConnectionError):
    """No answer could be had on a connection: refused, reset, closed by the
    server without answering, name resolution or TLS failure. Also the
    builtin ConnectionError."""


class TransportTimeout(TransportError, TimeoutError):
    """The server did not answer within the read timeout. Also the builtin
    TimeoutError."""


class ConnectTimeout(ConnectionFailed, TransportTimeout):
    """No connection within the connect timeout: both a connection failure
    and a timeout (as requests' ConnectTimeout is)."""


class OnepTransportError(TransportError, JsonRPCRequestException):
    """A TransportError of OnepV1's transport: pyonep's name for it is
    JsonRPCRequestException ("Failed to make http request: ...")."""


class OnepResponseTooLarge(ResponseTooLarge, OnepTransportError):
    """A ResponseTooLarge of OnepV1's transport."""


class OnepConnectionFailed(ConnectionFailed, OnepTransportError):
    """A ConnectionFailed of OnepV1's transport."""


class OnepTransportTimeout(TransportTimeout, OnepTransportError):
    """A TransportTimeout of OnepV1's transport."""


class OnepConnectTimeout(ConnectTimeout, OnepConnectionFailed, OnepTransportTimeout):
    """A ConnectTimeout of OnepV1's transport."""


def transport_errors(*classes: type[TransportError]) -> dict[type[TransportError], type[TransportError]]:
    """A facade's `errors` for its Transport: each of `classes` keyed by the
    transport failure class it specialises, its first base (so the table
    follows the declarations and cannot disagree with them)."""
    return {cls.__bases__[0]: cls for cls in classes}


#: How OnepV1's transport names its failures (Transport's `errors`).
ONEP_TRANSPORT_ERRORS = transport_errors(OnepTransportError, OnepResponseTooLarge, OnepConnectionFailed,
                                         OnepTransportTimeout, OnepConnectTimeout)


class CoreError(PyonepFastError, ValueError):
    """An error code from the C core or its pure-Python twin."""

    def __init__(self, code, message):
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class EncodeError(CoreError):
    """A value cannot be encoded (NaN/inf, invalid UTF-8, wrong type)."""


class OnepEncodeError(EncodeError, OneException):
    """An EncodeError of a call made through OnepV1 (or the Datastore on
    it), catchable as pyonep's OneException as well."""


class DecodeError(CoreError):
    """JSON handed to the core is malformed, truncated or too deep."""


class IngestError(PyonepFastError, ValueError):
    """A bulk ingest cannot start or resume (unknown dataport, checkpoint of
    another input)."""


class NotStoredError(PyonepFastError):
    """Buffered points were not stored. `report` maps each resource to the
    list of (timestamp, value, status) of every point not stored."""

    def __init__(self, report):
        count = sum(map(len, report.values()))
        super().__init__(f"{count} points not stored: " + ", ".join(
            f"{resource}: {len(points)}" for resource, points in report.items()))
        self.report = report
