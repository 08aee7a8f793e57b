"""M2XClient (spec m2x.md §2.1)."""
from .v2.api import APIVersion2


class M2XClient:
    ENDPOINT = "https://api-m2x.att.com"

    def __init__(self, key, api=APIVersion2, endpoint=None, **kwargs):
        self.endpoint = endpoint or self.ENDPOINT
        self.api = api(key, self, **kwargs)

    def url(self, *parts):
        return "/".join(part.strip("/") for part in (self.endpoint,) + parts if part)

    def __getattr__(self, name):
        if name == "api":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.api, name)
