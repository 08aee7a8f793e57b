"""End to end: a vendor provisions a fleet of 1,000 devices through our
Provision client, each device activates, writes with its own CIK through our
OnepV1, and downloads the model's firmware."""
import re
from concurrent.futures import ThreadPoolExecutor

from pyonep_fast.onep import OnepV1
from pyonep_fast.provision import Provision

FLEET = 1000


def test_fleet_from_template_to_rpc_writes_and_downloads(server, fresh_client):
    host, port = server.url[len("http://"):].split(":")
    provision = Provision(host, port, manage_by_cik=False, raise_api_exceptions=True)
    onep = OnepV1(host, port, https=False)
    token, vendor, owner, portal = (fresh_client[k] for k in ("vendortoken", "vendor", "rid", "cik"))
    # the template: a client with an integer dataport aliased "reading"
    ok, template = onep.create(portal, "client", {"limits": {"dataport": "inherit"}})
    ok, info = onep.info(portal, template, {"key": True})
    ok, port_rid = onep.create(info["key"], "dataport", {"format": "integer"})
    assert onep.map(info["key"], port_rid, "reading")[0]

    provision.model_create(token, "sensor", template, historical=False)
    sns = [f"SN{n:06d}" for n in range(FLEET)]
    assert provision.serialnumber_add_batch(token, "sensor", sns).status() == 205
    with ThreadPoolExecutor(4) as pool:
        rids = list(pool.map(lambda sn: provision.serialnumber_enable(token, "sensor", sn, owner).body, sns))
        assert len(set(rids)) == FLEET and all(re.fullmatch(r"[0-9a-f]{40}", rid) for rid in rids)
        ciks = list(pool.map(lambda sn: provision.serialnumber_activate("sensor", sn, vendor).body, sns))
        assert len(set(ciks)) == FLEET

        def report(index):
            written = onep.write(ciks[index], {"alias": "reading"}, index)
            return written, onep.read(ciks[index], {"alias": "reading"}, {"limit": 1})
        for index, (written, (read_ok, points)) in enumerate(pool.map(report, range(FLEET))):
            assert written[0] and read_ok and points[0][1] == index

        listed = provision.serialnumber_list(token, "sensor", 0, 1000, status=True).body.splitlines()
        assert listed == [f"{sn},activated,{rid}," for sn, rid in zip(sns, rids)]
        # every device is a client of the owner
        ok, owned = onep.listing(portal, ["client"], {})
        assert set(rids) <= set(owned["client"])

        firmware = bytes(range(256)) * 64
        provision.content_create(token, "sensor", "firmware.bin", "v2")
        provision.content_upload(token, "sensor", "firmware.bin", firmware, "application/octet-stream")
        downloads = pool.map(lambda cik: provision.content_download(cik, vendor, "sensor", "firmware.bin"),
                             ciks[::50])
        assert all(download.response.content == firmware for download in downloads)
    provision.close()
    onep.close()
