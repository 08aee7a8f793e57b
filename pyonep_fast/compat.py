"""Drop-in imports: make `import pyonep` resolve to pyonep_fast.

    import pyonep_fast.compat; pyonep_fast.compat.install()
    python -m pyonep_fast.compat [--url URL] script.py args...
    python -m pyonep_fast.compat [--url URL] -m module args...

After install(), `import pyonep`, `from pyonep import onep`,
`from pyonep.onep import OnepV1`, `import pyonep.exceptions`,
`pyonep.provision` and `pyonep.datastore` give this package's modules
(imported when first used), and `pyonep.__version__` is '0.13.8'.

Programs that hardcode the hosted services (`OnepV1()` is
https://m2.exosite.com:443, `Provision()` http://m2.exosite.com:80) reach
another server when a URL is given: `install(url=...)`, `--url`, or the
environment variable PYONEP_FAST_URL (read at import, also without
install()). Every scheme and port of each hosted host in UPSTREAMS and its
subdomains then goes to that URL, so all the APIs share one server.

Everything upstream-specific is a row of UPSTREAMS (pyonep_fast.upstreams):
a new upstream client adds one row (its modules, package attributes and
hosts), no code. An
upstream whose row has no modules or attributes yet is not stood in for:
its import name is left to the real package.
"""
import importlib
import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import types
import urllib.parse

from . import transport
from .upstreams import UPSTREAMS, Upstream  # noqa: F401  (Upstream: for rows added at run time)

#: Where `pyonep-fast serve` listens by default: every command's server
#: unless --url or $PYONEP_FAST_URL says otherwise.
DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "PYONEP_FAST_URL"


def server_url(url: str | None = None) -> str:
    """The one reading of a server URL for every command, `ingest()`,
    `OnepV1.from_url` and this module: `url`, else $PYONEP_FAST_URL, else
    DEFAULT_URL, as "scheme://host:port". "host:port" alone means http.
    ValueError says what is wrong with it, in one line."""
    text = (url if url is not None else os.environ.get(URL_ENV) or DEFAULT_URL).strip()
    given = text
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"server URL {given!r}: the scheme must be http or https, not {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"server URL {given!r}: the port must be a number from 1 to 65535") from None
    host = parts.hostname
    if not host:
        raise ValueError(f"server URL {given!r} has no host (e.g. http://127.0.0.1:8080)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"server URL {given!r}: give only scheme://host:port, with no path, query or user")
    if port == 0:
        raise ValueError(f"server URL {given!r}: the port must be a number from 1 to 65535")
    port = port or (443 if scheme == "https" else 80)
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def server_address(url: str | None = None) -> tuple[str, str, bool]:
    """(host, port, https) of server_url(url), as the pyonep constructors
    take them (an IPv6 host in brackets; port a str)."""
    parts = urllib.parse.urlsplit(server_url(url))
    host = parts.hostname or ""
    return (f"[{host}]" if ":" in host else host), str(parts.port), parts.scheme == "https"


def _served(package):
    """The row of `package` if install() stands in for it, else None."""
    upstream = UPSTREAMS.get(package)
    if upstream is None or not (upstream.modules or upstream.attributes):
        return None
    return upstream


def _make_package(name, upstream):
    package = types.ModuleType(name, f"pyonep_fast standing in for {name}")
    for attribute, value in upstream.constants.items():
        setattr(package, attribute, value)
    package.__path__ = []

    def __getattr__(attribute):
        """A re-exported class, or one of the submodules."""
        if attribute in upstream.attributes:
            module, target = upstream.attributes[attribute]
            return getattr(importlib.import_module(module), target)
        if f"{name}.{attribute}" in upstream.modules:
            return importlib.import_module(f"{name}.{attribute}")
        raise AttributeError(f"module {name!r} has no attribute {attribute!r}")

    package.__getattr__ = __getattr__
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
        upstream = _served(fullname.partition(".")[0])
        if upstream is None:
            return None
        if "." not in fullname:
            return importlib.machinery.ModuleSpec(fullname, _PackageLoader(upstream),
                                                  is_package=True)
        if fullname in upstream.modules:
            return importlib.machinery.ModuleSpec(fullname, _Alias(upstream.modules[fullname]))
        return None


class _PackageLoader(importlib.abc.Loader):
    def __init__(self, upstream):
        self.upstream = upstream

    def create_module(self, spec):
        return _make_package(spec.name, self.upstream)

    def exec_module(self, module):
        pass


def _upstream_names():
    """(name, row) of every upstream package and module install() serves."""
    for package, upstream in UPSTREAMS.items():
        if _served(package) is not None:
            yield package, upstream
            for name in upstream.modules:
                yield name, upstream


def _is_ours(name, module, upstream):
    if name in UPSTREAMS:
        return isinstance(getattr(module.__spec__, "loader", None), _PackageLoader)
    return module.__name__ == upstream.modules[name]


def install(url=None):
    """Make the upstream import names resolve to pyonep_fast (idempotent).
    `url` (scheme://host:port) redirects every hosted host there."""
    if url:
        transport.redirect_hosted(url)
    if _Finder not in sys.meta_path:
        sys.meta_path.insert(0, _Finder)
    for name, upstream in _upstream_names():  # a real upstream imported earlier must not shadow ours
        module = sys.modules.get(name)
        if module is not None and not _is_ours(name, module, upstream):
            del sys.modules[name]


def uninstall():
    """Undo install(): the upstream names are no longer ours (redirects stay)."""
    while _Finder in sys.meta_path:
        sys.meta_path.remove(_Finder)
    for name, upstream in _upstream_names():
        module = sys.modules.get(name)
        if module is not None and _is_ours(name, module, upstream):
            del sys.modules[name]


USAGE = ("usage: python -m pyonep_fast.compat [--url URL] (script.py | -m module) [args...]\n"
         f"  URL: the server the hosted hosts go to (default: ${URL_ENV}, else {DEFAULT_URL})")


def main(argv=None):
    """Run a program with the upstream imports resolving to pyonep_fast and
    the hosted hosts going to --url (default: $PYONEP_FAST_URL, else
    where `pyonep-fast serve` listens)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    url = None
    if argv[:1] == ["--url"] and len(argv) >= 2:
        url, argv = argv[1], argv[2:]
    elif argv and argv[0].startswith("--url="):
        url, argv = argv[0].split("=", 1)[1], argv[1:]
    if not argv or argv[0] in ("-h", "--help") or (argv[0] == "-m" and len(argv) < 2):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        url = server_url(url)
    except ValueError as exc:
        print(f"pyonep_fast.compat: {exc}", file=sys.stderr)
        return 2
    if argv[0] != "-m" and not os.path.isfile(argv[0]):
        print(f"pyonep_fast.compat: no such script: {argv[0]}", file=sys.stderr)
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
