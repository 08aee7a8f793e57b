"""pyonep_fast.compat: upstream import names resolve to ours, and an unchanged
pyonep program runs against the embedded server."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyonep_fast import compat, exceptions, onep, transport

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pyonep_program.py"


@pytest.fixture
def installed():
    compat.install()
    yield
    compat.uninstall()


def test_upstream_names_resolve_to_ours(installed):
    import pyonep
    import pyonep.exceptions
    from pyonep import onep as upstream_onep
    from pyonep.onep import DeferredRequests, OnepV1

    assert pyonep.__version__ == "0.13.8"
    assert upstream_onep is onep
    assert OnepV1 is onep.OnepV1 and pyonep.OnepV1 is onep.OnepV1
    assert DeferredRequests is onep.DeferredRequests and pyonep.DeferredRequests is DeferredRequests
    assert pyonep.exceptions is exceptions
    assert pyonep.exceptions.OnePlatformException is exceptions.OnePlatformException
    assert onep.__spec__.name == "pyonep_fast.onep"  # our module keeps its own identity
    with pytest.raises(AttributeError):
        pyonep.no_such_thing


def test_provision_and_datastore_are_mapped_lazily(installed):
    import pyonep

    assert "pyonep.provision" not in sys.modules or sys.modules["pyonep.provision"].__name__ == \
        "pyonep_fast.provision"
    from pyonep.provision import Provision

    import pyonep_fast.provision
    assert Provision is pyonep_fast.provision.Provision is pyonep.Provision
    import pyonep.datastore

    import pyonep_fast.datastore
    assert pyonep.datastore is pyonep_fast.datastore


def test_uninstall_forgets_the_names():
    compat.install()
    import pyonep  # noqa: F401
    compat.uninstall()
    assert "pyonep" not in sys.modules
    with pytest.raises(ImportError):
        import pyonep  # noqa: F401,F811


def test_unchanged_program_runs_against_the_server(server, fresh_client, tmp_path):
    environment = dict(os.environ, PYONEP_FAST_URL=server.url)
    result = subprocess.run(
        [sys.executable, "-m", "pyonep_fast.compat", str(EXAMPLE), fresh_client["cik"]],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "pyonep 0.13.8",
        "create: True 40",
        "map: True ok",
        "write: True ok",
        "read back value: 21.5",
        "record: True ok",
        "recordbatch: True ok",
        "history: 1.5,2.5,3.5,4.5",
        "listing: True 1",
        "legacy listing: True [1, 0]",
        "missing alias: False invalid",
        "has deferred: True",
        "deferred write: True ok",
        "deferred write: True ok",
        "deferred write: True ok",
        "deferred read: True 30.0",
        "has deferred after send: False",
        "bad cik: OnePlatformException {'code': 401, 'message': 'Invalid', 'context': 'auth'}",
    ]


def test_main_with_url_runs_a_script_in_process(server, fresh_client, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # main() sets them up for the script
    monkeypatch.setattr(sys, "path", list(sys.path))
    script = tmp_path / "script.py"
    script.write_text("import sys\nfrom pyonep import onep\n"
                      "print(onep.OnepV1().lookup(sys.argv[1], 'alias', '')[0])\n")
    try:
        assert compat.main(["--url", server.url, str(script), fresh_client["cik"]]) == 0
    finally:
        compat.uninstall()
        transport.redirect_hosted(None)
    assert capsys.readouterr().out == "True\n"


def test_main_usage():
    assert compat.main([]) == 2
    assert compat.main(["-m"]) == 2


HOSTED = ["https://m2.exosite.com:443", "http://m2.exosite.com", "https://api-m2x.att.com",
          "http://api-m2x.att.com:80/v2", "https://api.goexp.io", "https://eu.api.goexp.io:443"]


def test_one_url_redirects_every_upstreams_hosts():
    try:
        compat.install(url="http://127.0.0.1:9/")
        assert [transport.redirected(url) for url in HOSTED] == ["http://127.0.0.1:9"] * len(HOSTED)
        assert transport.redirected("https://api-m2x.att.com.example") == "https://api-m2x.att.com.example"
    finally:
        compat.uninstall()
        transport.redirect_hosted(None)
    assert [transport.redirected(url) for url in HOSTED] == HOSTED


def test_environment_url_redirects_every_upstreams_hosts_without_install():
    program = ("from pyonep_fast import transport\n"
               f"print(*[transport.redirected(url) for url in {HOSTED!r}])")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYONEP_FAST_URL="http://127.0.0.1:7"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["http://127.0.0.1:7"] * len(HOSTED)


def test_rows_without_modules_leave_the_import_name_alone(installed, monkeypatch):
    monkeypatch.setitem(compat.UPSTREAMS, "hosted_only", compat.Upstream(
        modules={}, attributes={}, constants={}, hosts=("hosted-only.invalid",)))
    assert compat._Finder.find_spec("hosted_only") is None
    assert compat._Finder.find_spec("pyonep.nothing_mapped") is None


def test_a_new_upstream_is_one_row(monkeypatch):
    """What the M2X and EXP clients will do: add a row, and the package,
    its modules, its attributes and its hosts are served."""
    monkeypatch.setitem(compat.UPSTREAMS, "fake_upstream", compat.Upstream(
        modules={"fake_upstream.client": "pyonep_fast.provision"},
        attributes={"Client": ("pyonep_fast.provision", "Provision")},
        constants={"version": "9.9.9"},
        hosts=("api.fake-upstream.example",)))
    try:
        compat.install(url="http://127.0.0.1:8")
        import fake_upstream
        import fake_upstream.client

        import pyonep_fast.provision
        assert fake_upstream.version == "9.9.9"
        assert fake_upstream.Client is pyonep_fast.provision.Provision
        assert fake_upstream.client is pyonep_fast.provision
        assert transport.redirected("https://eu.api.fake-upstream.example:443") == "http://127.0.0.1:8"
        with pytest.raises(AttributeError, match="'fake_upstream' has no attribute 'other'"):
            fake_upstream.other
    finally:
        compat.uninstall()
        transport.redirect_hosted(None)
    assert "fake_upstream" not in sys.modules and "fake_upstream.client" not in sys.modules


def test_one_url_parser_for_every_command_and_client(monkeypatch, server):
    from pyonep_fast.compat import DEFAULT_URL, server_url
    from pyonep_fast.exceptions import OnePlatformException
    from pyonep_fast.onep import OnepV1
    from pyonep_fast.provision import Provision

    monkeypatch.delenv("PYONEP_FAST_URL", raising=False)
    assert server_url() == DEFAULT_URL == "http://127.0.0.1:8080"
    monkeypatch.setenv("PYONEP_FAST_URL", "localhost:9000")
    assert server_url() == "http://localhost:9000"
    assert [server_url(u) for u in ("https://h", "http://[::1]:81/", "HTTP://h:1")] == [
        "https://h:443", "http://[::1]:81", "http://h:1"]
    for bad, words in (("ftp://h", "scheme must be http or https"), ("http://h:0", "port must be a number"),
                       ("http://h:x", "port must be a number"), ("http://", "has no host"),
                       ("http://h:1/path", "no path, query or user")):
        with pytest.raises(ValueError, match=words):
            server_url(bad)
    with OnepV1.from_url(server.url) as onep:
        assert onep.onephttp.base_url == server.url
        with pytest.raises(OnePlatformException) as refused:
            onep.lookup("0" * 40, "alias", "")
        assert (refused.value.code, refused.value.context) == (401, "auth")
    with Provision("127.0.0.1", server.url.rsplit(":", 1)[1]) as provision:
        assert provision.model_list("0" * 40).status() == 401
