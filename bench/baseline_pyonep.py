"""A client that does what pyonep 0.13.8 does per call, for benchmarks.

Written from spec/onep-rpc.md section 4 (not from pyonep's source): the
same request dicts, stdlib `json` with default separators, a new
`requests.Session` for every request unless `reuseconnection`, the
response text decoded by requests and parsed with `json.loads`, every
response entry matched against every sent call (no early exit, the last
match wins), and the same return shapes: `(isok, value)` for a single call,
`[(call, isok, value), ...]` in the server's order for send_deferred.
"""
import json

import requests


class BaselineError(Exception):
    pass


class BaselineOnepV1:
    headers = {"Content-Type": "application/json; charset=utf-8"}

    def __init__(self, host="m2.exosite.com", port="443", url="/onep:v1/rpc/process", https=True,
                 httptimeout=10, reuseconnection=False, startid=0):
        self.base = ("https://" if https else "http://") + host + ":" + str(port)
        self.url = url
        self.httptimeout = int(httptimeout)
        self.reuseconnection = reuseconnection
        self.session = requests.Session() if reuseconnection else None
        self.startid = startid
        self.deferred = {}  # auth key -> [(method, args), ...]

    def close(self):
        if self.session is not None:
            self.session.close()

    def _post(self, body, notimeout):
        session = self.session if self.reuseconnection and not notimeout else requests.Session()
        try:
            # pyonep merges the session's default headers into its own dict
            headers = dict(self.headers)
            headers.update(session.headers)
            response = session.post(self.base + self.url, data=body, headers=headers,
                                    timeout=None if notimeout else self.httptimeout)
            return response.text
        except requests.RequestException as exc:
            raise BaselineError(f"Failed to make http request: {exc}") from exc
        finally:
            if session is not self.session:
                session.close()

    def _composeCalls(self, procedures):
        calls = []
        for method, args in procedures:
            calls.append({"id": self.startid, "procedure": method, "arguments": args})
            self.startid += 1
        return calls

    def _callJsonRPC(self, auth, callrequests, returnreq=False, notimeout=False):
        if isinstance(auth, dict):
            authdict = auth
        else:
            authdict = {"cik": auth}
        body = json.dumps({"auth": authdict, "calls": callrequests})
        text = self._post(body, notimeout)
        try:
            res = json.loads(text)
        except ValueError as exc:
            raise BaselineError(f"Exception while parsing JSON response: {text}\n{exc}") from exc
        if isinstance(res, dict) and "error" in res:
            raise BaselineError(str(res["error"]))
        if not isinstance(res, list):
            raise BaselineError("Unknown error")
        ret = []
        for entry in res:
            request = None
            for call in callrequests:
                if call["id"] == entry["id"]:
                    request = call
            if "status" in entry:
                if entry["status"] == "ok":
                    ret.append((request, True, entry.get("result", "ok")))
                else:
                    ret.append((request, False, entry["status"]))
            elif "error" in entry:
                raise BaselineError(str(entry["error"]))
        if returnreq:
            return ret
        return ret[0][1:]

    def _call(self, method, auth, args, defer, notimeout=False):
        if defer:
            self.deferred.setdefault(self._key(auth), []).append((method, args))
            return True
        return self._callJsonRPC(auth, self._composeCalls([(method, args)]), notimeout=notimeout)

    @staticmethod
    def _key(auth):
        if isinstance(auth, str):
            return auth
        return "{" + ",".join(f"{k}:{auth[k]}" for k in sorted(auth)) + "}"

    def send_deferred(self, auth):
        key = self._key(auth)
        pairs = self.deferred.get(key)
        if not pairs:
            raise BaselineError("No deferred requests to send.")
        try:
            return self._callJsonRPC(auth, self._composeCalls(pairs), returnreq=True)
        finally:
            self.deferred[key] = []

    def read(self, auth, resource, options, defer=False):
        return self._call("read", auth, [resource, options], defer)

    def write(self, auth, resource, value, options={}, defer=False):
        return self._call("write", auth, [resource, value, options], defer)

    def record(self, auth, resource, entries, options={}, defer=False):
        return self._call("record", auth, [resource, entries, options], defer)

    def recordbatch(self, auth, resource, entries, defer=False):
        return self._call("recordbatch", auth, [resource, entries], defer)
