"""Drop-in imports: make `import pyonep` resolve to pyonep_fast.

    import pyonep_fast.compat; pyonep_fast.compat.install()
    python -m pyonep_fast.compat [--url URL] script.py args...
    python -m pyonep_fast.compat [--url URL] -m module args...

After install(), `import pyonep`, `from pyonep import onep`,
`from pyonep.onep import OnepV1`, `import pyonep.exceptions`,
`pyonep.provision` and `pyonep.datastore` give this package's modules
(imported when first used), and `pyonep.__version__` is '0.13.8'.

Programs that hardcode the hosted platform (`OnepV1()` is
https://m2.exosite.com:443, `Provision()` http://m2.exosite.com:80) reach
another server when a URL is given: `install(url=...)`, `--url`, or the
environment variable PYONEP_FAST_URL (read at import, also without
install()). Every scheme and port of m2.exosite.com and its subdomains then
goes to that URL, so the https and http endpoints share one server.
"""
import importlib
import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import types

from . import transport

PYONEP_VERSION = "0.13.8"

#: Upstream module name -> ours. Modules are imported when first asked for.
MODULES = {
    "pyonep.onep": "pyonep_fast.onep",
    "pyonep.exceptions": "pyonep_fast.exceptions",
    "pyonep.provision": "pyonep_fast.provision",
    "pyonep.datastore": "pyonep_fast.datastore",
}

#: Attributes of the `pyonep` package: name -> (our module, attribute).
PACKAGE_ATTRIBUTES = {
    "OnepV1": ("pyonep_fast.onep", "OnepV1"),
    "DeferredRequests": ("pyonep_fast.onep", "DeferredRequests"),
    "Provision": ("pyonep_fast.provision", "Provision"),
}


def _package_getattr(name):
    """`pyonep.<name>`: a re-exported class, or one of the submodules."""
    if name in PACKAGE_ATTRIBUTES:
        module, attribute = PACKAGE_ATTRIBUTES[name]
        return getattr(importlib.import_module(module), attribute)
    if f"pyonep.{name}" in MODULES:
        return importlib.import_module(f"pyonep.{name}")
    raise AttributeError(f"module 'pyonep' has no attribute {name!r}")


def _make_package():
    package = types.ModuleType("pyonep", "pyonep_fast standing in for pyonep " + PYONEP_VERSION)
    package.__version__ = PYONEP_VERSION
    package.__path__ = []
    package.__getattr__ = _package_getattr
    return package


class _Alias(importlib.abc.Loader):
    """Loads an upstream name as the already-importable module of ours."""

    def __init__(self, target):
        self.target = target
        self.spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module):
        # The import system stamped the upstream name's spec on our module;
        # give it back its own so that reload() and pickling keep working.
        module.__spec__ = self.spec


class _Finder(importlib.abc.MetaPathFinder):
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname == "pyonep":
            return importlib.machinery.ModuleSpec("pyonep", _PackageLoader(), is_package=True)
        if fullname in MODULES:
            return importlib.machinery.ModuleSpec(fullname, _Alias(MODULES[fullname]))
        return None


class _PackageLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return _make_package()

    def exec_module(self, module):
        pass


def _is_ours(name, module):
    if name == "pyonep":
        return isinstance(getattr(module.__spec__, "loader", None), _PackageLoader)
    return module.__name__ == MODULES[name]


def install(url=None):
    """Make the upstream import names resolve to pyonep_fast (idempotent).
    `url` (scheme://host:port) redirects the hosted platform's host there."""
    if url:
        transport.redirect(transport.ONE_PLATFORM_HOST, url)
    if _Finder not in sys.meta_path:
        sys.meta_path.insert(0, _Finder)
    for name in ["pyonep", *MODULES]:  # a real pyonep imported earlier must not shadow ours
        module = sys.modules.get(name)
        if module is not None and not _is_ours(name, module):
            del sys.modules[name]


def uninstall():
    """Undo install(): the upstream names are no longer ours (redirects stay)."""
    while _Finder in sys.meta_path:
        sys.meta_path.remove(_Finder)
    for name in ["pyonep", *MODULES]:
        module = sys.modules.get(name)
        if module is not None and _is_ours(name, module):
            del sys.modules[name]


USAGE = "usage: python -m pyonep_fast.compat [--url URL] (script.py | -m module) [args...]"


def main(argv=None):
    """Run a program with the upstream imports resolving to pyonep_fast."""
    argv = list(sys.argv[1:] if argv is None else argv)
    url = None
    if argv[:1] == ["--url"] and len(argv) >= 2:
        url, argv = argv[1], argv[2:]
    elif argv and argv[0].startswith("--url="):
        url, argv = argv[0].split("=", 1)[1], argv[1:]
    if not argv or argv[0] in ("-h", "--help") or (argv[0] == "-m" and len(argv) < 2):
        print(USAGE, file=sys.stderr)
        return 2
    install(url)
    if argv[0] == "-m":
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = argv
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
        runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    # Run as `python -m`, this file is __main__; use the importable module so
    # that a program calling install() itself shares the same finder.
    from pyonep_fast import compat

    sys.exit(compat.main())
