"""JSON writer and shortest-double formatter: C == Python == what JSON readers read back."""
import json
import math
import struct

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pyonep_fast import _core
from pyonep_fast._core import jsonw
from pyonep_fast.exceptions import CoreError, EncodeError

WRITERS = [jsonw.CJsonWriter, jsonw.PyJsonWriter]
FORMATTERS = [jsonw.c_format_double, jsonw.py_format_double]


def from_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits_of(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def error_code(call, *args):
    with pytest.raises(CoreError) as info:
        call(*args)
    return info.value.code


def assert_repr_exact(x):
    c_text = jsonw.c_format_double(x)
    assert c_text == repr(x), x.hex()
    assert jsonw.py_format_double(x) == repr(x)
    assert bits_of(float(c_text)) == bits_of(x)


# ---------- format_double ----------

@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_double_is_repr_for_any_float(x):
    assert_repr_exact(x)


@given(st.integers(0, 2**64 - 1))
def test_format_double_is_repr_for_any_bit_pattern(bits):
    x = from_bits(bits)
    if math.isfinite(x):
        assert_repr_exact(x)
    else:
        for format_double in FORMATTERS:
            assert error_code(format_double, x) == _core.ENONFINITE


@given(st.integers(1, 2**52 - 1), st.booleans())
@example(1, False)
@example(2**52 - 1, True)
def test_format_double_subnormals(mantissa, negative):
    assert_repr_exact(from_bits(mantissa | (negative << 63)))


@given(st.integers(-10**9, 10**9), st.integers(0, 6))
def test_format_double_short_decimals(units, places):
    assert_repr_exact(units / 10**places)


@given(st.integers(1, 10**15 - 1), st.integers(0, 24))
@example(1, 7)
@example(999999999999999, 0)
@example(999999999999999, 22)
def test_format_double_fifteen_digit_decimals(digits, places):
    # the fast path for decimals of at most 15 significant digits, at every
    # scale it handles (1e-7 <= |x| < 1e15) and just outside
    assert_repr_exact(digits / 10**places)
    assert_repr_exact(-digits / 10**places)


@pytest.mark.parametrize("x", [
    1e-7, math.nextafter(1e-7, 0.0), math.nextafter(1e-7, 1.0), 1e15, math.nextafter(1e15, 0.0),
    999999999999999.9, 99999999999999.99, 0.1 + 0.2, 123456789012345.6, 1.00000000000001, 8.0, 9.999999999999998,
    0.30000000000000004, 1e-6 + 1e-22, 4503599627370495.5, 2.0**-1022, 2.0**-1023,
])
def test_format_double_fast_path_boundaries(x):
    assert_repr_exact(x)
    assert_repr_exact(-x)


@pytest.mark.parametrize("x,text", [
    (0.0, "0.0"), (-0.0, "-0.0"), (1.0, "1.0"), (-2.5, "-2.5"), (0.1, "0.1"), (1 / 3, "0.3333333333333333"),
    (1e16, "1e+16"), (1e15, "1000000000000000.0"), (9999999999999998.0, "9999999999999998.0"),
    (123456789012345.0, "123456789012345.0"), (2.0**53, "9007199254740992.0"), (2.0**63, "9.223372036854776e+18"),
    (0.0001, "0.0001"), (0.00012, "0.00012"), (1.5e-05, "1.5e-05"), (1e-05, "1e-05"), (1e-07, "1e-07"),
    (5e-324, "5e-324"), (1e-323, "1e-323"), (2.2250738585072014e-308, "2.2250738585072014e-308"),
    (1.7976931348623157e308, "1.7976931348623157e+308"), (1e22, "1e+22"), (1e23, "1e+23"), (1e100, "1e+100"),
    (123.456, "123.456"), (-1.0000000000000002, "-1.0000000000000002"), (4.35, "4.35"), (0.3, "0.3"),
])
def test_format_double_layout(x, text):
    for format_double in FORMATTERS:
        assert format_double(x) == text


def test_format_double_at_powers_of_two_and_ten_and_their_neighbours():
    # the rounding interval is asymmetric at powers of two, and decimal
    # boundaries sit next to powers of ten: check both and their neighbours
    points = [2.0**e for e in range(-1074, 1024)] + [float(f"1e{e}") for e in range(-323, 309)]
    for x in points:
        for neighbour in (x, math.nextafter(x, 0.0), math.nextafter(x, math.inf)):
            if math.isfinite(neighbour):
                assert_repr_exact(neighbour)


def test_format_double_small_integers_and_tiny_subnormals():
    for i in range(20000):
        assert_repr_exact(float(i))
        assert_repr_exact(from_bits(i))


@pytest.mark.parametrize("format_double", FORMATTERS)
def test_format_double_refuses_non_finite_and_non_numbers(format_double):
    for value in (math.nan, math.inf, -math.inf):
        assert error_code(format_double, value) == _core.ENONFINITE
    for value in (True, "1.5", None, b"1"):
        assert error_code(format_double, value) == _core.ETYPE
    assert error_code(format_double, 10**400) == _core.ERANGE
    assert format_double(7) == "7.0"


def test_format_double_c_entry_point_refuses_non_finite():
    ffi, lib = _core.native()
    out = ffi.new("char[32]")
    assert lib.pf_format_double(math.nan, out) == _core.ENONFINITE
    assert lib.pf_format_double(-math.inf, out) == _core.ENONFINITE
    assert lib.pf_format_double(-1.7976931348623157e308, out) == 24


# ---------- JsonWriter ----------

@pytest.mark.parametrize("writer_class", WRITERS)
def test_writer_builds_a_document(writer_class):
    w = writer_class()
    w.raw(b"[")
    w.int64(-2**63)
    w.raw(b",")
    w.int64(2**63 - 1)
    w.raw(b",")
    w.double(-0.0)
    w.raw(b",")
    w.string("a\"b\\c\n\u2028é😀")
    w.raw(b"]")
    text = w.getvalue()
    assert text == b'[-9223372036854775808,9223372036854775807,-0.0,"a\\"b\\\\c\\n\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80"]'
    assert len(w) == len(text)
    assert orjson.loads(text) == [-2**63, 2**63 - 1, -0.0, "a\"b\\c\n\u2028é😀"]
    w.reset()
    assert len(w) == 0 and w.getvalue() == b""
    w.double(1e16)
    assert w.getvalue() == b"1e+16"


@given(st.text())
@example("".join(map(chr, range(0x20))) + "\"\\\x7f")
def test_writer_strings_match_json_dumps_and_read_back(text):
    outputs = []
    for writer_class in WRITERS:
        w = writer_class()
        w.string(text)
        outputs.append(w.getvalue())
    assert outputs[0] == outputs[1] == json.dumps(text, ensure_ascii=False).encode("utf-8")
    assert orjson.loads(outputs[0]) == text
    assert json.loads(outputs[0]) == text


@given(st.binary(max_size=40))
@example(b"\xc3\xa9 plain ascii after a two-byte sequence")
def test_writer_utf8_bytes_agree_between_backends(data):
    try:
        expected = json.dumps(data.decode("utf-8"), ensure_ascii=False).encode("utf-8")
    except UnicodeDecodeError:
        expected = None
    for writer_class in WRITERS:
        w = writer_class()
        w.raw(b"x")
        if expected is None:
            assert error_code(w.string, data) == _core.EUTF8
            assert w.getvalue() == b"x"
        else:
            w.string(data)
            assert w.getvalue() == b"x" + expected


INVALID_UTF8 = [
    b"\x80", b"abc\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xf0\x80\x80\x80",
    b"\xf0\x8f\xbf\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff",
    b"\xfe", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3", b"12345678\xc3", b"\xc3(", b"\xe2(\xa1", b"0123456789abcdef\xed\xa0\x80",
]


@pytest.mark.parametrize("data", INVALID_UTF8)
@pytest.mark.parametrize("writer_class", WRITERS)
def test_writer_rejects_invalid_utf8(writer_class, data):
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    w = writer_class()
    with pytest.raises(EncodeError) as info:
        w.string(data)
    assert info.value.code == _core.EUTF8
    assert len(w) == 0


@pytest.mark.parametrize("writer_class", WRITERS)
def test_writer_boundary_code_points(writer_class):
    for code_point in (0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF):
        w = writer_class()
        w.string(chr(code_point) * 9)
        assert orjson.loads(w.getvalue()) == chr(code_point) * 9


@pytest.mark.parametrize("writer_class", WRITERS)
def test_writer_errors(writer_class):
    w = writer_class()
    w.raw(b"[")
    assert error_code(w.string, "\ud800") == _core.EUTF8
    assert error_code(w.string, "ok\udfff") == _core.EUTF8
    assert error_code(w.double, math.nan) == _core.ENONFINITE
    assert error_code(w.double, math.inf) == _core.ENONFINITE
    assert error_code(w.double, "1") == _core.ETYPE
    assert error_code(w.int64, 2**63) == _core.ERANGE
    assert error_code(w.int64, -2**63 - 1) == _core.ERANGE
    assert error_code(w.int64, 1.0) == _core.ETYPE
    assert error_code(w.int64, True) == _core.ETYPE
    assert error_code(w.string, 5) == _core.ETYPE
    assert error_code(w.raw, "text") == _core.ETYPE
    assert w.getvalue() == b"["  # nothing written by the failed calls


@given(st.integers(-2**63, 2**63 - 1))
@example(0)
@example(-1)
def test_writer_int64_exact(value):
    for writer_class in WRITERS:
        w = writer_class()
        w.int64(value)
        assert w.getvalue() == str(value).encode()


@given(st.lists(st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
                          st.text(max_size=8)), max_size=20))
def test_writer_documents_equal_between_backends(items):
    outputs = []
    for writer_class in WRITERS:
        w = writer_class()
        w.raw(b"[")
        for index, item in enumerate(items):
            if index:
                w.raw(b",")
            {int: w.int64, float: w.double, str: w.string}[type(item)](item)
        w.raw(b"]")
        outputs.append(w.getvalue())
    assert outputs[0] == outputs[1]
    decoded = orjson.loads(outputs[0])
    assert [bits_of(x) if isinstance(x, float) else x for x in decoded] == \
           [bits_of(x) if isinstance(x, float) else x for x in items]


def test_c_buffer_guards():
    ffi, lib = _core.native()
    buf = ffi.gc(lib.pf_buf_new(0), lib.pf_buf_free)
    assert lib.pf_buf_write_raw(ffi.NULL, b"x", 1) == _core.EARG
    assert lib.pf_buf_write_raw(buf, ffi.NULL, 1) == _core.EARG
    assert lib.pf_buf_write_string(buf, ffi.NULL, 1) == _core.EARG
    assert lib.pf_buf_write_int64(ffi.NULL, 1) == _core.EARG
    assert lib.pf_buf_write_double(ffi.NULL, 1.0) == _core.EARG
    assert lib.pf_buf_write_raw(buf, b"x", 2**63) == _core.ETOOBIG  # refused before reading
    assert lib.pf_buf_write_double(buf, math.nan) == _core.ENONFINITE
    assert lib.pf_buf_len(buf) == 0 and lib.pf_buf_len(ffi.NULL) == 0
    big = ffi.gc(lib.pf_buf_new(1 << 20), lib.pf_buf_free)
    assert big != ffi.NULL and lib.pf_buf_len(big) == 0
    lib.pf_buf_free(ffi.NULL)


def test_public_names_follow_impl():
    expected = "c" if _core.backend == "c" else "py"
    assert jsonw.JsonWriter.__name__.lower().startswith(expected)
    assert jsonw.format_double.__name__.startswith(expected)
