"""cffi builder for pyonep_fast._native (API, out-of-line mode).

The cdef is the region of csrc/pyonep_fast.h between the CDEF markers; the C
sources are every csrc/*.c. setuptools runs this through `BuildCffiExt`
(pyproject.toml's cmdclass), so `pip install .` needs no setup.py. Without
a working C compiler the install goes on without the extension (one
warning): pyonep_fast then runs on its pure-Python backend, which every C
path has.
`python build.py` builds in place for development; `--sanitize` builds with
AddressSanitizer and UndefinedBehaviorSanitizer for the CI's sanitizer step.

csrc/dtoa_table.h is generated here too, being an input of the build:
`python build.py --dtoa-table` rewrites it, `--check-dtoa-table` fails
(exit 1) unless it equals what the generator gives (the CI runs that).
"""
import argparse
import glob
import os
import re
import shutil
import sys

from cffi import FFI
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

ROOT = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(ROOT, "csrc")
HEADER = os.path.join(CSRC, "pyonep_fast.h")
DTOA_TABLE = os.path.join(CSRC, "dtoa_table.h")
MODULE = "pyonep_fast._native"

OPT_FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"]
SANITIZE_FLAGS = ["-O1", "-g", "-std=c11", "-Wall", "-fno-omit-frame-pointer",
                  "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]


def read_cdef():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"/\* CDEF BEGIN \*/(.*)/\* CDEF END \*/", text, re.S)
    if match is None:
        raise RuntimeError("csrc/pyonep_fast.h has no CDEF BEGIN/END region")
    return match.group(1)


def c_sources():
    return sorted(glob.glob(os.path.join(CSRC, "*.c")))


def extension_options(sanitize=False, absolute=False):
    # setuptools wants paths relative to the project; cffi's compile() runs in its tmpdir.
    path = (lambda p: p) if absolute else (lambda p: os.path.relpath(p, ROOT))
    return {
        "sources": [path(p) for p in c_sources()],
        "include_dirs": [path(CSRC)],
        "extra_compile_args": SANITIZE_FLAGS if sanitize else OPT_FLAGS,
        "extra_link_args": ["-fsanitize=address,undefined"] if sanitize else [],
    }


def make_ffibuilder(sanitize=False, absolute=False):
    builder = FFI()
    builder.cdef(read_cdef())
    builder.set_source(MODULE, '#include "pyonep_fast.h"', **extension_options(sanitize, absolute))
    return builder


SANITIZE = os.environ.get("PYONEP_FAST_SANITIZE") == "1"
ffibuilder = make_ffibuilder(SANITIZE)


class BuildCffiExt(build_ext):
    """build_ext that first writes the cffi wrapper and fills in the sources."""

    def run(self):
        os.makedirs(self.build_temp, exist_ok=True)
        wrapper = os.path.join(self.build_temp, "_native.c")
        ffibuilder.emit_c_code(wrapper)
        options = extension_options(SANITIZE)
        for ext in self.extensions:
            if ext.name == MODULE:
                ext.sources = [wrapper] + options["sources"]
                ext.include_dirs = options["include_dirs"]
                ext.extra_compile_args = options["extra_compile_args"]
                ext.extra_link_args = options["extra_link_args"]
        try:
            super().run()
        except (CCompilerError, ExecError, PlatformError) as exc:  # CCompilerError: CompileError, LinkError
            if SANITIZE:  # a sanitizer build that does not build is a failure
                raise
            compiler = getattr(self.compiler, "compiler_so", None) or ["the C compiler"]
            print(f"WARNING: {NO_COMPILER_WARNING} ({compiler[0]} failed: {type(exc).__name__})",
                  file=sys.stderr)


#: The one line an install without a C compiler prints (pip shows it with -v;
#: pyonep_fast._core says the same at import).
NO_COMPILER_WARNING = ("pyonep_fast: the C core could not be compiled; installed with the "
                       "pure-Python backend (same results, slower): install a C compiler "
                       "and reinstall for speed")


def build_in_place(sanitize=False):
    """Compile the module into pyonep_fast/ (what an editable install does)."""
    tmpdir = os.path.join(ROOT, "build", "cffi-sanitize" if sanitize else "cffi")
    built = make_ffibuilder(sanitize, absolute=True).compile(tmpdir=tmpdir)
    target = os.path.join(ROOT, "pyonep_fast", os.path.basename(built))
    shutil.copyfile(built, target)
    return target


# ---------- csrc/dtoa_table.h: the powers of ten that dtoa.c multiplies by ----------
#
# Schubfach's table: for every e in [E_MIN, E_MAX], g(e) (pow10_g), a 126-bit
# integer that over-approximates 10^e scaled into [2^125, 2^126):
#
#     r(e) = floor(e * log2(10)) - 125
#     g(e) = floor(10^e / 2^r(e)) + 1        (so g - 1 <= 10^e / 2^r < g)
#
# split into two 63-bit halves {g >> 63, g & (2^63 - 1)}.
#
# Dragonbox's table (pow10_cache): for every k in [K_MIN, K_MAX], the 128-bit
# ceiling of 10^k scaled into [2^127, 2^128):
#
#     cache(k) = ceil(10^k * 2^(127 - floor(k * log2(10))))
#
# as {high 64 bits, low 64 bits}. Everything is exact big-integer arithmetic.
# The generator also checks, over every exponent a double can have, the
# fixed-point logarithm formulas that dtoa.c uses in place of floating-point
# logarithms.

E_MIN = -292   # 10^e for e = -k, k = floor(q log10 2) with q in [-1074, 971]
E_MAX = 324
Q_MIN = -1074
Q_MAX = 971
K_MIN = -290   # 10^k for k = 2 - floor(q log10 2), q in [-1074, 971]
K_MAX = 326


def floor_log2_pow10(e):
    """floor(log2(10^e)), exactly."""
    if e >= 0:
        return (10 ** e).bit_length() - 1
    return -((10 ** -e - 1).bit_length())


def floor_log10_of_fraction(num, den):
    """floor(log10(num / den)) for positive integers, exactly."""
    k = len(str(num)) - len(str(den))
    while 10 ** k * den > num if k >= 0 else den > num * 10 ** -k:
        k -= 1
    while (10 ** (k + 1) * den <= num) if k + 1 >= 0 else (den <= num * 10 ** -(k + 1)):
        k += 1
    return k


def pow2_fraction(q, num=1, den=1):
    """num/den * 2^q as a (numerator, denominator) pair of integers."""
    return (num << q, den) if q >= 0 else (num, den << -q)


def check_log_formulas():
    for q in range(Q_MIN - 1, Q_MAX + 2):
        assert (q * 661971961083) >> 41 == floor_log10_of_fraction(*pow2_fraction(q)), q
        three_quarters = floor_log10_of_fraction(*pow2_fraction(q, 3, 4))
        assert (q * 661971961083 - 274743187321) >> 41 == three_quarters, q
    for e in range(E_MIN - 1, E_MAX + 2):
        assert (e * 913124641741) >> 38 == floor_log2_pow10(e), e


def pow10_g(e):
    r = floor_log2_pow10(e) - 125
    if e >= 0:
        value = 10 ** e >> r if r >= 0 else 10 ** e << -r
    else:
        value = (1 << -r) // 10 ** -e
    value += 1
    assert 1 << 125 < value < 1 << 126, e
    return value


def ceil_div(a, b):
    return -(-a // b)


def pow10_cache(k):
    shift = 127 - floor_log2_pow10(k)
    if k >= 0:
        value = 10 ** k << shift if shift >= 0 else ceil_div(10 ** k, 1 << -shift)
    else:
        value = ceil_div(1 << shift, 10 ** -k)
    assert 1 << 127 <= value < 1 << 128, k
    return value


def dtoa_table_text():
    """The text of csrc/dtoa_table.h."""
    check_log_formulas()
    assert {2 - ((q * 661971961083) >> 41) for q in range(Q_MIN, Q_MAX + 1)} == set(range(K_MIN, K_MAX + 1))
    mask = (1 << 63) - 1
    lines = [
        "/* Generated by `python build.py --dtoa-table`: do not edit. */",
        "#ifndef PF_DTOA_TABLE_H",
        "#define PF_DTOA_TABLE_H",
        "#include <stdint.h>",
        "",
        f"#define PF_POW10_E_MIN ({E_MIN})",
        f"#define PF_POW10_E_MAX {E_MAX}",
        "",
        "/* {g >> 63, g & (2^63 - 1)} with g = floor(10^e / 2^(floor(e log2 10) - 125)) + 1,",
        " * for e = PF_POW10_E_MIN + index. */",
        f"static const uint64_t pf_pow10_g[{E_MAX - E_MIN + 1}][2] = {{",
    ]
    for e in range(E_MIN, E_MAX + 1):
        value = pow10_g(e)
        lines.append(f"    {{0x{value >> 63:016x}u, 0x{value & mask:016x}u}},  /* 1e{e} */")
    lines += [
        "};",
        "",
        f"#define PF_CACHE_K_MIN ({K_MIN})",
        f"#define PF_CACHE_K_MAX {K_MAX}",
        "",
        "/* {high, low} 64-bit halves of ceil(10^k 2^(127 - floor(k log2 10))),",
        " * for k = PF_CACHE_K_MIN + index. */",
        f"static const uint64_t pf_pow10_cache[{K_MAX - K_MIN + 1}][2] = {{",
    ]
    for k in range(K_MIN, K_MAX + 1):
        value = pow10_cache(k)
        lines.append(f"    {{0x{value >> 64:016x}u, 0x{value & (1 << 64) - 1:016x}u}},  /* 1e{k} */")
    lines += ["};", "", "#endif", ""]
    return "\n".join(lines)


def check_dtoa_table():
    """0 if csrc/dtoa_table.h is what dtoa_table_text() gives, else 1."""
    with open(DTOA_TABLE, encoding="utf-8") as f:
        if f.read() == dtoa_table_text():
            return 0
    print("csrc/dtoa_table.h differs from its generator: run `python build.py --dtoa-table`",
          file=sys.stderr)
    return 1


def main(argv):
    parser = argparse.ArgumentParser(description="Build the C core in place, or generate its table.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--sanitize", action="store_true", help="build with ASan + UBSan")
    action.add_argument("--dtoa-table", action="store_true", help="rewrite csrc/dtoa_table.h")
    action.add_argument("--check-dtoa-table", action="store_true",
                        help="exit 1 unless csrc/dtoa_table.h equals the generator's output")
    args = parser.parse_args(argv)
    if args.check_dtoa_table:
        return check_dtoa_table()
    if args.dtoa_table:
        with open(DTOA_TABLE, "w", encoding="utf-8") as f:
            f.write(dtoa_table_text())
        return 0
    print(build_in_place(sanitize=args.sanitize))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
