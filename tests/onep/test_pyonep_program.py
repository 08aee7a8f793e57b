"""An unchanged pyonep-era program (spec 2.1, 3.1, 3.8, 3.11, 3.16): it clones a
client, activates the copy, maps and unmaps aliases, samples history with
givenwindow and dumps the copy's tree with info, as the owner and as the
client itself. It runs on our client through pyonep_fast.compat against the
embedded server."""
import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent('''
from __future__ import print_function

import sys

from pyonep import onep
from pyonep.exceptions import OnePlatformException

portalcik = sys.argv[1]
o = onep.OnepV1()
INHERIT = dict.fromkeys(["client", "dataport", "datarule", "dispatch", "disk", "share", "email", "http",
                         "sms", "xmpp", "email_bucket", "http_bucket", "sms_bucket", "xmpp_bucket"], "inherit")

# a template device: one dataport with history, reached by alias
isok, template = o.create(portalcik, "client", {"name": "template", "limits": INHERIT})
isok, key = o.info(portalcik, template, {"key": True})
templatecik = key["key"]
isok, port = o.create(templatecik, "dataport", {"format": "integer", "name": "counter",
                                                "retention": {"count": "infinity", "duration": "infinity"}})
o.map(templatecik, port, "counter")
o.record(templatecik, port, [[t, t * 10] for t in (1, 2, 3, 4, 5, 8)], {})

# clone it, then activate the copy's CIK as its owner
isok, copy = o.create(portalcik, "clone", {"rid": template})
print("clone: %s %d" % (isok, len(copy)))
isok, key = o.info(portalcik, copy, {"key": True})
copycik = key["key"]
print("copy status: %s" % o.info(portalcik, copy, {"basic": True})[1]["basic"]["status"])
try:
    o.info(copycik, {"alias": ""}, {"basic": True})
    print("copy CIK: usable before activation")
except OnePlatformException as exc:
    print("copy CIK before activation: %s" % exc)
print("activate: %s %s" % o.activate(portalcik, "client", copycik))
print("copy status: %s" % o.info(copycik, {"alias": ""}, {"basic": True})[1]["basic"]["status"])

# aliases
isok, copiedport = o.lookup(copycik, "alias", "counter")
print("copied port is new: %s" % (isok and copiedport != port))
print("map: %s %s" % o.map(copycik, copiedport, "second"))
print("unmap: %s %s" % o.unmap(copycik, "second"))
print("unmap again: %s %s" % o.unmap(copycik, "second"))
print("lookup unmapped: %s %s" % o.lookup(copycik, "alias", "second"))

# history sampled by window
window = {"starttime": 1, "endtime": 10, "limit": 2, "selection": "givenwindow"}
for sort in ("desc", "asc"):
    window["sort"] = sort
    isok, points = o.read(copycik, {"alias": "counter"}, window)
    print("givenwindow %s: %s" % (sort, points))


def dump(auth, rid, indent=""):
    isok, info = o.info(auth, rid, {})
    if not isok:
        print("%sinfo failed: %s" % (indent, info))
        return
    kind = info["basic"]["type"]
    print("%s%s %s: %s" % (indent, kind, info["description"]["name"], ",".join(sorted(info))))
    aliases = info.get("aliases")
    if kind == "client":
        print("%s  aliases: %s" % (indent, sorted(a if isinstance(a, str) else ",".join(a)
                                                  for a in aliases.values())))
        isok, children = o.listing(auth, ["client", "dataport"], {}, rid)
        for child in children["client"] + children["dataport"]:
            dump(auth, child, indent + "  ")
    elif aliases is not None:
        print("%s  aliases: %s" % (indent, aliases))


print("-- tree as the owner")
dump(portalcik, copy)
print("-- tree as the client itself")
dump(copycik, {"alias": ""})
''')

EXPECTED = """\
clone: True 40
copy status: notactivated
copy CIK before activation: {'code': 401, 'message': 'Invalid', 'context': 'auth'}
activate: True ok
copy status: activated
copied port is new: True
map: True ok
unmap: True ok
unmap again: True ok
lookup unmapped: False invalid
givenwindow desc: [[8, 80], [1, 10]]
givenwindow asc: [[1, 10], [8, 80]]
-- tree as the owner
client template: aliases,basic,comments,counts,description,key,shares,subscribers,tagged,tags,usage
  aliases: ['counter']
  dataport counter: aliases,basic,comments,description,storage,subscribers,tags
    aliases: ['counter']
-- tree as the client itself
client template: aliases,basic,comments,counts,description,shares,subscribers,tagged,tags,usage
  aliases: ['counter']
  dataport counter: aliases,basic,comments,description,shares,storage,subscribers,tagged,tags
    aliases: ['counter']
"""


def test_pyonep_program_clones_activates_maps_samples_and_dumps(server, fresh_client, tmp_path):
    script = tmp_path / "fleet_tree.py"
    script.write_text(PROGRAM)
    result = subprocess.run([sys.executable, "-m", "pyonep_fast.compat", "--url", server.url, str(script),
                             fresh_client["cik"]], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # the owner (the copy's direct owner) sees its key; the client itself everything but key; a
    # grandparent of the dataport neither its shares nor tagged; alias lists to holder and owner
    assert result.stdout == EXPECTED
