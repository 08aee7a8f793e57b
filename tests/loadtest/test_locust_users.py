"""Our users under Locust itself: users' locustfiles (the README's too) on
the stock `locust` command, and 200 users of one gevent process in flight at once."""
import json
import re
import textwrap
import threading
from pathlib import Path

import orjson

from scripted_http import ScriptedServer, http_response

LOCUSTFILE = '''
import gevent
from locust import constant, task
from pyonep_fast.loadtest import OnepUser

rounds = 0

class Device(OnepUser):
    wait_time = constant(0.02)

    @task
    def write(self):
        global rounds
        self.client.write(self.device.cik, self.device.dataport, 1.5)
        # a dataport that does not exist: One Platform answers (False, status)
        self.client.write(self.device.cik, "0" * 40, 1.5)
        rounds += 1
        if rounds == 20:  # a bound by work done: Locust's -t counts from a clock the imports left stale
            gevent.spawn(self.environment.runner.quit)  # not from this user's greenlet, which it kills
'''


def test_a_users_locustfile_runs_on_the_stock_locust_command(run_python, server, tmp_path):
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    # --json-file: the final statistics (the CSV files may be up to a second old at exit)
    done = run_python(["-m", "locust", "-f", "locustfile.py", "--headless", "-u", "2", "-r", "10", "-t", "60s",
                       "--host", server.url, "--json-file", "run", "--html", "run.html"], tmp_path)
    assert done.returncode == 1, done.stderr  # Locust's exit code when requests failed
    rows = {(row["method"], row["name"]): row for row in json.loads((tmp_path / "run.json").read_text())}
    write = rows["onep", "write"]
    requests, failures = write["num_requests"], write["num_failures"]
    # every second write fails, no first one does: the refused calls are exactly the failures
    assert requests >= 40 and failures in (requests // 2, (requests + 1) // 2)
    assert write["min_response_time"] > 0
    assert rows["fountain", "GET /api/create"]["num_requests"] == 2
    # Locust's HTML report, written at exit, lists the refusal with its occurrences
    report = (tmp_path / "run.html").read_text()
    [failure] = [json.loads(found) for found in re.findall(r"\{[^{}]*RequestFailed[^{}]*\}", report)]
    assert (failure["method"], failure["name"], failure["occurrences"]) == ("onep", "write", failures)
    assert failure["error"].startswith("RequestFailed(")

SCRIPT = '''
import json, sys, time
from pyonep_fast.loadtest import OnepUser  # Locust first: gevent patches the standard library
import gevent
from locust import constant, task
from locust.env import Environment
from locust.exception import StopUser

class Once(OnepUser):
    wait_time = constant(0)

    @task
    def write(self):
        self.client.write("a" * 40, "b" * 40, 1.0)
        raise StopUser()

users = int(sys.argv[2])
environment = Environment(user_classes=[Once], host=sys.argv[1])
runner = environment.create_local_runner()
runner.start(users, spawn_rate=100000)
deadline = time.monotonic() + 40
while environment.stats.total.num_requests < users and time.monotonic() < deadline:
    gevent.sleep(0.05)
runner.quit()
total = environment.stats.total
print(json.dumps({"requests": total.num_requests, "failures": total.num_failures,
                  "min_ms": total.min_response_time}))
'''


ABANDONED_SCRIPT = '''
import json, socket, sys
from pyonep_fast.loadtest import events  # Locust first: gevent patches the standard library
import gevent
from locust.env import Environment
from pyonep_fast.transport import Transport

environment = Environment()
events.install(environment)
seen = []
environment.events.request.add_listener(lambda name, exception, **_: seen.append([name, exception is not None]))
silent = socket.create_server(("127.0.0.1", 0))    # takes the request, never answers
with Transport(f"http://127.0.0.1:{silent.getsockname()[1]}") as stalled, Transport(sys.argv[1]) as answered:
    pending = gevent.spawn(stalled.request, "GET", "/stalled")
    connection, _ = silent.accept()                  # the request is in flight
    pending.kill()                                    # as Locust stops a user: GreenletExit inside the request
    answered.request("GET", "/answered")
print(json.dumps(seen))
'''


def test_a_request_abandoned_when_a_user_is_stopped_is_not_reported(run_python, tmp_path):
    """Locust kills a user's greenlet mid-request when the run stops: the
    request was neither answered nor failed, and Locust's own clients report
    nothing for it (it once counted as a success with no status)."""
    (tmp_path / "abandoned.py").write_text(ABANDONED_SCRIPT)
    with ScriptedServer(lambda request: http_response(b"ok")) as server:
        done = run_python(["abandoned.py", server.url], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [["GET /answered", False]]


def test_200_users_in_one_process_are_in_flight_at_once(run_python, tmp_path):
    """The server answers no request until all 200 are in: one user blocking
    its process in a call (I/O outside gevent's sockets) would leave the
    others unsent, the barrier broken and every request failed."""
    users = 200
    everyone_in = threading.Barrier(users, timeout=30)

    def respond(request):
        try:
            everyone_in.wait()
        except threading.BrokenBarrierError:
            return http_response(b"not all users were in flight at once", status="503 Service Unavailable")
        calls = orjson.loads(request.body)["calls"]
        return http_response(orjson.dumps([{"id": call["id"], "status": "ok"} for call in calls]))

    (tmp_path / "interleave.py").write_text(textwrap.dedent(SCRIPT))
    with ScriptedServer(respond) as server:
        done = run_python(["interleave.py", server.url, str(users)], tmp_path)
        assert done.returncode == 0, done.stderr
        assert server.connections == users  # a connection per user (greenlet-local keep-alive)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["requests"] == users and result["failures"] == 0, result
    assert result["min_ms"] > 0


M2X_EXP_LOCUSTFILE = '''
import gevent
from locust import constant, task
from pyonep_fast.exceptions import PyonepFastError
from pyonep_fast.loadtest import ExpUser, M2XUser

rounds = {"m2x": 0, "exp": 0}


def count(kind, user):
    rounds[kind] += 1
    if min(rounds.values()) >= 10:  # a bound by work done, as above
        gevent.spawn(user.environment.runner.quit)


class Station(M2XUser):
    wait_time = constant(0.02)

    @task
    def post(self):
        self.stream.post_values([{"timestamp": "2024-01-01T00:00:00.000Z", "value": 1.5}])
        count("m2x", self)


class Screen(ExpUser):
    wait_time = constant(0.02)

    def on_start(self):
        self.channel = self.client.get_channel("lobby")

    @task
    def work(self):
        self.client.get_current_device()
        self.broadcast(self.channel, "hello", {"n": 1}, timeout=0)
        try:
            self.client.get_thing("no-such-thing")  # 404: recorded as a failure, then raised
        except PyonepFastError:
            pass
        count("exp", self)
'''


def test_a_locustfile_with_m2x_and_exp_users_runs_on_the_stock_locust_command(run_python, server, tmp_path):
    (tmp_path / "locustfile.py").write_text(M2X_EXP_LOCUSTFILE)
    done = run_python(["-m", "locust", "-f", "locustfile.py", "--headless", "-u", "2", "-r", "10", "-t", "60s",
                       "--host", server.url, "--json-file", "run"], tmp_path)
    assert done.returncode == 1, done.stderr  # the 404s
    rows = {(row["method"], row["name"]): row for row in json.loads((tmp_path / "run.json").read_text())}
    post = rows["M2X", "POST /v2/devices/{id}/streams/{name}/values"]
    assert post["num_requests"] >= 10 and post["num_failures"] == 0 and post["min_response_time"] > 0
    # the device each user made for itself: an account's device, stream and key; an organization's device
    assert rows["M2X", "POST /v2/keys"]["num_requests"] == 1
    assert rows["EXP", "POST /api/devices"]["num_requests"] == 1
    current = rows["EXP", "GET /api/devices/{uuid}"]
    assert current["num_requests"] >= 10 and current["num_failures"] == 0
    missing = rows["EXP", "GET /api/things/{uuid}"]
    assert missing["num_requests"] >= 10 and missing["num_failures"] == missing["num_requests"]
    broadcast = rows["EXP", "broadcast hello"]
    assert broadcast["num_requests"] >= 10 and broadcast["num_failures"] == 0


def test_the_readmes_locustfile_runs_as_written(run_python, server, tmp_path):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("### Load testing"):readme.index("### Command line")]
    [locustfile] = [block for block in re.findall(r"```python\n(.*?)```", section, re.S)
                    if block.startswith("# locustfile.py")]
    assert "locust -f locustfile.py --headless" in section
    (tmp_path / "locustfile.py").write_text(locustfile)
    done = run_python(["-m", "locust", "-f", "locustfile.py", "--headless", "-u", "3", "-r", "3", "-t", "6s",
                       "--host", server.url, "--json-file", "run"], tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {(row["method"], row["name"]): row for row in json.loads((tmp_path / "run.json").read_text())}
    for key in (("onep", "write"), ("M2X", "POST /v2/devices/{id}/streams/{name}/values"),
                ("EXP", "GET /api/devices/{uuid}"), ("EXP", "broadcast hello")):
        assert rows[key]["num_requests"] >= 1 and rows[key]["num_failures"] == 0, key
