"""End to end: a vendor provisions a fleet of 1,000 devices through our
Provision client, each device activates, writes with its own CIK over the
RPC endpoint, and downloads the model's firmware."""
import re
from concurrent.futures import ThreadPoolExecutor

import orjson

from pyonep_fast.provision import Provision
from pyonep_fast.transport import Transport

FLEET = 1000
RPC_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def rpc(transport, cik, *calls):
    body = orjson.dumps({"auth": {"cik": cik}, "calls": [
        {"id": n, "procedure": procedure, "arguments": arguments} for n, (procedure, arguments) in enumerate(calls)]})
    return orjson.loads(transport.request("POST", "/onep:v1/rpc/process", body, RPC_HEADERS).data)


def test_fleet_from_template_to_rpc_writes_and_downloads(server, fresh_client):
    host, port = server.url[len("http://"):].split(":")
    provision = Provision(host, port, manage_by_cik=False, raise_api_exceptions=True)
    token, vendor, owner = fresh_client["vendortoken"], fresh_client["vendor"], fresh_client["rid"]
    with Transport(server.url) as onep, ThreadPoolExecutor(4) as pool:
        # the template: a client with an integer dataport aliased "reading"
        (created,) = rpc(onep, fresh_client["cik"], ("create", ["client", {"limits": {"dataport": "inherit"}}]))
        template = created["result"]
        (key,) = rpc(onep, fresh_client["cik"], ("info", [template, {"key": True}]))
        (port_rid,) = rpc(onep, key["result"]["key"], ("create", ["dataport", {"format": "integer"}]))
        (mapped,) = rpc(onep, key["result"]["key"], ("map", ["alias", port_rid["result"], "reading"]))
        assert mapped["status"] == "ok"

        provision.model_create(token, "sensor", template, historical=False)
        sns = [f"SN{n:06d}" for n in range(FLEET)]
        assert provision.serialnumber_add_batch(token, "sensor", sns).status() == 205

        rids = list(pool.map(lambda sn: provision.serialnumber_enable(token, "sensor", sn, owner).body, sns))
        assert len(set(rids)) == FLEET and all(re.fullmatch(r"[0-9a-f]{40}", rid) for rid in rids)
        ciks = list(pool.map(lambda sn: provision.serialnumber_activate("sensor", sn, vendor).body, sns))
        assert len(set(ciks)) == FLEET

        def report(index):
            return rpc(onep, ciks[index], ("write", [{"alias": "reading"}, index]),
                       ("read", [{"alias": "reading"}, {"limit": 1}]))
        for index, (write, read) in enumerate(pool.map(report, range(FLEET))):
            assert write["status"] == "ok" and read["result"][0][1] == index

        listed = provision.serialnumber_list(token, "sensor", 0, 1000, status=True).body.splitlines()
        assert listed == [f"{sn},activated,{rid}," for sn, rid in zip(sns, rids)]
        # every device is a client of the owner
        (owned,) = rpc(onep, fresh_client["cik"], ("listing", [["client"], {}]))
        assert set(rids) <= set(owned["result"]["client"])

        firmware = bytes(range(256)) * 64
        provision.content_create(token, "sensor", "firmware.bin", "v2")
        provision.content_upload(token, "sensor", "firmware.bin", firmware, "application/octet-stream")
        downloads = pool.map(lambda cik: provision.content_download(cik, vendor, "sensor", "firmware.bin"),
                             ciks[::50])
        assert all(download.response.content == firmware for download in downloads)
    provision.close()
