"""cffi builder for pyonep_fast._native (API, out-of-line mode).

The cdef is the region of csrc/pyonep_fast.h between the CDEF markers; the C
sources are every csrc/*.c. setuptools runs this through `BuildCffiExt`
(pyproject.toml's cmdclass), so `pip install .` needs no setup.py.
`python build.py` builds in place for development; `--sanitize` builds with
AddressSanitizer and UndefinedBehaviorSanitizer for the CI's sanitizer step.
"""
import glob
import os
import re
import shutil
import sys

from cffi import FFI
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(ROOT, "csrc")
HEADER = os.path.join(CSRC, "pyonep_fast.h")
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
        super().run()


def build_in_place(sanitize=False):
    """Compile the module into pyonep_fast/ (what an editable install does)."""
    tmpdir = os.path.join(ROOT, "build", "cffi-sanitize" if sanitize else "cffi")
    built = make_ffibuilder(sanitize, absolute=True).compile(tmpdir=tmpdir)
    target = os.path.join(ROOT, "pyonep_fast", os.path.basename(built))
    shutil.copyfile(built, target)
    return target


if __name__ == "__main__":
    print(build_in_place(sanitize="--sanitize" in sys.argv[1:]))
