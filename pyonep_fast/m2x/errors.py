"""M2X client errors.

HTTPError is what m2x 5.5.0 raised for a 4xx/5xx answer
(`requests.exceptions.HTTPError`, with `.response`): when requests is
installed ours derives from it too, so `except requests.HTTPError` in
existing code keeps catching it. Every class here is a PyonepFastError.
"""
from ..exceptions import PyonepFastError, TransportError

try:  # only for `except requests...HTTPError` in code written for m2x
    from requests.exceptions import HTTPError as _RequestsHTTPError
except ImportError:
    _RequestsHTTPError = IOError


class M2XError(PyonepFastError):
    """Base of the M2X client's errors."""


class HTTPError(M2XError, _RequestsHTTPError):
    """The API answered with status >= 400. `response` is the RawResponse;
    `client.last_response` holds the same answer as an HTTPResponse."""

    def __init__(self, message, response=None):
        # requests' RequestException takes response= and sets .request
        Exception.__init__(self, message)
        self.response = response
        self.request = None


class ValuesNotAccepted(HTTPError):
    """A value list sent in several requests was refused part way.

    accepted: the values the server stored (for post_values a range of
    indexes into the list; for post_updates {stream: range}); not_accepted:
    the rest, in the same form (the refused request's values and the ones
    after it, which were not sent)."""

    def __init__(self, message, response, accepted, not_accepted):
        super().__init__(message, response)
        self.accepted = accepted
        self.not_accepted = not_accepted


class ValuesNotDelivered(M2XError, TransportError):
    """The connection failed while a value list was being sent: `accepted`
    were confirmed stored, `not_accepted` were not (the request in flight may
    or may not have been stored; sending those values again is harmless,
    a value at an existing timestamp replaces it)."""

    def __init__(self, message, accepted, not_accepted):
        super().__init__(message)
        self.accepted = accepted
        self.not_accepted = not_accepted
