"""One Platform error shapes: a request's error body, a call's refusal."""
import orjson

from ...exceptions import OnePlatformException
from ..http import json_response


class CallRefused(OnePlatformException):
    """An RPC call ends with a status other than "ok".

    `status` is the status string (or recordbatch's list); `result` and
    `error` are added to the response entry when not None.
    """

    def __init__(self, status, result=None, error=None):
        super().__init__(status, error)
        self.status = status
        self.result = result


def request_error(code, context):
    message = {-1: "Invalid JSON", 400: "Bad Request", 401: "Invalid", 408: "Request Timeout",
               413: "Request Entity Too Large", 500: "Internal Error"}[code]
    return orjson.dumps({"error": {"code": code, "message": message, "context": context}})


def fail(context="arguments"):
    return CallRefused("fail", error={"code": 501, "message": "Error", "context": context})


def over_budget(context):
    """A call whose result would pass a budget of the server (server/limits.py):
    context "points" (points one read may return) or "response" (bytes of
    one response's results). The call changes nothing."""
    return CallRefused("fail", error={"code": 413, "message": "Request Entity Too Large", "context": context})


def refused(status):
    return CallRefused(status)


def body_error(status):
    """The RPC's answer to a request body that is too large (413), too slow (408) or cut short (400)."""
    return json_response(request_error(status, "body"), status)
