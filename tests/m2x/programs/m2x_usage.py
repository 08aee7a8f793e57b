"""A program written for m2x 5.5.0 and nothing else: devices, streams,
values, keys, distributions, collections, commands and jobs, in the
library's own idioms (it hardcodes the hosted API's endpoint). Run through
`python -m pyonep_fast.compat --url URL` it must reach that server and print
"ok" (tests/m2x/test_compat.py)."""
import datetime
import sys
import time

from requests.exceptions import HTTPError

import m2x
from m2x.client import M2XClient
from m2x.v2.devices import Device

assert m2x.version == "5.5.0"
client = M2XClient(key=sys.argv[1])
assert client.status()["api"] == "OK"

device = client.create_device(name="Weather station", visibility="private", tags=["outdoor", "roof"])
stream = device.create_stream("temperature", unit={"label": "celsius", "symbol": "C"})
stream.add_value(21.5)
stream.post_values([{"timestamp": datetime.datetime(2015, 4, 21, 3, 36, 42), "value": 19.0},
                    {"timestamp": "2015-04-21T03:37:42.000Z", "value": 19.5}])
device.post_updates(values={"humidity": [{"timestamp": "2015-04-21T03:36:42Z", "value": 40}]})
device.update_location(latitude="-32.8836", longitude="-56.1819", name="roof")
assert len(stream.values()["values"]) == 3
assert stream.stats()["stats"]["count"] == 3.0
assert sorted(s.name for s in device.streams()) == ["humidity", "temperature"]
assert client.device_tags() == {"outdoor": 1, "roof": 1}
assert [d.id for d in client.devices(q="Weather")] == [device.id]
assert Device.by_tags(client.api)["roof"] == 1

key = device.create_key(name="reader", permissions=["GET"])
reader = M2XClient(key=key.key)
assert reader.device(device.id).name == "Weather station"
try:
    reader.device(device.id).create_stream("forbidden")
except HTTPError as error:
    assert error.response.status_code == 403 and reader.last_response.status == 403
else:
    raise SystemExit("a GET-only key wrote")

distribution = client.create_distribution(name="Fleet", visibility="private")
unit = distribution.add_device({"serial": "SN-1"})
assert [d.serial for d in distribution.devices()] == ["SN-1"]
collection = client.create_collection(name="Site A")
collection.add_device(unit.id)
assert [d.id for d in collection.devices()] == [unit.id]

command = client.send_command(name="reboot", targets={"devices": [unit.id]})
unit.process_command(command.id, result="done")
assert unit.command(command.id)["status"] == "processed"

location = device.values_export().headers["location"]
job = client.job(location.rsplit("/", 1)[1])
give_up = time.monotonic() + 30
while job.state not in ("complete", "failed") and time.monotonic() < give_up:
    time.sleep(0.05)
    job = client.job(job.id)
assert job.state == "complete"

device.remove()
try:
    client.device(device.id)
except HTTPError:
    assert client.last_response.status == 404
print("ok")
