"""The CIK fountain (spec 6.2): a fresh, empty, activated client under the
root for each request, for test suites. Other APIs tie their fixtures to
that client through `store.fountain_extras` (provisioning: its vendor and
vendor token), whose fields join the JSON answer."""
import orjson

from ..http import json_response, text_response


class Fountain:
    def __init__(self, store):
        self.store = store

    async def create(self, request):
        store = self.store
        with store.lock:
            client = store.create_fountain_client()
            answer = {"cik": client.cik, "rid": client.rid}
            for extra in store.fountain_extras:
                answer.update(extra(client))
        await store.durable()
        wants_json = "vendor" in request.query or "application/json" in request.headers.get("Accept", "")
        if request.path == "/api/create" and wants_json:
            return json_response(orjson.dumps(answer))
        return text_response(client.cik)
