"""The embedded server: every emulated API (app.APIS: One Platform's RPC,
CIK fountain and HTTP Data Interface, Provisioning) on one aiohttp port.

aiohttp because it is asyncio-native (long polls and thousands of idle
keep-alive connections cost a coroutine each, not a thread), parses HTTP
with llhttp in C, honours keep-alive, and python-socketio mounts on the same
aiohttp application for EXP's real-time network later: one process, one
port, one event loop for all four emulated APIs.

    with EmbeddedServer() as server:          # in-process, background thread
        server.url, server.port (the bound one), server.root_cik, server.store (.onep, ...)
    handle = spawn(db="/tmp/x.db")            # a `pyonep-fast serve` subprocess
    handle.url; handle.kill(); handle.wait()
"""
import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Self

from aiohttp import web

from .app import Store, build_app
from .errors import ServerError
from .http import ConnectionCap
from .limits import DEFAULT, Limits
from .storage import default_db_path

log = logging.getLogger(__name__)

__all__ = ["EmbeddedServer", "Limits", "ServerError", "Store", "build_app", "default_db_path", "new_event_loop", "serve", "spawn"]


def new_event_loop():
    """uvloop's event loop where it is installed (about 1.5x the request rate
    of the stdlib loop here), asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def serve(store, host, port, started, stop, limits=DEFAULT, **app_options):
    """Serves store within `limits` until the event `stop` is set; calls
    started(url) once listening."""
    loop = asyncio.get_running_loop()
    store.loop = loop
    app = build_app(store, limits=limits, **app_options)
    # aiohttp's keep-alive timer runs from a connection's start and from each
    # answer until a complete request head: the header timeout (limits.py)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=limits.header_timeout)
    await runner.setup()
    site = _CappedSite(runner, host, port, backlog=1024, cap=ConnectionCap(runner.server, limits.connection_cap()))
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    try:
        started(f"http://{shown}:{bound_port}")
        await stop.wait()
    finally:
        await runner.cleanup()
        store.commit()


class _CappedSite(web.TCPSite):
    """aiohttp's TCPSite whose listening socket admits connections through a
    ConnectionCap (aiohttp has no connection limit of its own)."""

    def __init__(self, runner, host, port, *, cap, **options):
        super().__init__(runner, host, port, **options)
        self._cap = cap

    async def start(self):
        await web.BaseSite.start(self)
        self._server = await asyncio.get_running_loop().create_server(
            self._cap, self._host, self._port, backlog=self._backlog, reuse_address=self._reuse_address,
            reuse_port=self._reuse_port)


class EmbeddedServer:
    """The server in a background thread with its own event loop. Budgets
    come from `limits` (limits.Limits), with max_body, body_timeout,
    header_timeout and max_connections overriding it when given.
    ingest_checkpoints: checkpoint files of bulk ingests (or directories of
    them) whose progress the portal's server-activity page shows."""

    def __init__(self, db: str = ":memory:", host: str = "127.0.0.1", port: int = 0, null: bool = False,
                 root_cik: str | None = None, max_body: int | None = None,
                 requests_per_connection: int | None = None, synchronous: str = "NORMAL",
                 body_timeout: float | None = None, exp_fixtures: bool = True,
                 exp_token_lifetime: float = 3600.0, limits: Limits = DEFAULT,
                 header_timeout: float | None = None, max_connections: int | None = None,
                 ingest_checkpoints: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.db = db
        self.host = host
        self.requested_port = port
        self.root_cik_option = root_cik
        self.synchronous = synchronous
        self.limits = limits.with_options(max_body=max_body, body_timeout=body_timeout,
                                          header_timeout=header_timeout, max_connections=max_connections)
        self.app_options = {"null": null, "limits": self.limits, "requests_per_connection": requests_per_connection,
                            "exp_fixtures": exp_fixtures, "exp_token_lifetime": exp_token_lifetime,
                            "ingest_checkpoints": tuple(ingest_checkpoints)}
        self.store: Store | None = None
        self.url: str | None = None
        self._bound_port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The port it listens on once started (the one the system chose
        for port=0), else the port asked for."""
        return self._bound_port if self._bound_port is not None else self.requested_port

    @property
    def root_cik(self):
        return self.store.onep.root.cik

    @property
    def root_rid(self):
        return self.store.onep.root.rid

    def start(self) -> Self:
        """Starts serving; returns once the port is listening."""
        self.store = Store(self.db, synchronous=self.synchronous)
        if self.root_cik_option:
            self.store.onep.set_root_cik(self.root_cik_option)
            self.store.commit()
        self._thread = threading.Thread(target=self._run, name="pyonep-fast-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def _run(self):
        loop = new_event_loop()
        self._loop = loop
        self._stop = asyncio.Event()

        def started(url):
            self.url = url
            self._bound_port = urllib.parse.urlsplit(url).port
            self._ready.set()
        try:
            loop.run_until_complete(serve(self.store, self.host, self.requested_port, started, self._stop, **self.app_options))
        except BaseException as exc:  # reported to start(); the thread ends here
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    def stop(self) -> None:
        if self._thread is None:
            return
        # start() returned: the thread set up its loop and event, and the store is open
        assert self._loop is not None and self._stop is not None and self.store is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._thread = None
        self.store.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SpawnedServer:
    """A `pyonep-fast serve` child process (see spawn)."""

    def __init__(self, process, info):
        self.process = process
        self.pid = process.pid
        self.url = info["url"]
        self.root_cik = info["root_cik"]
        self.root_rid = info["root_rid"]

    def terminate(self):
        self.process.terminate()

    def kill(self):
        self.process.kill()

    def wait(self, timeout=None):
        return self.process.wait(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def spawn(db=None, host="127.0.0.1", port=0, null=False, root_cik=None, max_body=None, extra_args=(),
          env=None, stderr=None):
    """Starts `pyonep-fast serve` in a subprocess on a free port and returns
    once it is listening (it prints one JSON line: url, root CIK and RID).
    stderr: where its log goes (Popen's stderr; None: this process's)."""
    argv = [sys.executable, "-m", "pyonep_fast.cli.serve", "--host", host, "--port", str(port), "--db", db or default_db_path()]
    if null:
        argv.append("--null")
    if root_cik:
        argv += ["--root-cik", root_cik]
    if max_body:
        argv += ["--max-body", str(max_body)]
    argv += list(extra_args)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr,
                               env=env if env is not None else os.environ.copy())
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise ServerError(f"pyonep-fast serve exited with status {process.returncode} before listening")
    return SpawnedServer(process, json.loads(line))
