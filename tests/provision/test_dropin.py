"""`import pyonep` programs run unchanged on pyonep_fast's Provision (compat)."""
import subprocess
import sys
import textwrap

from pyonep_fast import compat, provision

# A pyonep-era fleet script: hardcoded hosted platform, the upstream imports,
# raise_api_exceptions, a share code from the RPC, activation, content.
PROGRAM = textwrap.dedent('''
    import sys
    from pyonep import onep
    from pyonep.exceptions import ProvisionException
    from pyonep.provision import Provision

    vendor, token, portalcik, portalrid = sys.argv[1:5]
    rpc = onep.OnepV1()
    ok, template = rpc.create(portalcik, "client", {"limits": {"dataport": "inherit"}})
    ok, key = rpc.info(portalcik, template, {"key": True})
    ok, port = rpc.create(key["key"], "dataport", {"format": "string"})
    rpc.map(key["key"], port, "status")
    ok, code = rpc.share(portalcik, template, {"meta": "fleet"})
    p = Provision("m2.exosite.com", https=True, port=443, manage_by_cik=False, httptimeout=20,
                  raise_api_exceptions=True, manage_by_sharecode=True)
    p.model_create(token, "dropin", code, aliases=True)
    p.serialnumber_add_batch(token, "dropin", ["d1", "d2"])
    p.serialnumber_enable(token, "dropin", "d1", portalrid)
    cik = p.serialnumber_activate("dropin", "d1", vendor).body
    ok, written = rpc.write(cik, {"alias": "status"}, "online")
    ok, points = rpc.read(cik, {"alias": "status"}, {"limit": 1})
    try:
        p.serialnumber_activate("dropin", "d1", vendor)
    except ProvisionException as exc:
        refused = str(exc)
    print(type(p).__module__, points[0][1], refused)
''')


def test_unchanged_pyonep_program_runs_on_the_embedded_server(server, fresh_client, tmp_path):
    script = tmp_path / "fleet.py"
    script.write_text(PROGRAM)
    args = [fresh_client[name] for name in ("vendor", "vendortoken", "cik", "rid")]
    result = subprocess.run([sys.executable, "-m", "pyonep_fast.compat", "--url", server.url, str(script), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "pyonep_fast.provision online 409 Conflict\n"


def test_install_maps_the_upstream_names():
    compat.install()
    try:
        import pyonep
        import pyonep.provision
        from pyonep.exceptions import ProvisionException

        assert pyonep.provision is provision
        assert pyonep.Provision is provision.Provision
        assert ProvisionException is provision.ProvisionException
    finally:
        compat.uninstall()
