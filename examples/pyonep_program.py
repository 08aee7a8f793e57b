"""A program written for pyonep 0.13.8, unchanged: it imports pyonep and talks
to the hosted platform's default address (https://m2.exosite.com:443).

Run it on pyonep_fast against a local server:

    pyonep-fast serve --port 8080 &
    python -m pyonep_fast.compat --url http://127.0.0.1:8080 examples/pyonep_program.py CIK

(CIK: a client of that server, e.g. from http://127.0.0.1:8080/api/create).
"""
from __future__ import print_function

import sys

import pyonep
from pyonep import onep
from pyonep.exceptions import OnePlatformException

print("pyonep %s" % pyonep.__version__)

cik = sys.argv[1]
o = onep.OnepV1()

# create a dataport and give it an alias
isok, rid = o.create(cik, "dataport", {
    "format": "float", "name": "Temperature",
    "retention": {"count": "infinity", "duration": "infinity"}})
print("create: %s %d" % (isok, len(rid)))
print("map: %s %s" % o.map(cik, rid, "temp"))

# write and read back
print("write: %s %s" % o.write(cik, {"alias": "temp"}, 21.5, {}))
isok, response = o.read(cik, {"alias": "temp"}, {"limit": 1, "sort": "desc", "selection": "all"})
if isok:
    print("read back value: %s" % response[0][1])
else:
    print("read failed: %s" % response)

# historical data
print("record: %s %s" % o.record(cik, rid, [[1400000000, 1.5], [1400000060, 2.5]], {}))
print("recordbatch: %s %s" % o.recordbatch(cik, rid, [[1400000120, 3.5], [1400000180, "4.5"]]))
isok, points = o.read(cik, rid, {"starttime": 1400000000, "endtime": 1400000180,
                                 "limit": 10, "sort": "asc"})
print("history: %s" % ",".join(str(value) for _, value in points))

# listing, current and legacy forms
isok, listing = o.listing(cik, ["dataport"], {}, {"alias": ""})
print("listing: %s %d" % (isok, len(listing["dataport"])))
isok, legacy = o.listing(cik, ["dataport", "client"])
print("legacy listing: %s %s" % (isok, [len(kind) for kind in legacy]))

# errors come back as (False, status)
print("missing alias: %s %s" % o.read(cik, {"alias": "nope"}, {}))

# several calls in one request
for value in (10, 20, 30):
    o.write(cik, {"alias": "temp"}, value, {}, defer=True)
o.read(cik, {"alias": "temp"}, {"limit": 1}, defer=True)
print("has deferred: %s" % o.has_deferred(cik))
for request, isok, result in o.send_deferred(cik):
    print("deferred %s: %s %s" % (request["procedure"], isok, result if request["procedure"] == "write"
                                  else result[0][1]))
print("has deferred after send: %s" % o.has_deferred(cik))

# a whole-request error raises
try:
    o.info("0" * 40, {"alias": ""})
except OnePlatformException as exc:
    print("bad cik: OnePlatformException %s" % exc)
