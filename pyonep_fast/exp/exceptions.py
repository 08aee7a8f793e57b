"""exp_sdk.exceptions (spec/exp.md 1.8): ExpError and its subclasses.

`RuntimeError` is the SDK's own name (it shadows the builtin in modules that
star-import this one, as upstream's does); ours also derives from the
builtin RuntimeError, so either name catches it.
"""
import builtins
import logging

from ..exceptions import ExpError

__all__ = ["ApiError", "AuthenticationError", "ExpError", "NetworkError", "RuntimeError", "UnexpectedError"]

logger = logging.getLogger("exp")


class AuthenticationError(ExpError):
    """Bad credentials; after a refused login, every get_auth() too."""


class UnexpectedError(ExpError):
    """A transport failure, a non-JSON error body, an unexpected status."""

    def __init__(self, message):
        super().__init__(message)
        logger.debug("An unexpected error occurred: %s", message, exc_info=True)


class RuntimeError(ExpError, builtins.RuntimeError):  # noqa: A001 -- upstream's name
    """Bad start options, or a stopped SDK instance."""


class ApiError(ExpError):
    """The API answered an error: `code`, `message`, `status_code` and the
    parsed error body as `payload`."""

    def __init__(self, code=None, message=None, status_code=None, payload=None):
        super().__init__(message or "An unknown error has occurred.")
        self.code = code or "unknown.error"
        self.status_code = status_code
        self.payload = payload

    def __str__(self):
        return f"{self.code}: {self.message} \n {self.payload}"

    def __reduce__(self):  # survives pickling (worker processes) with every attribute
        return type(self), (self.code, self.message, self.status_code, self.payload)


class NetworkError(ExpError):
    """A listen that was not acknowledged in time."""
