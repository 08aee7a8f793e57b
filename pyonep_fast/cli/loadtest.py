"""`pyonep-fast loadtest SCENARIO`: a preset load test on Locust's runner,
headless, against --url or an embedded server it starts itself.

Locust monkey-patches the standard library with gevent, which must happen
before pyonep_fast's transport is imported; the `pyonep-fast` command has
imported it (other subcommands) by the time it parses arguments, so this
command runs itself again as `python -m pyonep_fast.cli.loadtest ...`,
a fresh interpreter that imports Locust first. Worker processes
(--processes) are started the same way.
"""
import argparse
import datetime
import os
import subprocess
import sys

SCENARIOS = {
    "devices": "N devices, each writing once every --interval seconds (open loop, default 10)",
    "readers": "readers of the latest 10 points of a dataport, no wait",
    "deferred": "batches of --batch deferred writes (default 10) sent as one request, no wait",
    "ingest": "recordbatch of --points history points (default 1000), no wait",
    "m2x-devices": "N M2X devices with their own device keys, each posting --points values (default 1) "
                   "every --interval seconds (open loop, default 10)",
    "exp-network": "N EXP devices on one channel, each broadcasting every --interval seconds (default 5), "
                   "collecting responses for --window seconds (default 1), answering the others'",
}

# (flags, argparse keywords): the options, also turned back into arguments by _argv.
OPTIONS = (
    (("--url",), {"help": "server base URL (default: start an embedded server with a durable database)"}),
    (("-u", "--users"), {"type": int, "default": 10, "help": "simulated users (default: %(default)s)"}),
    (("-r", "--spawn-rate"), {"type": float, "help": "users started per second (default: users, at most 100)"}),
    (("-t", "--run-time"), {"default": "30s", "help": "how long to run: 30s, 5m, 1h30m (default: %(default)s)"}),
    (("--processes",), {"type": int, "default": 0,
                        "help": "worker processes on this machine under a local master; -1: one per core"}),
    (("--report",), {"metavar": "DIR", "help": "where the reports go (default: loadtest-reports/SCENARIO-TIME)"}),
    (("--master",), {"action": "store_true", "help": "run as the master of a distributed run"}),
    (("--master-bind-host",), {"default": "*", "help": "interface the master listens on (default: all)"}),
    (("--master-bind-port",), {"type": int, "default": 5557, "help": "port the master listens on"}),
    (("--expect-workers",), {"type": int, "default": 1, "help": "workers the master waits for"}),
    (("--worker",), {"action": "store_true", "help": "run as a worker of the master at --master-host"}),
    (("--master-host",), {"default": "127.0.0.1", "help": "the master a worker connects to"}),
    (("--master-port",), {"type": int, "default": 5557, "help": "the master's port"}),
    (("--interval",), {"type": float, "help": "seconds between one user's calls, open loop (0: none)"}),
    (("--batch",), {"type": int, "help": "calls per deferred request (deferred)"}),
    (("--points",), {"type": int, "help": "points per recordbatch (ingest), values per post (m2x-devices)"}),
    (("--window",), {"type": float, "help": "seconds a broadcast collects responses (exp-network)"}),
    (("--fleet",), {"metavar": "FILE",
                    "help": "take devices from this fleet file (JSON lines: {cik, dataport} for One Platform, "
                            "{key, device, stream} for M2X, {uuid, secret} for EXP)"}),
    (("--make-fleet",), {"type": int, "metavar": "N",
                         "help": "first make N devices in bulk into the --fleet file (for thousands of devices)"}),
    (("--db",), {"help": "database file of the embedded server (default: a temporary one)"}),
)
SETTINGS = ("interval", "batch", "points", "window", "fleet")


def add_options(parser):
    parser.add_argument("scenario", choices=sorted(SCENARIOS), metavar="SCENARIO",
                        help="; ".join(f"{name}: {text}" for name, text in SCENARIOS.items()))
    for flags, keywords in OPTIONS:
        parser.add_argument(*flags, **keywords)


def register(subparsers):
    parser = subparsers.add_parser(
        "loadtest", help="run a preset load test on Locust",
        description=__doc__.splitlines()[0] + " Writes Locust's HTML report and CSV files, and a summary "
                    "(summary.html with plots, summary.json) to --report.")
    add_options(parser)
    parser.set_defaults(func=run)


def _argv(args):
    """args as command-line arguments again."""
    argv = [args.scenario]
    for flags, keywords in OPTIONS:
        value = getattr(args, flags[-1].lstrip("-").replace("-", "_"))
        if value is None or value is False:
            continue
        argv += [flags[-1]] if value is True else [flags[-1], str(value)]
    return argv


def _module_command():
    return [sys.executable, "-m", __name__ if __name__ != "__main__" else "pyonep_fast.cli.loadtest"]


def run(args):
    if "gevent.monkey" not in sys.modules:  # the pyonep-fast command: start over patched
        return subprocess.call([*_module_command(), *_argv(args)])
    from locust.util.timespan import parse_timespan

    from ..loadtest.runner import Run
    from ..loadtest.scenarios import SCENARIOS as USER_CLASSES

    try:
        run_time = float(parse_timespan(args.run_time))
    except ValueError as exc:
        print(f"pyonep-fast loadtest: --run-time: {exc}", file=sys.stderr)
        return 2
    report = args.report or os.path.join(
        "loadtest-reports", f"{args.scenario}-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    settings = {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    if args.fleet:
        settings["fleet"] = os.path.abspath(args.fleet)
    elif args.make_fleet:
        print("pyonep-fast loadtest: --make-fleet needs --fleet FILE", file=sys.stderr)
        return 2
    return Run(USER_CLASSES[args.scenario], args.scenario, url=args.url, users=args.users,
               spawn_rate=args.spawn_rate, run_time=run_time, report_dir=report, processes=args.processes,
               master=args.master, master_bind_host=args.master_bind_host,
               master_bind_port=args.master_bind_port, expect_workers=args.expect_workers,
               worker=args.worker, master_host=args.master_host, master_port=args.master_port,
               settings=settings, db=args.db, make_fleet=args.make_fleet, worker_argv=[*_module_command(), args.scenario]).execute()


def main(argv=None):
    """`python -m pyonep_fast.cli.loadtest SCENARIO [options]`."""
    import pyonep_fast.loadtest  # noqa: F401  Locust (gevent's patching) before anything else

    parser = argparse.ArgumentParser(prog="pyonep-fast loadtest", description=__doc__.splitlines()[0])
    add_options(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
