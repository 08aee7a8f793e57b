"""M2X client errors, in pyonep_fast's tree (exceptions.py: HTTPError is the
M2X branch's root; transport failures are TransportErrors).

m2x 5.5.0 raised requests' exceptions: `requests.exceptions.HTTPError` (with
`.response`) for a 4xx/5xx answer and `requests.exceptions.ConnectionError`
when no answer came. When requests is installed, ours derive from those too,
so `except requests.HTTPError` in existing code keeps catching them.
"""
from typing import TYPE_CHECKING

from .. import exceptions

if TYPE_CHECKING:
    from requests.exceptions import ConnectionError as _RequestsConnectionError
    from requests.exceptions import HTTPError as _RequestsHTTPError
else:
    try:  # only for `except requests...` in code written for m2x
        from requests.exceptions import ConnectionError as _RequestsConnectionError
        from requests.exceptions import HTTPError as _RequestsHTTPError
    except ImportError:  # OSError stands in: requests' exceptions are OSErrors, as ours are
        _RequestsConnectionError = _RequestsHTTPError = OSError


class HTTPError(exceptions.HTTPError, _RequestsHTTPError):
    """The API answered with status >= 400. `response` is the RawResponse;
    `client.last_response` holds the same answer as an HTTPResponse."""


class ValuesNotAccepted(HTTPError):
    """A value list sent in several requests was refused part way.

    accepted: the values the server stored (for post_values a range of
    indexes into the list; for post_updates {stream: range}); not_accepted:
    the rest, in the same form (the refused request's values and the ones
    after it, which were not sent)."""

    def __init__(self, message, response, accepted, not_accepted):
        super().__init__(message, response=response)
        self.accepted = accepted
        self.not_accepted = not_accepted


class ConnectionError(exceptions.TransportError, _RequestsConnectionError):  # noqa: A001 (requests' name)
    """No complete answer: connection refused or reset, timeout, TLS. Every
    transport failure of the M2X client is one (requests' name for a failure
    without an answer); the ones below add the builtin ConnectionError or
    TimeoutError, as the Transport's own classes do."""


class ResponseTooLarge(exceptions.ResponseTooLarge, ConnectionError):
    """A ResponseTooLarge of the M2X client's transport."""


class ConnectionFailed(exceptions.ConnectionFailed, ConnectionError):
    """A ConnectionFailed of the M2X client's transport (also the builtin
    ConnectionError)."""


class TransportTimeout(exceptions.TransportTimeout, ConnectionError):
    """A TransportTimeout of the M2X client's transport (also the builtin
    TimeoutError)."""


class ConnectTimeout(exceptions.ConnectTimeout, ConnectionFailed, TransportTimeout):
    """A ConnectTimeout of the M2X client's transport."""


#: How the M2X client's transport names its failures (Transport's `errors`).
TRANSPORT_ERRORS = exceptions.transport_errors(ConnectionError, ResponseTooLarge, ConnectionFailed, TransportTimeout,
                                               ConnectTimeout)


class ValuesNotDelivered(ConnectionError):
    """The connection failed while a value list was being sent: `accepted`
    were confirmed stored, `not_accepted` were not (the request in flight may
    or may not have been stored; sending those values again is harmless, a
    value at an existing timestamp replaces it). Raised as the subclass of
    the failure's kind (values_not_delivered), so that it is what the failure
    was: the builtin ConnectionError after a refusal or reset, TimeoutError
    after a timeout."""

    def __init__(self, message, accepted, not_accepted):
        super().__init__(message)
        self.accepted = accepted
        self.not_accepted = not_accepted


class ConnectionFailedValuesNotDelivered(ValuesNotDelivered, ConnectionFailed):
    """Values not delivered for a ConnectionFailed (also the builtin ConnectionError)."""


class TimeoutValuesNotDelivered(ValuesNotDelivered, TransportTimeout):
    """Values not delivered for a TransportTimeout (also the builtin TimeoutError)."""


class ConnectTimeoutValuesNotDelivered(ValuesNotDelivered, ConnectTimeout):
    """Values not delivered for a ConnectTimeout."""


class ResponseTooLargeValuesNotDelivered(ValuesNotDelivered, ResponseTooLarge):
    """Values not delivered for a ResponseTooLarge (`limit` is its limit)."""


_NOT_DELIVERED = {cls.__bases__[1]: cls for cls in (ConnectionFailedValuesNotDelivered, TimeoutValuesNotDelivered,
                                                    ConnectTimeoutValuesNotDelivered,
                                                    ResponseTooLargeValuesNotDelivered)}


def values_not_delivered(failure, message, accepted, not_accepted):
    """The ValuesNotDelivered for the transport failure `failure` (one of
    TRANSPORT_ERRORS' classes): of its kind too."""
    kind = next((kind for kind in type(failure).__mro__ if kind in _NOT_DELIVERED), None)
    error = _NOT_DELIVERED.get(kind, ValuesNotDelivered)(message, accepted, not_accepted)
    if isinstance(failure, ResponseTooLarge):
        error.limit = failure.limit
    return error


def message(error):
    """An HTTPError in one line with M2X's own words: the status and the
    `message` of its error body (with the fields a 422's `reason` names),
    else the error's text."""
    response = getattr(error, "response", None)
    try:
        body = response.json()
    except (AttributeError, ValueError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return str(error)
    reason = body.get("reason")
    fields = "; ".join(f"{field}: {', '.join(map(str, what if isinstance(what, list) else [what]))}"
                       for field, what in reason.items()) if isinstance(reason, dict) else ""
    return f"{response.status_code} {body['message']}" + (f" ({fields})" if fields else "")
