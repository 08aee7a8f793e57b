"""Which backend `pyonep_fast._core` uses, from a copy of the package that
has no C module (what an install without a C compiler leaves): the
pure-Python one with one warning, unless PYONEP_FAST_IMPL says otherwise
(issue 12, item 6; .ci/install-without-compiler installs one for real)."""
import os
import shutil
import site
import subprocess
import sys

import pytest

import pyonep_fast
from pyonep_fast import _core

WARNING = "RuntimeWarning: pyonep_fast: the C core is not available (it was not built)"
PROBE = ("import pyonep_fast._core as core, pyonep_fast.onep, pyonep_fast.datastore\n"
         "from pyonep_fast._core.batch import Batch\n"
         "batch = Batch(); batch.add('read', b'[1]')\n"
         "print(core.backend, type(batch).__name__)")


@pytest.fixture(scope="module")
def without_c(tmp_path_factory):
    """A directory holding a copy of pyonep_fast without its C module."""
    root = tmp_path_factory.mktemp("no_c")
    shutil.copytree(os.path.dirname(pyonep_fast.__file__), root / "pyonep_fast",
                    ignore=shutil.ignore_patterns("_native*", "__pycache__"))
    return root


def run(root, impl):
    """PROBE's run on the copy: -S keeps site's .pth files (the editable
    install's finder, which would find this checkout) out; the dependencies
    come from site-packages on PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYONEP_FAST_IMPL", "PYTHONWARNINGS")}
    if impl is not None:
        env["PYONEP_FAST_IMPL"] = impl
    env["PYTHONPATH"] = os.pathsep.join([str(root), *site.getsitepackages()])
    return subprocess.run([sys.executable, "-S", "-c", PROBE], cwd=root, env=env, capture_output=True,
                          text=True, timeout=60)


def test_without_the_c_module_the_python_backend_runs_with_one_warning(without_c):
    done = run(without_c, None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["python", "PyBatch"]
    assert done.stderr.count(WARNING) == 1
    assert "PYONEP_FAST_IMPL=python" in done.stderr   # how to choose it without the warning


def test_asking_for_python_gives_no_warning_and_asking_for_c_a_clear_error(without_c):
    chosen = run(without_c, "python")
    assert (chosen.returncode, chosen.stdout.split(), chosen.stderr) == (0, ["python", "PyBatch"], "")
    refused = run(without_c, "c")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "ImportError: PYONEP_FAST_IMPL=c, but the C core is not available: it was not built")


@pytest.mark.skipif(_core.backend != "c", reason="this process runs the pure-Python backend")
def test_with_the_c_module_the_c_backend_is_chosen_silently():
    env = {key: value for key, value in os.environ.items() if key != "PYONEP_FAST_IMPL"}
    done = subprocess.run([sys.executable, "-W", "error", "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout.split(), done.stderr) == (0, ["c", "CBatch"], "")
