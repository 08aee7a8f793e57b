"""`pyonep-fast demo --keep-serving`: the portal URL it prints shows the data it ingested, and its ingest."""
import re
import signal
import subprocess
import sys

import orjson
import urllib3

from pyonep_fast.cli.demo import SENSORS


def test_demo_keeps_serving_its_data_in_the_portal_until_interrupted(tmp_path):
    demo = subprocess.Popen([sys.executable, "-c", "import sys; from pyonep_fast.cli import main; sys.exit(main())",
                             "demo", "--points", "3000", "--quiet",
                             "--keep-serving"], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    found = None
    try:
        for line in demo.stdout:          # ends when the demo does: no wait without an end
            found = re.match(r"portal: (http://\S+)/portal/ +\(sign in with One Platform CIK ([0-9a-f]{40})\)",
                             line)
            if found:
                break
        assert found, "the demo printed no portal line"
        url, cik = found.groups()
        with urllib3.PoolManager() as http:
            signed_in = http.request("POST", url + "/portal/api/session", headers={"Origin": url},
                                     body=orjson.dumps({"api": "onep", "credential": cik}))
            assert signed_in.status == 200
            cookie = signed_in.headers["Set-Cookie"].split(";")[0]
            tree = orjson.loads(http.request("GET", url + "/portal/api/onep/tree", headers={"Cookie": cookie}).data)
            activity = orjson.loads(http.request("GET", url + "/portal/api/activity", headers={"Cookie": cookie}).data)
        aliases = sorted(alias for node in tree["root"]["children"] for alias in node["aliases"])
        assert aliases == sorted(alias for alias, _, _ in SENSORS)
        # the server follows the demo's ingest through its checkpoint: the activity page shows it finished
        [demo_ingest] = activity["ingests"]
        assert demo_ingest["state"] == "finished" and demo_ingest["points"] == 3000
        assert demo_ingest["input"].startswith("sensor history") and demo_ingest["fraction"] == 1.0
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
