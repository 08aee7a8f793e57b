"""HS256 signing of EXP's login tokens (spec/exp.md 2.1), through PyJWT.

The key is what the protocol fixes: a device's secret or a consumer app's
API key as UTF-8 bytes, whatever its length (the fixtures use 11-byte keys),
so PyJWT's warning about HMAC keys under 32 bytes does not apply here. The
claims are serialised as compact JSON by us: PyJWS signs the bytes as given.
"""
import base64
import binascii
import json

from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS
from jwt.exceptions import InvalidTokenError

__all__ = ["InvalidTokenError", "claims_unverified", "sign", "verify"]


class _ProtocolHMAC(HMACAlgorithm):
    def check_key_length(self, key):
        return None


_jws = PyJWS(algorithms=[])
_jws.register_algorithm("HS256", _ProtocolHMAC(HMACAlgorithm.SHA256))


def _key(key):
    return key.encode("utf-8") if isinstance(key, str) else key


def sign(claims, key):
    """A compact HS256 JWS of `claims` (a dict) signed with `key`."""
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    return _jws.encode(payload, _key(key), algorithm="HS256")


def _claims(payload):
    try:
        claims = json.loads(payload)
    except ValueError:
        raise InvalidTokenError("claims are not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidTokenError("claims are not a JSON object")
    return claims


def claims_unverified(token):
    """The claims of `token` before its signature is checked (they name the
    key to check it with)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidTokenError("not a compact JWS")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError("the claims are not base64url") from None
    return _claims(payload)


def verify(token, key):
    """The claims of `token` if it is an HS256 JWS signed with `key`; raises
    InvalidTokenError otherwise. `exp` is not checked (EXP's Python SDK sends
    milliseconds, its JS SDK seconds)."""
    return _claims(_jws.decode(token, _key(key), algorithms=["HS256"]))
