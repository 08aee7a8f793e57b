"""Errors of the embedded server itself."""
from ..exceptions import PyonepFastError


class ServerError(PyonepFastError):
    """The embedded server cannot start or run as configured."""
