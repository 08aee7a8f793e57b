"""M2X's error bodies: {"code", "message"} and for 422 a `reason` map."""
import orjson
from aiohttp import web

from ..http import JSON


class Problem(Exception):
    """An M2X error answer."""

    def __init__(self, status, code, message, reason=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason

    def response(self):
        body = {"code": self.code, "message": self.message}
        if self.reason is not None:
            body["reason"] = self.reason
        return web.Response(body=orjson.dumps(body), status=self.status, headers={"Content-Type": JSON})


def invalid(reason, message="Validation Failed"):
    """422 with reason {field: [problem]} (problem: not_present, invalid, taken)."""
    return Problem(422, "unprocessable_entity", message, {field: [problem] for field, problem in reason.items()})


def not_found(what="Resource"):
    return Problem(404, "not_found", f"{what} not found")


def unauthorized(message="Unauthorized: API key missing or invalid"):
    return Problem(401, "unauthorized", message)


def forbidden(message="Forbidden: this API key may not do that"):
    return Problem(403, "forbidden", message)


def bad_request(message):
    return Problem(400, "bad_request", message)
