"""Exosite Provisioning / Fleet Management client, call- and wire-compatible
with pyonep 0.13.8's `pyonep.provision.Provision` (spec/provision.md §3).

Every request goes over the shared pooled keep-alive transport, so one
`Provision` object may be used by many threads at once and costs one TCP
connection per concurrent caller, not one per request.
"""
import logging
import urllib.parse
from typing import Any, Self

from ._http import curl_command, decode_text, redacted_headers, text_encoding
from .exceptions import ProvisionException
from .transport import Transport

__all__ = ["Provision", "ProvisionResponse", "ProvisionException", "RawResponse"]

log = logging.getLogger(__name__)

PROVISION_BASE = "/provision"
PROVISION_ACTIVATE = PROVISION_BASE + "/activate"
PROVISION_DOWNLOAD = PROVISION_BASE + "/download"
PROVISION_MANAGE = PROVISION_BASE + "/manage"
PROVISION_MANAGE_MODEL = PROVISION_MANAGE + "/model/"
PROVISION_MANAGE_CONTENT = PROVISION_MANAGE + "/content/"
PROVISION_REGISTER = PROVISION_BASE + "/register"

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# pyonep means to send "text/plain, text/csv, application/x-www-form-urlencoded",
# but its HTTP session overwrites every Accept with this (§3.3); servers ignore it.
ACCEPT = "*/*"
# Characters legal in a request target; anything else is percent-encoded (UTF-8),
# as pyonep's transport does. Path segments are otherwise sent as given.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


def _form(*pairs):
    """Form-encode (name, value) pairs in order: values str()-ed, plus-encoded."""
    return urllib.parse.urlencode([(name, str(value)) for name, value in pairs])


class RawResponse:
    """The HTTP response, with the attributes of a `requests.Response` that
    callers of pyonep use: status_code, reason, headers, content, text."""

    __slots__ = ("_response",)

    def __init__(self, response):
        self._response = response

    @property
    def status_code(self):
        return self._response.status

    @property
    def reason(self):
        return self._response.reason

    @property
    def headers(self):
        return self._response.headers

    @property
    def content(self):
        return self._response.data

    @property
    def ok(self):
        return self._response.status < 400

    @property
    def encoding(self):
        """The charset of Content-Type; else ISO-8859-1 for text/*; else None (§5 #24)."""
        return text_encoding(self.headers.get("Content-Type", ""))

    @property
    def text(self):
        """The body in `encoding`; without one, UTF-8, else ISO-8859-1."""
        return decode_text(self._response.data, self.headers.get("Content-Type", ""))

    def __repr__(self):
        return f"<Response [{self.status_code}]>"


class ProvisionResponse:
    """What every Provision method returns: `body` (text), `response` (raw),
    `isok` (status < 400), and the methods status() and reason()."""

    def __init__(self, body, response):
        self.body = body
        self.response = response
        self.isok = response.status_code < 400

    def status(self):
        return self.response.status_code

    def reason(self):
        return self.response.reason

    def __repr__(self):
        return self.body

    def __str__(self):
        return f"Status: {self.status()}, Reason: {self.reason()}, Body: {self.body}"


class Provision:
    """pyonep's provisioning client.

    host: a leading `https://` is dropped (it does not turn on https).
    port: int or str, always put in the URL. httptimeout: seconds (pyonep
        int()-ed it; a fraction is kept here).
    A context manager: `with Provision(...) as p:` closes its connections.
    manage_by_cik: send the key as X-Exosite-CIK (True) or X-Exosite-Token.
    raise_api_exceptions: raise ProvisionException for a status >= 400.
    manage_by_sharecode: model_create sends `code=` instead of `rid=`.
    curldebug: log each request at DEBUG as a curl command line.
    reuseconnection: accepted for compatibility; connections are always
        pooled and kept alive, which is what it asked for, for every caller.
    verbose: accepted and stored, unused (as in pyonep).
    """

    def __init__(self, host: str = "m2.exosite.com", port: str | int = "80", manage_by_cik: bool = True,
                 verbose: bool = False, httptimeout: float = 5, https: bool = False,
                 reuseconnection: bool = False, raise_api_exceptions: bool = False,
                 curldebug: bool = False, manage_by_sharecode: bool = False) -> None:
        if host.startswith("https://"):
            host = host[len("https://"):]
        self._manage_by_cik = manage_by_cik
        self._manage_by_sharecode = manage_by_sharecode
        self._verbose = verbose
        self._raise_api_exceptions = raise_api_exceptions
        self._curldebug = curldebug
        self._reuseconnection = reuseconnection
        self._httptimeout = int(httptimeout) if float(httptimeout).is_integer() else float(httptimeout)
        scheme = "https" if https else "http"
        self._onephttp = Transport(f"{scheme}://{host}:{port}", timeout=self._httptimeout)

    @classmethod
    def from_url(cls, url: str | None = None, **options: Any) -> Self:
        """A client for a server base URL such as "http://127.0.0.1:8080"
        (None: $PYONEP_FAST_URL, else http://127.0.0.1:8080); options are
        the constructor's (manage_by_cik, httptimeout, ...). ValueError for
        a URL that is not scheme://host[:port]."""
        from .compat import server_address

        host, port, https = server_address(url)
        return cls(host=host, port=port, https=https, **options)

    def close(self) -> None:
        """Closes the pooled connections; the next call opens new ones."""
        self._onephttp.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ the request path

    def _request(self, path, key, data, method, key_is_cik, extra_headers={}):
        """One provisioning request (exoline calls this directly).

        GET sends `data` as the query string; other methods send it as the
        body. POST defaults to a form Content-Type; extra_headers override
        (a None value removes a header).
        """
        if method == "GET":
            target, body = (f"{path}?{data}" if data else path), None
        else:
            target, body = path, data
        headers = {"X-Exosite-CIK" if key_is_cik else "X-Exosite-Token": key}
        if method == "POST":
            headers["Content-Type"] = FORM_CONTENT_TYPE
        for name, value in extra_headers.items():
            for existing in [n for n in headers if n.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
        headers = {name: value for name, value in headers.items()
                   if value is not None and name.lower() != "accept"}
        headers["Accept"] = ACCEPT
        target = urllib.parse.quote(target, safe=_URL_SAFE)
        if log.isEnabledFor(logging.DEBUG):
            self._log_request(method, target, headers, body)
        raw = RawResponse(self._onephttp.request(method, target, body, headers))
        response = ProvisionResponse(raw.text, raw)
        if self._raise_api_exceptions and not response.isok:
            raise ProvisionException(response)
        return response

    def _log_request(self, method, target, headers, body):
        """Log the request at DEBUG (a curl line with curldebug); the CIK or
        token header is redacted."""
        if self._curldebug:
            log.debug("%s", curl_command(method, self._onephttp.base_url + target, headers, body,
                                         self._httptimeout))
        else:
            if isinstance(body, bytes):
                body = body.decode("utf-8", "replace")
            log.debug("%s %s\nHost: %s\nHeaders: %s\nBody: %s", method, target, self._onephttp.base_url,
                      redacted_headers(headers), body)

    def _manage(self, path, key, data, method, extra_headers={}):
        """A request whose key header follows manage_by_cik."""
        return self._request(path, key, data, method, self._manage_by_cik, extra_headers)

    @staticmethod
    def _filter_options(aliases=True, comments=True, historical=True):
        options = []
        if not aliases:
            options.append("noaliases")
        if not comments:
            options.append("nocomments")
        if not historical:
            options.append("nohistorical")
        return options

    # ------------------------------------------------------------ content

    def content_create(self, key, model, contentid, meta, protected=False):
        pairs = [("id", contentid), ("meta", meta)]
        if protected is not False:
            pairs.append(("protected", "true"))
        return self._manage(PROVISION_MANAGE_CONTENT + model + "/", key, _form(*pairs), "POST")

    def content_download(self, cik, vendor, model, contentid):
        data = _form(("vendor", vendor), ("model", model), ("id", contentid))
        return self._request(PROVISION_DOWNLOAD, cik, data, "GET", True, {"Accept": "*"})

    def content_info(self, key, model, contentid, vendor=None):
        if not vendor:
            return self._manage(PROVISION_MANAGE_CONTENT + model + "/" + contentid, key, "", "GET")
        data = _form(("vendor", vendor), ("model", model), ("id", contentid), ("info", "true"))
        return self._manage(PROVISION_DOWNLOAD, key, data, "GET")

    def content_list(self, key, model):
        return self._manage(PROVISION_MANAGE_CONTENT + model + "/", key, "", "GET")

    def content_remove(self, key, model, contentid):
        return self._manage(PROVISION_MANAGE_CONTENT + model + "/" + contentid, key, "", "DELETE")

    def content_upload(self, key, model, contentid, data, mimetype):
        return self._manage(PROVISION_MANAGE_CONTENT + model + "/" + contentid, key, data, "POST",
                            {"Content-Type": mimetype})

    # ------------------------------------------------------------ models

    def model_create(self, key, model, sharecode, aliases=True, comments=True, historical=True):
        pairs = [("model", model), ("code" if self._manage_by_sharecode else "rid", sharecode)]
        pairs += [("options[]", option) for option in self._filter_options(aliases, comments, historical)]
        return self._manage(PROVISION_MANAGE_MODEL, key, _form(*pairs), "POST")

    def model_info(self, key, model):
        return self._manage(PROVISION_MANAGE_MODEL + model, key, "", "GET")

    def model_list(self, key):
        return self._manage(PROVISION_MANAGE_MODEL, key, "", "GET")

    def model_remove(self, key, model):
        data = _form(("delete", "true"), ("model", model), ("confirm", "true"))
        return self._manage(PROVISION_MANAGE_MODEL + model, key, data, "DELETE")

    def model_update(self, key, model, clonerid, aliases=True, comments=True, historical=True):
        pairs = [("rid", clonerid)]
        pairs += [("options[]", option) for option in self._filter_options(aliases, comments, historical)]
        return self._manage(PROVISION_MANAGE_MODEL + model, key, _form(*pairs), "PUT")

    # ------------------------------------------------------------ serial numbers

    def serialnumber_activate(self, model, serialnumber, vendor):
        data = _form(("vendor", vendor), ("model", model), ("sn", serialnumber))
        return self._manage(PROVISION_ACTIVATE, "", data, "POST")

    def serialnumber_add(self, key, model, sn, extra=None):
        pairs = [("add", "true"), ("sn", sn)]
        if extra:
            pairs.append(("extra", extra))
        return self._manage(PROVISION_MANAGE_MODEL + model + "/", key, _form(*pairs), "POST")

    def serialnumber_add_batch(self, key, model, sns=[]):
        data = _form(("add", "true"), *(("sn[]", sn) for sn in sns))
        return self._manage(PROVISION_MANAGE_MODEL + model + "/", key, data, "POST")

    def serialnumber_add_batch_csv(self, key, model, csv_string):
        return self._manage(PROVISION_MANAGE_MODEL + model + "/", key, csv_string, "POST",
                            {"Content-Type": CSV_CONTENT_TYPE})

    def serialnumber_disable(self, key, model, serialnumber):
        return self._manage(PROVISION_MANAGE_MODEL + model + "/" + serialnumber, key, "disable=true", "POST")

    def serialnumber_enable(self, key, model, serialnumber, owner):
        data = _form(("enable", "true"), ("owner", owner))
        return self._manage(PROVISION_MANAGE_MODEL + model + "/" + serialnumber, key, data, "POST")

    def serialnumber_info(self, key, model, serialnumber, actvtn_log=False):
        data = "show=log" if actvtn_log else ""
        return self._manage(PROVISION_MANAGE_MODEL + model + "/" + serialnumber, key, data, "GET")

    def serialnumber_list(self, key, model, offset=0, limit=1000, status=False):
        pairs = [("offset", offset), ("limit", limit)]
        if status:
            pairs.append(("status", "true"))
        return self._manage(PROVISION_MANAGE_MODEL + model + "/", key, _form(*pairs), "GET")

    def serialnumber_reenable(self, key, model, serialnumber):
        return self._manage(PROVISION_MANAGE_MODEL + model + "/" + serialnumber, key, "enable=true", "POST")

    def serialnumber_remap(self, key, model, serialnumber, oldsn):
        data = _form(("enable", "true"), ("oldsn", oldsn))
        return self._manage(PROVISION_MANAGE_MODEL + model + "/" + serialnumber, key, data, "POST")

    def serialnumber_remove(self, key, model, serialnumber):
        return self._manage(PROVISION_MANAGE_MODEL + model + "/" + serialnumber, key, "", "DELETE")

    def serialnumber_remove_batch(self, key, model, sns):
        data = _form(("remove", "true"), *(("sn[]", sn) for sn in sns))
        return self._manage(PROVISION_MANAGE_MODEL + model + "/", key, data, "POST")

    # ------------------------------------------------------------ vendors

    def vendor_register(self, key, vendor):
        return self._manage(PROVISION_REGISTER, key, _form(("vendor", vendor)), "POST")

    def vendor_show(self, key):
        return self._request(PROVISION_REGISTER, key, "", "GET", False)

    def vendor_unregister(self, key, vendor):
        data = _form(("delete", "true"), ("vendor", vendor))
        return self._request(PROVISION_REGISTER, key, data, "POST", False)
