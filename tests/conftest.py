import os

from hypothesis import HealthCheck, settings

# CI is never flaky: derandomized and bounded there; broader locally.
settings.register_profile(
    "ci", derandomize=True, max_examples=200, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The areas whose tests reach pyonep_fast._core (the C core or its pure-Python
# twin). The pure-Python backend pass runs only these (`-m reaches_core`):
# browser, socket.io, Locust and CLI tests would only run the same Python twice.
CORE_AREAS = frozenset(("core", "onep", "datastore", "ingest", "server", "m2x"))
TESTS = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(items):
    for item in items:
        area = os.path.relpath(str(item.path), TESTS).split(os.sep)[0]
        if area in CORE_AREAS:
            item.add_marker("reaches_core")


# --- the embedded server, shared by every suite that needs One Platform ---------
import orjson  # noqa: E402
import pytest  # noqa: E402
import urllib3  # noqa: E402

RPC_PATH = "/onep:v1/rpc/process"
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """An EmbeddedServer on a temporary database file, for the whole session."""
    from pyonep_fast.server import EmbeddedServer

    with EmbeddedServer(db=str(tmp_path_factory.mktemp("server") / "server.db")) as running:
        yield running


@pytest.fixture(scope="session")
def http():
    """A urllib3 pool (keep-alive) for talking to the server directly."""
    with urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60)) as pool:
        yield pool


@pytest.fixture
def fresh_client(server, http):
    """A new fountain client: {"cik", "rid", "vendor", "vendortoken"}."""
    response = http.request("GET", server.url + "/api/create?vendor")
    assert response.status == 200
    return orjson.loads(response.data)


@pytest.fixture
def rpc(server, http):
    """rpc(auth, calls) -> decoded response; auth may be a CIK string."""
    def call(auth, calls):
        auth = {"cik": auth} if isinstance(auth, str) else auth
        response = http.request("POST", server.url + RPC_PATH, headers=JSON_HEADERS,
                                body=orjson.dumps({"auth": auth, "calls": calls}))
        assert response.status == 200
        return orjson.loads(response.data) if response.data else None
    return call
