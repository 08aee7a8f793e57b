"""The README's quick start, run as written against a fresh server."""
import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def quick_start():
    text = README.read_text()
    section = text[text.index("## Quick start"):]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_readme_quick_start_works_verbatim(server, tmp_path):
    lines = quick_start().splitlines()
    assert lines[0].startswith("pyonep-fast serve ")   # the test's own server stands in for it
    script = "set -euo pipefail\n" + "\n".join(lines[1:]) + "\n"
    env = {**os.environ, "PYONEP_FAST_URL": server.url,
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stdout + done.stderr
    out = done.stdout
    assert "4 points stored" in out and "created dataports: humidity" in out
    assert "verify temp: ok: 2 points" in out and "verify humidity: ok: 2 points" in out
    assert "2015-01-22T05:57:12+00:00,41\n2015-01-22T05:56:12+00:00,40\n" in out
    assert '"status": "activated"' in out and "└── humidity  dataport  integer  aliases: humidity" in out
