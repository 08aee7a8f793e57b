"""`import m2x` after compat.install(), and an unchanged m2x 5.5.0 program
run through `python -m pyonep_fast.compat --url` against the server."""
import importlib
import os
import subprocess
import sys

import pytest

from pyonep_fast import compat

PROGRAM = os.path.join(os.path.dirname(__file__), "programs", "m2x_usage.py")


@pytest.fixture
def installed():
    compat.install()
    yield
    compat.uninstall()


def test_every_m2x_module_path_is_ours(installed):
    import m2x
    from m2x.client import M2XClient

    import pyonep_fast.m2x.client
    assert m2x.version == "5.5.0"
    assert M2XClient is pyonep_fast.m2x.client.M2XClient
    for name, ours in compat.UPSTREAMS["m2x"].modules.items():
        assert importlib.import_module(name) is importlib.import_module(ours), name
    from m2x.v2.distributions import DistributionDevice
    from m2x.v2.devices import Device
    assert issubclass(DistributionDevice, Device)


def test_an_unchanged_program_runs_against_the_server(server, new_key):
    result = subprocess.run([sys.executable, "-m", "pyonep_fast.compat", "--url", server.url, PROGRAM, new_key()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_m2x_tests_common_serves_a_program_written_for_it():
    """m2x.tests.common is named by the contract (spec §1): a program using
    it runs unchanged through compat."""
    program = os.path.join(os.path.dirname(__file__), "programs", "dummy_client.py")
    result = subprocess.run([sys.executable, "-m", "pyonep_fast.compat", program], capture_output=True, text=True,
                            timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
