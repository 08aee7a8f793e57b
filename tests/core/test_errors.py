"""Error codes cross from C as ints; both backends name them identically."""
import pytest

from pyonep_fast import _core
from pyonep_fast.exceptions import CoreError, DecodeError, EncodeError, PyonepFastError


def test_c_strerror_matches_python_table():
    """The codes themselves are held equal in test_constants.py."""
    ffi, lib = _core.native()
    for code, message in _core.MESSAGES.items():
        assert ffi.string(lib.pf_strerror(code)).decode() == message


@pytest.mark.parametrize("code,cls", [(_core.EUTF8, EncodeError), (_core.ENONFINITE, EncodeError),
                                      (_core.ESYNTAX, DecodeError), (_core.ETRUNCATED, DecodeError),
                                      (_core.ENOMEM, CoreError)])
def test_check_maps_codes_onto_the_exception_tree(code, cls):
    with pytest.raises(cls) as info:
        _core.check(code)
    assert isinstance(info.value, PyonepFastError) and isinstance(info.value, ValueError)
    assert info.value.code == code
    assert _core.check(7) == 7
