"""exp_sdk through compat: the import names, and an unchanged exp_sdk
program run by `python -m pyonep_fast.compat --url` against `pyonep-fast serve`."""
import os
import subprocess
import sys

import pytest

from pyonep_fast import compat, transport
from pyonep_fast.server import spawn

PROGRAM = os.path.join(os.path.dirname(__file__), "programs", "exp_sdk_program.py")


@pytest.fixture
def installed():
    compat.install()
    yield
    compat.uninstall()


def test_exp_sdk_and_its_modules_are_ours(installed):
    import exp_sdk
    from exp_sdk import api, authenticator, exceptions, exp, network

    import pyonep_fast.exp
    assert exp_sdk.start is pyonep_fast.exp.start and exp_sdk.stop is pyonep_fast.exp.stop
    assert api is pyonep_fast.exp.api and exp is pyonep_fast.exp.exp
    assert authenticator is pyonep_fast.exp.authenticator and network is pyonep_fast.exp.network
    assert exceptions is pyonep_fast.exp.exceptions
    for name in ("ExpError", "AuthenticationError", "UnexpectedError", "RuntimeError", "ApiError", "NetworkError"):
        assert getattr(exp_sdk, name) is getattr(exceptions, name)
    assert all(hasattr(api, name) for name in ("Device", "Thing", "Experience", "Location", "Zone", "Feed",
                                               "Data", "Content"))


def test_hosted_exp_is_redirected():
    try:
        compat.install(url="http://127.0.0.1:9")
        assert transport.redirected("https://api.goexp.io") == "http://127.0.0.1:9"
    finally:
        compat.uninstall()
        transport.redirect_hosted(None)


def test_an_unchanged_exp_sdk_program_runs_against_pyonep_fast_serve(tmp_path):
    with spawn(db=str(tmp_path / "serve.db")) as server:
        result = subprocess.run([sys.executable, "-m", "pyonep_fast.compat", "--url", server.url, PROGRAM],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "started device user consumerApp"
    assert lines[1].startswith("resources ")
    assert lines[2] == "error 404 resource.notFound"
    assert lines[3] == "responses [{'pong': 7}]"
    assert lines[4] == "stopped This SDK instance is stopped."
