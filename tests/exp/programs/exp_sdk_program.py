"""An exp_sdk 5.0.0 program, unchanged Python 2/3-neutral upstream usage:
it knows nothing of pyonep_fast and talks to the hosted EXP (the default
host). Run it as `python -m pyonep_fast.compat --url URL exp_sdk_program.py`.

Prints one line per step; exits non-zero on the first failure."""
import sys
import threading

import exp_sdk
from exp_sdk import api

device = exp_sdk.start(uuid="test-uuid", secret="test-secret")
user = exp_sdk.start(username="test@goexp.io", password="test-Password1", organization="scala")
consumer = exp_sdk.start(uuid="test-uuid", api_key="test-api-key")
print("started", device.get_auth()["identity"]["type"], user.get_auth()["identity"]["type"],
      consumer.get_auth()["identity"]["type"])

# every resource kind
location = user.create_location({"name": "Lobby", "zones": [{"key": "z1", "name": "Entrance"}]})
experience = user.create_experience({"name": "Welcome %s" % location.uuid})
me = device.get_current_device()
me.document["location"] = {"uuid": location.uuid, "zones": [{"key": "z1"}]}
me.document["experience"] = {"uuid": experience.uuid}
me.save()
assert device.get_current_location().uuid == location.uuid
assert device.get_current_experience().uuid == experience.uuid
assert [zone.name for zone in device.get_current_zones()] == ["Entrance"]
thing = user.create_thing({"subtype": "scala:thing:rfid", "id": "42", "name": "Badge",
                           "location": {"uuid": location.uuid}})
assert thing.uuid in [t.uuid for t in location.get_things()]
feed = user.create_feed({"subtype": "scala:feed:weather", "dataType": "dynamic", "searchValue": "",
                         "name": "Weather"})
assert feed.get_data(searchValue="19713")["search"]["search"] == "19713"
user.create_data("cats", "fluffy", {"sound": "meow"})
assert user.get_data("cats", "fluffy").value == {"sound": "meow"}
files = user.find_content({"subtype": "scala:content:file"})
assert files.total >= 1 and all(isinstance(item, api.Content) and item.get_url() for item in files)
print("resources", len(user.find_devices()), len(user.find_things()), len(user.find_experiences()),
      len(user.find_locations()), len(user.find_feeds()), len(user.find_data()), len(user.find_content()))
for resource in (thing, feed, experience):
    resource.delete()
user.delete_location(location.uuid)
user.delete_data("cats", "fluffy")
try:
    user.get("/api/things/nope")
except exp_sdk.ApiError as error:
    print("error", error.status_code, error.code)

# broadcasts and responses between two instances
channel = device.get_channel("my-channel", consumer=True)
listener = channel.listen("ping", timeout=10)


def answer():
    broadcast = listener.wait(10)
    broadcast.respond({"pong": broadcast.payload["ping"]})


responder = threading.Thread(target=answer)
responder.start()
responses = consumer.get_channel("my-channel", consumer=True).broadcast("ping", {"ping": 7}, timeout=2)
responder.join()
print("responses", responses)
assert responses == [{"pong": 7}]

exp_sdk.stop()
try:
    device.get_auth()
except exp_sdk.RuntimeError as error:
    print("stopped", error.message)
sys.exit(0)
