"""A headless Locust run of one user class on Locust's library runners:
local, master (with its own worker processes for `processes`, or workers
that connect from elsewhere), or worker; reports at the end.

Import this module only in a process that may be monkey-patched (it
imports Locust through the package).
"""
import csv
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import gevent
import orjson
from locust import runners as locust_runners
from locust import stats as locust_stats
from locust.env import Environment
from locust.html import get_html_report
from locust.log import setup_logging

from ..exceptions import PyonepFastError
from ..server import spawn
from . import options, summary

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 2.0
WORKER_WAIT = 60.0  # seconds a master waits for its expected workers
# At the end a user finishes the call it is making (the server has it: it is
# counted too), for up to this many seconds; waiting users stop at once.
STOP_TIMEOUT = 10.0
FINAL_REPORT_WAIT = 15.0  # seconds a master waits for its workers' reports after they stopped
# A worker's heartbeat comes from its gevent loop: one starting thousands of
# users on a loaded machine misses Locust's 3 (one a second), and a master
# that finds every worker missing stops the whole run. Ours waits this many.
HEARTBEAT_LIVENESS = 30
TALLY = "pyonep_fast_tally"  # a worker's stats report: the requests it counted, whether its users stopped


class RunError(PyonepFastError):
    """A run that cannot start (no server, no fleet, no workers)."""


def free_port(host="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Run:
    """What one `pyonep-fast loadtest` invocation asks for.

    user_class: the Locust user class; settings: the scenario settings sent
    to every worker (options.get); url None: start an embedded server.
    worker_argv: the command that starts one worker process of this run
    (without --master-host/--master-port), for `processes`.
    """

    def __init__(self, user_class, scenario, *, url=None, users=10, spawn_rate=None, run_time=30.0,
                 report_dir=None, processes=0, master=False, master_bind_host="*",
                 master_bind_port=5557, expect_workers=1, worker=False, master_host="127.0.0.1",
                 master_port=5557, settings=None, db=None, make_fleet=None, worker_argv=None,
                 out=sys.stderr):
        self.user_class = user_class
        self.scenario = scenario
        self.url = url
        self.users = users
        self.spawn_rate = spawn_rate or min(users, 100)
        self.run_time = run_time
        self.report_dir = report_dir
        self.processes = processes
        self.master = master or processes != 0
        self.master_bind_host = "127.0.0.1" if processes and not master else master_bind_host
        self.master_bind_port = master_bind_port
        self.expect_workers = (os.cpu_count() or 1) if processes == -1 else (processes or expect_workers)
        self.worker = worker
        self.master_host = master_host
        self.master_port = master_port
        self.settings = dict(settings or {})
        self.db = db
        self.make_fleet = make_fleet
        self.worker_argv = worker_argv
        self.out = out
        self._received = {}  # worker id -> requests the master has received from it
        self._tallies = {}  # worker id -> its latest TALLY: {"requests": counted so far, "stopped": bool}

    def _print(self, line):
        self.out.write(line + "\n")  # one write: worker processes share the terminal
        self.out.flush()

    def execute(self):
        """Run; returns the exit code (0, 1 when requests failed, 2 when the run could not be made)."""
        setup_logging("WARNING", None)
        # thousands of users ending at once give back more kept connections than
        # a pool keeps: urllib3 warns once for each one it closes
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
        if self.worker:
            return self._run_worker()
        server = None
        workers = []
        scratch = None
        try:
            if self.url is None:
                scratch = tempfile.TemporaryDirectory(prefix="pyonep-fast-loadtest-")
                server = spawn(db=self.db or os.path.join(scratch.name, "server.db"))
                self.url = server.url
                self._print(f"embedded server at {self.url} (pid {server.pid})")
            if self.make_fleet:
                started = time.monotonic()
                self.user_class.make_fleet(self.url, self.make_fleet, self.settings["fleet"])
                self._print(f"made {self.make_fleet} devices into {self.settings['fleet']} "
                            f"in {time.monotonic() - started:.1f} s")
            self.user_class.preflight(self.url, self.settings)
            # a master's stop_timeout is its workers' sleep after a stop, before
            # they answer anything else (quit included): none there
            environment = Environment(user_classes=[self.user_class], host=self.url,
                                      stop_timeout=0.0 if self.master else STOP_TIMEOUT,
                                      parsed_options=options.parsed_options(
                                          self.settings, headless=True,
                                          expect_workers=self.expect_workers if self.master else 1))
            if self.master:
                locust_runners.HEARTBEAT_LIVENESS = max(locust_runners.HEARTBEAT_LIVENESS, HEARTBEAT_LIVENESS)
                if self.processes:
                    self.master_bind_port = free_port()
                runner = environment.create_master_runner(self.master_bind_host, self.master_bind_port)
                environment.events.worker_report.add_listener(self._on_worker_report)
                workers = [self._start_worker() for _ in range(self.expect_workers)] if self.processes else []
                self._await_workers(runner, workers)
            else:
                runner = environment.create_local_runner()
            return self._drive(environment, runner)
        except PyonepFastError as exc:  # RunError, FleetError, ServerError: the run cannot be made
            self._print(f"pyonep-fast loadtest: {exc}")
            return 2
        finally:
            for process in workers:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if server is not None:
                server.terminate()
                server.wait(30)
            if scratch is not None:
                scratch.cleanup()

    def _start_worker(self):
        argv = [*self.worker_argv, "--worker", "--master-host", "127.0.0.1",
                "--master-port", str(self.master_bind_port)]
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL)

    def _await_workers(self, runner, processes):
        deadline = time.monotonic() + WORKER_WAIT
        self._print(f"waiting for {self.expect_workers} worker(s) on port {self.master_bind_port}")
        while len(runner.clients.ready) < self.expect_workers:
            if any(process.poll() is not None for process in processes):
                raise RunError("a worker process exited before the run started")
            if time.monotonic() > deadline:
                raise RunError(f"{len(runner.clients.ready)} of {self.expect_workers} workers "
                               f"connected within {WORKER_WAIT:.0f} s")
            gevent.sleep(0.05)

    def _run_worker(self):
        environment = Environment(user_classes=[self.user_class],
                                  parsed_options=options.parsed_options({}, headless=True))
        tally = {"requests": 0, "failures": 0, "stopped": False}

        def count(exception=None, **_):
            tally["requests"] += 1
            tally["failures"] += exception is not None

        # the worker's own count (its Locust stats are cleared after every report
        # to the master): the master's totals must equal the sum of these lines
        environment.events.request.add_listener(count)
        runner = environment.create_worker_runner(self.master_host, self.master_port)

        def report(data, **_):
            data[TALLY] = {"requests": tally["requests"], "stopped": tally["stopped"]}

        def started(**_):
            tally["stopped"] = False

        def stopped(**_):
            # the final report, at once: Locust's periodic one may come up to 3 s
            # later, by when the master may have stopped listening
            tally["stopped"] = True
            data = {}
            environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
            runner.send_message("stats", data)

        environment.events.report_to_master.add_listener(report)
        environment.events.test_start.add_listener(started)
        environment.events.test_stop.add_listener(stopped)
        runner.greenlet.join()
        self._print(f"worker {runner.worker_index}: {tally['requests']} requests, "
                    f"{tally['failures']} failures")
        return environment.process_exit_code or 0

    def _drive(self, environment, runner):
        report_dir = self.report_dir
        os.makedirs(report_dir, exist_ok=True)
        csv_prefix = os.path.join(report_dir, "locust")
        csv_writer = locust_stats.StatsCSVFileWriter(environment, locust_stats.PERCENTILES_TO_REPORT,
                                                     csv_prefix, full_history=True)
        greenlets = [gevent.spawn(csv_writer.stats_writer), gevent.spawn(locust_stats.stats_history, runner),
                     gevent.spawn(self._progress, environment, runner)]
        self._print(f"{self.scenario}: {self.users} users at {self.spawn_rate}/s for {self.run_time:g} s "
                    f"against {self.url}")
        # SIGTERM ends the run early, with its reports (as Locust's own command does)
        gevent.signal_handler(signal.SIGTERM, gevent.spawn, self._finish, runner)
        # the event loop's clock is the time it last ran (before the imports and
        # preflight, maybe): without this, the run would end that much early.
        # The run time counts from here, ramp-up included (a master's start()
        # returns only once it has dispatched every user).
        gevent.get_hub().loop.update_now()
        stopper = gevent.spawn_later(self.run_time, self._finish, runner)
        runner.start(self.users, spawn_rate=self.spawn_rate)
        runner.greenlet.join()
        stopper.kill(block=False)
        gevent.killall(greenlets, block=True)
        csv_writer.close_files()
        self._write_reports(environment, csv_prefix)
        fleet_error = getattr(environment, "pyonep_fast_fleet_error", None)
        if fleet_error:
            self._print(f"pyonep-fast loadtest: {fleet_error}")
            return 2
        if environment.process_exit_code is not None:
            return environment.process_exit_code
        return 1 if environment.stats.total.num_failures else 0

    def _finish(self, runner):
        # local: users finish the call they are in (STOP_TIMEOUT); a master
        # waits here until every worker has stopped its users
        runner.stop()
        if self.master:
            self._await_final_reports(runner)
        runner.quit()

    def _await_final_reports(self, runner):
        """Wait (FINAL_REPORT_WAIT at most) until every worker that took part
        has reported that its users stopped and the master has received every
        request it counted, then until it is connected again (it answers
        quit only then). Locust alone would lose requests here: a worker is
        dropped from runner.clients when it says it stopped, and quit() waits
        only 0.5 s for the last reports."""
        deadline = time.monotonic() + FINAL_REPORT_WAIT

        def final(worker):
            tally = self._tallies.get(worker)
            return tally is not None and tally["stopped"] and tally["requests"] == self._received[worker]

        while not (all(map(final, self._received)) and set(self._received) <= set(runner.clients)):
            if time.monotonic() > deadline:
                missing = sum((self._tallies.get(worker) or {"requests": 0})["requests"] - received
                              for worker, received in self._received.items())
                self._print(f"pyonep-fast loadtest: not every worker sent its final report; the totals miss "
                            f"{missing} of their requests")
                return
            gevent.sleep(0.05)

    def _on_worker_report(self, client_id, data):
        self._received[client_id] = self._received.get(client_id, 0) + data["stats_total"]["num_requests"]
        if TALLY in data:
            self._tallies[client_id] = data[TALLY]

    def _progress(self, environment, runner):
        started = time.monotonic()
        while True:
            gevent.sleep(PROGRESS_INTERVAL)
            total = environment.stats.total
            p50 = total.get_current_response_time_percentile(0.5) or 0
            p99 = total.get_current_response_time_percentile(0.99) or 0
            self._print(f"{time.monotonic() - started:6.0f} s  users {runner.user_count:6d}  "
                        f"req/s {total.current_rps:9.1f}  requests {total.num_requests:9d}  "
                        f"failures {total.num_failures:6d}  p50 {p50} ms  p99 {p99} ms")

    def _write_reports(self, environment, csv_prefix):
        """Locust's CSV files (rewritten with the final numbers) and HTML
        report, then ours (summary.json, summary.html); the tables on the terminal."""
        final = locust_stats.StatsCSV(environment, locust_stats.PERCENTILES_TO_REPORT)
        for suffix, write in (("_stats.csv", final.requests_csv), ("_failures.csv", final.failures_csv),
                              ("_exceptions.csv", final.exceptions_csv)):
            with open(csv_prefix + suffix, "w", newline="") as file:
                write(csv.writer(file))
        with open(os.path.join(self.report_dir, "locust.html"), "w", encoding="utf-8") as file:
            file.write(get_html_report(environment, show_download_link=False))
        settings = {"users": self.users, "spawn_rate": self.spawn_rate, "run_time_s": self.run_time,
                    "workers": self.expect_workers if self.master else 0, **self.settings}
        result = summary.build(environment, self.scenario, settings)
        with open(os.path.join(self.report_dir, "summary.json"), "wb") as file:
            file.write(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        with open(os.path.join(self.report_dir, "summary.html"), "w", encoding="utf-8") as file:
            file.write(summary.render_html(result))
        locust_stats.print_stats(environment.stats, current=False)
        locust_stats.print_percentile_stats(environment.stats)
        locust_stats.print_error_report(environment.stats)
        self._print(f"reports in {self.report_dir}: locust.html, locust_*.csv, summary.html, summary.json")
