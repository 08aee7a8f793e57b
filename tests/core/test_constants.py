"""Every integer constant of the cdef (PF_*) that Python retypes for the
pure-Python backend holds the same value in both; a new constant in
csrc/pyonep_fast.h fails here until its twin is named below."""
from pyonep_fast import _core
from pyonep_fast._core import demux, entries, series

ERROR_CODES = ("OK", "ENOMEM", "EUTF8", "ENONFINITE", "ESYNTAX", "ETRUNCATED", "EDEPTH", "ETYPE", "ERANGE",
               "EARG", "ETOOBIG")


def python_twins():
    """C name -> the values Python uses for it (all must be equal)."""
    twins = {"PF_" + name: [getattr(_core, name)] for name in ERROR_CODES}
    twins["PF_MAX_DEPTH"] = [_core.MAX_DEPTH]
    for name, kind in (("ARRAY", "array"), ("ERROR", "error"), ("OTHER", "other")):
        code = getattr(demux, "_" + name)
        twins["PF_RESPONSE_" + name] = [code, next(k for k, v in demux.KINDS.items() if v == kind)]
    for name in ("MISSING", "OK", "FAILED", "ERROR", "BARE"):
        twins["PF_SLOT_" + name] = [getattr(demux, name)]
    for name in ("INT", "FLOAT", "STRING"):
        twins["PF_VALUE_" + name] = [getattr(entries, "VALUE_" + name), entries.PORT_KINDS[name.lower()],
                                     series._C_KIND[name.lower()]]
    twins["PF_ENTRY_INVALID"] = [entries.ENTRY_INVALID]
    return twins


def test_every_c_constant_has_an_equal_python_twin():
    ffi, lib = _core.native()
    twins = python_twins()
    c_names = {name for name in dir(lib) if name.startswith("PF_")}
    assert c_names == set(twins), "constants without a twin (or twins without a constant)"
    for name, values in twins.items():
        assert values == [getattr(lib, name)] * len(values), name

