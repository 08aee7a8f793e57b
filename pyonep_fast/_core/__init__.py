"""The core: JSON writing, batching, demultiplexing, series, entries parsing.

Two backends implement every class and function here with identical
behaviour: the C module built from csrc/ (`c`, the default) and a
pure-Python reference (`python`). `PYONEP_FAST_IMPL` picks the one the
facades use, once, at import: `backend` is "c" or "python" and every module
that chooses asks it. Tests exercise both side by side. Unset, it is "c"
when the C module loads, else "python" with one RuntimeWarning (an install
without a C compiler has no C module: build.py installs without it).
"""
import functools
import importlib.util
import os
import warnings

from ..exceptions import CoreError, DecodeError, EncodeError

NO_C_CORE = ("pyonep_fast: the C core is not available ({reason}); using the pure-Python "
             "backend (same results, slower). Install a C compiler and reinstall for speed, "
             "or set PYONEP_FAST_IMPL=python to choose it without this warning")


def _native_problem():
    """None if the C module loads, else why it does not."""
    try:
        from .. import _native  # noqa: F401
    except ImportError as exc:
        built = importlib.util.find_spec("pyonep_fast._native") is not None
        return str(exc) if built else "it was not built"
    return None


def _choose_backend():
    requested = os.environ.get("PYONEP_FAST_IMPL", "").strip().lower()
    if requested not in ("", "c", "python"):
        raise ImportError(f"PYONEP_FAST_IMPL must be 'c' or 'python', not {requested!r}")
    if requested == "python":
        return "python"
    problem = _native_problem()
    if problem is None:
        return "c"
    if requested == "c":
        raise ImportError(f"PYONEP_FAST_IMPL=c, but the C core is not available: {problem}")
    warnings.warn(NO_C_CORE.format(reason=problem), RuntimeWarning, stacklevel=2)
    return "python"


#: "c" or "python": the backend every module of the core uses.
backend = _choose_backend()

# Error codes shared by both backends; csrc/errors.c returns the same text
# from pf_strerror (a test holds them equal).
OK = 0
ENOMEM = -1
EUTF8 = -2
ENONFINITE = -3
ESYNTAX = -4
ETRUNCATED = -5
EDEPTH = -6
ETYPE = -7
ERANGE = -8
EARG = -9
ETOOBIG = -10
MAX_DEPTH = 512

MESSAGES = {
    ENOMEM: "out of memory",
    EUTF8: "invalid UTF-8",
    ENONFINITE: "NaN and infinity cannot be encoded as JSON",
    ESYNTAX: "malformed JSON",
    ETRUNCATED: "truncated JSON",
    EDEPTH: "JSON nested too deeply",
    ETYPE: "value of the wrong type",
    ERANGE: "number or index out of range",
    EARG: "invalid argument",
    ETOOBIG: "size limit exceeded",
}

_ENCODE_CODES = (EUTF8, ENONFINITE, ETYPE)
_DECODE_CODES = (ESYNTAX, ETRUNCATED, EDEPTH)


def strerror(code):
    return MESSAGES.get(code, f"unknown error {code}")


def error(code):
    """The exception for a negative error code (both backends use this)."""
    cls = EncodeError if code in _ENCODE_CODES else DecodeError if code in _DECODE_CODES else CoreError
    return cls(code, strerror(code))


def check(rc):
    """Return rc, or raise the exception for a negative error code."""
    if rc < 0:
        raise error(rc)
    return rc


@functools.cache  # facades call this per request: skip the import machinery
def native():
    """(ffi, lib) of the compiled module; ImportError if it was not built."""
    from .. import _native

    return _native.ffi, _native.lib
