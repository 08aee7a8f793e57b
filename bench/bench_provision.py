"""Fleet activation: activate N serial numbers and write one value with each
returned CIK, ours against a requests-based client, in the same run.

    python bench/bench_provision.py [--devices 10000] [--threads 8]

Both clients run against one `pyonep-fast serve` subprocess (temporary
database file, durable commits). Setup, untimed: a fountain vendor, a
template client with an integer dataport aliased "reading", one model per
client, N serial numbers per model, all enabled. Timed, per device: POST
/provision/activate, then one RPC `write` authenticated with the CIK it
returned.

  ours:      pyonep_fast.provision.Provision + pyonep_fast.onep.OnepV1 (pooled
             keep-alive connections), --threads devices in flight at once;
  requests:  one requests.Session (keep-alive), one request at a time, the
             way a pyonep-era script walks a fleet.

Prints both wall times, devices per second, and the ratio.
"""
import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import orjson
import requests

from pyonep_fast.onep import OnepV1
from pyonep_fast.provision import Provision
from pyonep_fast.server import spawn
from pyonep_fast.transport import Transport

RPC = "/onep:v1/rpc/process"
RPC_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
MODEL_OURS, MODEL_REQUESTS = "bench_ours", "bench_requests"


def write_body(cik, value):
    return orjson.dumps({"auth": {"cik": cik}, "calls": [
        {"id": 1, "procedure": "write", "arguments": [{"alias": "reading"}, value]}]})


def check_write(status, data):
    answer = orjson.loads(data)
    if status != 200 or not isinstance(answer, list) or answer[0].get("status") != "ok":
        raise SystemExit(f"write failed: {status} {data[:200]!r}")


def must(answer):
    """The result of an OnepV1 call that has to succeed."""
    ok, result = answer
    if not ok:
        raise SystemExit(f"call failed: {result}")
    return result


def setup(url, devices, threads):
    """Vendor, template, two models with `devices` enabled serial numbers each."""
    with Transport(url) as fountain:
        vendor = orjson.loads(fountain.request("GET", "/api/create?vendor").data)
    parts = urlsplit(url)
    with OnepV1(parts.hostname, parts.port, https=False) as onep:
        template = must(onep.create(vendor["cik"], "client", {"limits": {"dataport": "inherit"}}))
        template_cik = must(onep.info(vendor["cik"], template, {"key": True}))["key"]
        must(onep.map(template_cik, must(onep.create(template_cik, "dataport", {"format": "integer"})), "reading"))

    provision = Provision(parts.hostname, parts.port, manage_by_cik=False, httptimeout=60,
                          raise_api_exceptions=True)
    token = vendor["vendortoken"]
    with ThreadPoolExecutor(threads) as pool:
        for model in (MODEL_OURS, MODEL_REQUESTS):
            provision.model_create(token, model, template, historical=False)
            sns = serials(devices)
            for start in range(0, devices, 5000):
                provision.serialnumber_add_batch(token, model, sns[start:start + 5000])
            list(pool.map(lambda sn, m=model: provision.serialnumber_enable(token, m, sn, vendor["rid"]), sns))
    provision.close()
    return vendor["vendor"]


def serials(devices):
    return [f"SN{n:07d}" for n in range(devices)]


def run_ours(url, vendor, devices, threads):
    parts = urlsplit(url)
    provision = Provision(parts.hostname, parts.port, manage_by_cik=False, httptimeout=60,
                          raise_api_exceptions=True)
    onep = OnepV1(parts.hostname, parts.port, https=False, httptimeout=60)

    def device(index, sn):
        cik = provision.serialnumber_activate(MODEL_OURS, sn, vendor).body
        must(onep.write(cik, {"alias": "reading"}, index))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(device, range(devices), serials(devices)))
    elapsed = time.perf_counter() - started
    provision.close()
    onep.close()
    return elapsed


def run_requests(url, vendor, devices):
    session = requests.Session()
    started = time.perf_counter()
    for index, sn in enumerate(serials(devices)):
        activated = session.post(url + "/provision/activate", data={"vendor": vendor, "model": MODEL_REQUESTS,
                                                                     "sn": sn}, headers=FORM_HEADERS)
        if activated.status_code != 200:
            raise SystemExit(f"activation failed: {activated.status_code} {activated.text[:200]}")
        written = session.post(url + RPC, data=write_body(activated.text, index), headers=RPC_HEADERS)
        check_write(written.status_code, written.content)
    elapsed = time.perf_counter() - started
    session.close()
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=8, help="devices in flight at once (ours)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, spawn(db=os.path.join(tmp, "bench.db")) as server:
        setup_started = time.perf_counter()
        vendor = setup(server.url, args.devices, args.threads)
        print(f"setup: {2 * args.devices} serial numbers enabled in {time.perf_counter() - setup_started:.1f} s",
              file=sys.stderr)
        ours = run_ours(server.url, vendor, args.devices, args.threads)
        baseline = run_requests(server.url, vendor, args.devices)
    n = args.devices
    print(f"activate + write, {n} devices   wall time   devices/s")
    print(f"  pyonep_fast ({args.threads} threads)    {ours:8.2f} s  {n / ours:10.0f}")
    print(f"  requests (sequential)     {baseline:8.2f} s  {n / baseline:10.0f}")
    print(f"  ratio                     {baseline / ours:8.2f}x")


if __name__ == "__main__":
    main()
