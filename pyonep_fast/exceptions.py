"""One exception tree for the whole package.

Every exception pyonep_fast raises derives from `PyonepFastError`, which *is*
pyonep's `OneException`, so code written for pyonep catches ours unchanged:

    OneException (= PyonepFastError)
    ├── CoreError (also ValueError)       C core / Python twin error codes
    │   ├── EncodeError                   a value that cannot be written as JSON
    │   └── DecodeError                   malformed JSON handed to the core
    ├── OnePlatformException              the One Platform answered with an error
    ├── JsonRPCRequestException           the request could not be made
    │   └── TransportError                connection, timeout, TLS (urllib3 errors)
    ├── JsonRPCResponseException          (pyonep name; kept for compatibility)
    ├── JsonStringException               (pyonep name; kept for compatibility)
    └── ProvisionException                provisioning response with status >= 400
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
