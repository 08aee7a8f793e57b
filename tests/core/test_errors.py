"""Error codes cross from C as ints; both backends name them identically."""
import pytest

from pyonep_fast import _core
from pyonep_fast.exceptions import CoreError, DecodeError, EncodeError, PyonepFastError


def test_c_strerror_matches_python_table():
    ffi, lib = _core.native()
    for code, message in _core.MESSAGES.items():
        assert ffi.string(lib.pf_strerror(code)).decode() == message
        assert getattr(lib, "PF_" + _code_name(code)) == code
    assert lib.PF_MAX_DEPTH == _core.MAX_DEPTH


def _code_name(code):
    return next(name for name, value in vars(_core).items() if value == code and name.startswith("E"))


@pytest.mark.parametrize("code,cls", [(_core.EUTF8, EncodeError), (_core.ENONFINITE, EncodeError),
                                      (_core.ESYNTAX, DecodeError), (_core.ETRUNCATED, DecodeError),
                                      (_core.ENOMEM, CoreError)])
def test_check_maps_codes_onto_the_exception_tree(code, cls):
    with pytest.raises(cls) as info:
        _core.check(code)
    assert isinstance(info.value, PyonepFastError) and isinstance(info.value, ValueError)
    assert info.value.code == code
    assert _core.check(7) == 7
