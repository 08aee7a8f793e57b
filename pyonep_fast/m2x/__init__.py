"""pyonep_fast.m2x: a drop-in for the `m2x` 5.5.0 client (AT&T M2X v2).

Module for module the same paths (`m2x.client`, `m2x.api`, `m2x.utils`,
`m2x.v2.*`), names, signatures, defaults and return shapes (spec m2x.md
§1-§5), quirks included: naive and aware datetimes alike are read as local
wall-clock time and sent as `...ffffffZ`; `time_iso8601()` returns bytes;
`add_value(v, timestamp=0)` sends no timestamp; Resource attributes come
from `data`; `last_response` is per thread and set before an error is
raised; 4xx/5xx raise `HTTPError` with `.response` (pyonep_fast's M2X
branch, and a `requests.exceptions.HTTPError` too when requests is
installed).

Deviations from m2x 5.5.0 (each loses nothing existing code relies on):
  * Requests go through pyonep_fast's transport (pooled keep-alive shared by
    threads) instead of a requests Session. `M2XClient(key, timeout=...,
    proxy=..., verify=..., hooks=..., max_response_bytes=...)` configure it; upstream ignored extra
    keywords, and the defaults are upstream's (no timeout). Transport
    keywords of a call: `params`, `data`, `json`, `headers`, `apikey`,
    `timeout`; any other raises TypeError (requests took more). A non-JSON
    body is returned as a `RawResponse` (requests.Response's common
    attributes: status_code, reason, headers, content, text, url, json()).
    Connection failures raise `m2x.errors.ConnectionError`, a TransportError
    (and a requests.exceptions.ConnectionError when requests is installed);
    a refusal or reset is also the builtin ConnectionError, a timeout the
    builtin TimeoutError.
  * `post_values`, `post_updates`: value lists are encoded in C, and large
    ones are sent in several requests within the server's limits (at most
    MAX_VALUES_PER_REQUEST values and MAX_BODY_BYTES each); the result is
    the last response. A refused request raises `ValuesNotAccepted` (an
    HTTPError) naming exactly the values not stored; a connection failure
    raises `ValuesNotDelivered` (a TransportError, of the failure's kind:
    also the builtin ConnectionError or TimeoutError as that failure was)
    naming the values whose storage is not confirmed. Values are also accepted as NumPy arrays (a
    `(timestamps, values)` pair with datetime64 timestamps, or a structured
    array with fields `timestamp` and `value`) and as a pandas Series with a
    DatetimeIndex; those timestamps are UTC (naive ones too) and converted
    without a Python object per point. Datetimes in a value list are sent
    with millisecond precision (what the M2X API stores), still read as
    local time as upstream did; timestamp strings are sent as given.
  * `Key.update()` / `Key.remove()` work (PUT / DELETE `keys/{key}`);
    upstream raised AttributeError 'id' (spec §8 #4).
  * A Resource without `data` (during copy/pickle) raises AttributeError
    instead of recursing (spec §8 #16); so does an M2XClient without `api`.
  * `Device.location()` of a device whose data has no `location` field asks
    the server (upstream: KeyError).
  * Additions: `client.api.close()` closes the pooled connections.
"""
version = "5.5.0"
