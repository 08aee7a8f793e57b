"""exp_sdk.authenticator (spec/exp.md 2): login, token refresh, and the
live auth payload behind one lock.

`get_auth()` returns the dict the authenticator holds (not a copy): callers
may change it and the next request sends what they changed. A refresh is due
75 % of the way from the last login/refresh to the token's expiration;
`_login()` and `_refresh()` are callable directly (upstream's tests do).
"""
import threading
import time

import orjson

from . import _jws
from .exceptions import AuthenticationError, UnexpectedError

LOGIN_PATH = "/api/auth/login"
REFRESH_PATH = "/api/auth/token"
JWT_LIFETIME = 30  # seconds, sent in milliseconds as upstream does


class Authenticator:
    def __init__(self, sdk):
        self._sdk = sdk
        self._lock = threading.RLock()
        self._auth = None
        self._refresh_at = None
        self._failed = False

    def get_auth(self):
        with self._lock:
            if self._failed:
                raise AuthenticationError("Invalid credentials. Please restart the SDK with valid credentials.")
            if self._auth is None:
                self._login()
            elif self._refresh_at < int(time.time()):
                self._refresh()
            return self._auth

    def _ready(self):
        """What get_auth() would return without a request, or None (a login
        or refresh is due, or another thread holds the lock): never waits."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._failed or self._auth is None or self._refresh_at < int(time.time()):
                return None
            return self._auth
        finally:
            self._lock.release()

    def _login_body(self):
        options = self._sdk.options
        kind = options.get("type")
        if kind == "user":
            return {"username": options.get("username"), "password": options.get("password"),
                    "organization": options.get("organization")}
        if kind == "device":
            claims = {"uuid": options.get("uuid") or "_", "type": "device", "allowPairing": options.get("allow_pairing")}
            return {"token": self.generate_jwt(claims, options.get("secret") or "_")}
        claims = {"type": "consumerApp", "uuid": options.get("uuid") or "_"}
        return {"token": self.generate_jwt(claims, options.get("api_key") or "_")}

    @staticmethod
    def generate_jwt(payload, secret):
        """The HS256 login token of `payload` (given an `exp` of now + 30 s,
        in milliseconds as upstream sends it) signed with `secret`."""
        payload["exp"] = (int(time.time()) + JWT_LIFETIME) * 1000
        return _jws.sign(payload, secret)

    def _login(self):
        """Logs in with the SDK's current options."""
        with self._lock:
            try:
                status, data = self._sdk.api.send("POST", LOGIN_PATH, self._login_body(), token=None)
            except UnexpectedError as exc:
                raise UnexpectedError("Login encountered an unexpected error.") from exc
            if status == 401:
                self._sdk.network.abort()
                self._failed = True
                raise AuthenticationError("Invalid credentials.")
            if status != 200:
                raise UnexpectedError(f"Login received an unexpected HTTP status code: {status}.")
            self._store(data)

    def _refresh(self):
        """Exchanges the current token for a new one; a refused token means a
        new login (with the options as they are now)."""
        with self._lock:
            if self._auth is None:
                return self._login()
            try:
                status, data = self._sdk.api.send("POST", REFRESH_PATH, token=str(self._auth.get("token")))
            except UnexpectedError as exc:
                raise UnexpectedError("Token refresh encountered an unexpected error.") from exc
            if status == 401:
                self._auth = None
                return self._login()
            if status != 200:
                raise UnexpectedError(
                    f"Token refresh request receive an unexpected HTTP status code: {status}")
            self._store(data)

    def _store(self, data):
        try:
            auth = orjson.loads(data)
            expiration = auth["expiration"]
            self._refresh_at = (time.time() + expiration * 3 / 1000) / 4
        except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
            raise UnexpectedError("Authentication update encountered an unexpected error.") from exc
        self._auth = auth
