"""Build the libFuzzer harnesses of tests/fuzz/ and run each in turn.

    python bench/fuzz.py --seconds 20             # what .ci/run does
    python bench/fuzz.py --runs 10000000          # the long run: the figure
    python bench/fuzz.py --runs 100000 jscan dtoa # some harnesses only

Each tests/fuzz/<name>/fuzz_<name>.c is compiled with every csrc/*.c by
clang with -fsanitize=fuzzer,address,undefined into build/fuzz/<name>/,
then run on its seed corpus (tests/fuzz/<name>/corpus, only read) plus a
working corpus in build/fuzz/<name>/corpus that keeps what it finds from
one run to the next. A crash, a leak, a sanitizer report or a timeout
leaves its input in build/fuzz/<name>/ and makes the script exit 1.
Prints executions, time and executions/s per harness.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESSES = os.path.join(ROOT, "tests", "fuzz")
BUILD = os.path.join(ROOT, "build", "fuzz")
DICTIONARY = os.path.join(HARNESSES, "json.dict")
# Per harness: JSON tokens for the parsers; short inputs where length adds
# nothing but time (eight doubles; strings well past the 8-byte SWAR step).
OPTIONS = {"jscan": [f"-dict={DICTIONARY}"], "demux": [f"-dict={DICTIONARY}"], "entries": [f"-dict={DICTIONARY}"],
           "m2x_values": [f"-dict={DICTIONARY}"],
           "jsonw": ["-max_len=512"], "dtoa": ["-max_len=64"]}
CFLAGS = ["-g", "-O1", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror",
          "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined"]


def harness_names():
    return sorted(os.path.basename(os.path.dirname(path))
                  for path in glob.glob(os.path.join(HARNESSES, "*", "fuzz_*.c")))


def build(name):
    out_dir = os.path.join(BUILD, name)
    os.makedirs(os.path.join(out_dir, "corpus"), exist_ok=True)
    binary = os.path.join(out_dir, "fuzz_" + name)
    sources = [os.path.join(HARNESSES, name, f"fuzz_{name}.c")] + sorted(glob.glob(os.path.join(ROOT, "csrc", "*.c")))
    subprocess.run(["clang", *CFLAGS, "-I", os.path.join(ROOT, "csrc"), *sources, "-o", binary], check=True)
    return binary


def run(name, binary, seconds, runs):
    out_dir = os.path.join(BUILD, name)
    command = [binary, os.path.join(out_dir, "corpus"), os.path.join(HARNESSES, name, "corpus"),
               f"-artifact_prefix={out_dir}/", "-print_final_stats=1", "-timeout=10", "-rss_limit_mb=2048"]
    command.append(f"-max_total_time={seconds}" if seconds else f"-runs={runs}")
    command += OPTIONS.get(name, [])
    print("$ " + " ".join(os.path.relpath(part, ROOT) if part.startswith(ROOT) else part for part in command),
          flush=True)
    start = time.monotonic()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    elapsed = time.monotonic() - start
    executed = re.search(r"stat::number_of_executed_units:\s*(\d+)", result.stdout)
    executions = int(executed.group(1)) if executed else 0
    if result.returncode != 0:
        print(result.stdout[-6000:], file=sys.stderr)
    return executions, elapsed, result.returncode


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--seconds", type=int, help="run each harness this long")
    budget.add_argument("--runs", type=int, help="run each harness for this many executions")
    parser.add_argument("names", nargs="*", help=f"harnesses (default: all of {', '.join(harness_names())})")
    args = parser.parse_args(argv)
    if shutil.which("clang") is None:
        parser.error("clang is required (apt-get install clang)")
    names = args.names or harness_names()
    unknown = set(names) - set(harness_names())
    if unknown:
        parser.error(f"no such harness: {', '.join(sorted(unknown))}")
    rows = []
    for name in names:
        executions, elapsed, returncode = run(name, build(name), args.seconds, args.runs)
        rows.append((name, executions, elapsed, "ok" if returncode == 0 else f"FAILED (exit {returncode})"))
    print(f"\n{'harness':10} {'executions':>12} {'seconds':>9} {'exec/s':>9}  result")
    for name, executions, elapsed, verdict in rows:
        print(f"{name:10} {executions:>12,} {elapsed:>9.1f} {executions / elapsed:>9,.0f}  {verdict}")
    return 0 if all(row[3] == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
