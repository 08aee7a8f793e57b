"""A client that does what m2x 5.5.0 does per call, for benchmarks.

Written from spec/m2x.md §2-§3 (not from m2x's source): one requests.Session
with the same default headers, request bodies written by `json.dumps` with an
encoder that formats every datetime by reading its wall clock as local time
(`time.mktime`) and printing `%Y-%m-%dT%H:%M:%S.%fZ`, `raise_for_status()`,
then `response.json()`.
"""
import datetime
import json
import time

import requests


def to_iso(moment):
    seconds = time.mktime(moment.timetuple())
    utc = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).replace(microsecond=moment.microsecond)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Encoder(json.JSONEncoder):
    def default(self, value):
        if isinstance(value, (datetime.date, datetime.datetime)):
            return to_iso(value)
        return super().default(value)


class BaselineM2X:
    def __init__(self, key, endpoint):
        self.base = endpoint.rstrip("/") + "/v2/"
        self.session = requests.Session()
        self.session.headers.update({"X-M2X-KEY": key, "Content-type": "application/json",
                                     "Accept-Encoding": "gzip, deflate", "User-Agent": "M2X-Python/5.5.0"})

    def request(self, method, path, data=None):
        body = json.dumps(data, cls=Encoder) if data else None
        response = self.session.request(method, self.base + path, data=body)
        if response.status_code == 204:
            return None
        response.raise_for_status()
        return response.json()

    def post_values(self, device, stream, values, per_request=50_000):
        """m2x sends one request; a list longer than the server takes per
        request goes in slices of per_request (what its user has to do)."""
        for first in range(0, len(values), per_request):
            result = self.request("POST", f"devices/{device}/streams/{stream}/values",
                                  {"values": values[first:first + per_request]})
        return result

    def add_value(self, device, stream, value):
        return self.request("PUT", f"devices/{device}/streams/{stream}/value", {"value": value})

    def close(self):
        self.session.close()
