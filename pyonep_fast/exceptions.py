"""One exception tree for the whole package.

Every exception pyonep_fast raises derives from `PyonepFastError`, which *is*
pyonep's `OneException`, so code written for pyonep catches ours unchanged:

    OneException (= PyonepFastError)
    ├── CoreError (also ValueError)       C core / Python twin error codes
    │   ├── EncodeError                   a value that cannot be written as JSON
    │   └── DecodeError                   malformed JSON handed to the core
    ├── OnePlatformException              the One Platform answered with an error
    │   └── CallRefused                   (server side) a call's non-ok status
    ├── JsonRPCRequestException           the request could not be made
    │   └── TransportError                connection, timeout, TLS (urllib3 errors)
    ├── JsonRPCResponseException          (pyonep name; kept for compatibility)
    ├── JsonStringException               (pyonep name; kept for compatibility)
    ├── ProvisionException                provisioning response with status >= 400
    ├── ServerError                       the embedded server cannot start or run
    ├── IngestError                       a bulk ingest cannot start or resume
    └── NotStoredError                    buffered points the server did not store
"""


class OneException(Exception):
    """Base of every pyonep_fast exception (pyonep's name)."""


PyonepFastError = OneException


class CoreError(OneException, ValueError):
    """An error code from the C core or its pure-Python twin."""

    def __init__(self, code, message):
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class EncodeError(CoreError):
    """A value cannot be encoded (NaN/inf, invalid UTF-8, wrong type)."""


class DecodeError(CoreError):
    """JSON handed to the core is malformed, truncated or too deep."""


class OnePlatformException(OneException):
    """The platform reported an error for the request or a call."""


class JsonRPCRequestException(OneException):
    """The request could not be made (or there was nothing to send)."""


class TransportError(JsonRPCRequestException):
    """Connection refused or reset, timeout, TLS failure."""


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


class CallRefused(OnePlatformException):
    """Server side: an RPC call ends with a status other than "ok".

    `status` is the status string (or recordbatch's list); `result` and
    `error` are added to the response entry when not None.
    """

    def __init__(self, status, result=None, error=None):
        super().__init__(status)
        self.status = status
        self.result = result
        self.error = error


class ServerError(OneException):
    """The embedded server cannot start or run as configured."""


class IngestError(OneException):
    """A bulk ingest cannot start or resume (unknown dataport, checkpoint of
    another input)."""


class NotStoredError(OneException):
    """Buffered points were not stored. `report` maps each resource to the
    list of (timestamp, value, status) of every point not stored."""

    def __init__(self, report):
        count = sum(map(len, report.values()))
        super().__init__(f"{count} points not stored: " + ", ".join(
            f"{resource}: {len(points)}" for resource, points in report.items()))
        self.report = report
