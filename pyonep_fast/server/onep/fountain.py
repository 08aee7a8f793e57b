"""The CIK fountain (spec 6.2): a fresh, empty, activated client under the
root for each request, for test suites."""
import orjson

from ..http import json_response, text_response


class Fountain:
    def __init__(self, store):
        self.store = store

    async def create(self, request):
        store = self.store
        client, vendor, token = store.create_fountain_client()
        await store.durable()
        wants_json = "vendor" in request.query or "application/json" in request.headers.get("Accept", "")
        if request.path == "/api/create" and wants_json:
            return json_response(orjson.dumps({"cik": client.cik, "rid": client.rid, "vendor": vendor,
                                               "vendortoken": token}))
        return text_response(client.cik)
