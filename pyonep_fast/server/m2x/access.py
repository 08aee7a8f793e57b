"""The one access check of the M2X API: every /v2 route goes through
`authorize` with the scope its path names, before its handler runs.

  * no X-M2X-KEY, an unknown, regenerated, deleted or expired key: 401;
  * a verb the key's `permissions` lack (HEAD/OPTIONS count as GET): 403;
  * a device key outside its own device's paths, a distribution key outside
    its distribution's paths: 403;
  * a master key: anything of its own account.
Objects are then looked up inside the key's account only, so another
account's ids answer 404 whatever the key.
"""
from .errors import forbidden, unauthorized

ACCOUNT = "account"
DEVICE = "device"
DISTRIBUTION = "distribution"


def scope_of(match_info):
    """(kind, id) of what a path addresses."""
    if "device_id" in match_info:
        return DEVICE, match_info["device_id"]
    if "distribution_id" in match_info:
        return DISTRIBUTION, match_info["distribution_id"]
    return ACCOUNT, None


def authenticate(state, token, new_accounts=True):
    """The live key document of a token, else a 401 Problem. new_accounts:
    an unknown token may become a new account's key (state.auto_accounts);
    the portal's sign-in, which makes nothing, passes False."""
    key = state.key_for(token, new_accounts)
    if key is None or state.key_expired(key):
        raise unauthorized()
    return key


def authorize(state, token, method, scope, new_accounts=True):
    """The key document allowed to do `method` on `scope`, else a Problem."""
    key = authenticate(state, token, new_accounts)
    verb = "GET" if method in ("GET", "HEAD", "OPTIONS") else method
    if verb not in key["permissions"]:
        raise forbidden(f"Forbidden: this API key may not {verb}")
    if key["master"]:
        return key
    kind, target = scope
    if key["device"] is not None and (kind, target) == (DEVICE, key["device"]):
        return key
    if key["distribution"] is not None and (kind, target) == (DISTRIBUTION, key["distribution"]):
        return key
    raise forbidden()
