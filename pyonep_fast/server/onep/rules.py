"""Rules that run (spec 2.2, 2.3, 8.17): timer datarules and dispatch delivery.

Timer datarules (`timeout`, `interval`, `duration`, `count`) keep their
state in table `rule_timers`, changed inside the transaction of the input
that changed it, and their timers run on the server's event loop. A timer
that fires reads the stored state again and acts only if its deadline is
still the stored one and has come, so a rolled-back input or a restart
never leaves a timer acting on state that is gone; at start every timer is
re-armed from the stored state (one whose deadline passed while the server
was down fires at once). Outputs are 0/1 points of the datarule, stored like
any other point: they wake `wait` and feed subscribers.

Dispatches: every delivery is a row of table `outbox` (method, recipient,
subject, message, status). `email`, `sms` and `xmpp` are delivered into the
outbox itself; `http_get/post/put` rows start `pending` and are sent by
aiohttp's client once the row is committed (so a rolled-back call sends
nothing, and pending rows left by a stopped server are sent at the next
start). Each attempt's status string becomes a point of the dispatch at the
input's timestamp: `delivered`, `failed: ...`, or `undelivered` when the
dispatch is locked.

Lua `script` datarules are stored, not run (info says so in basic.status).
"""
import asyncio
import json
import logging
import time

import aiohttp

from ..._core.entries import convert_value
from ..storage.timeseries import Columns
from .points import compare, emitted, store_columns

log = logging.getLogger(__name__)

TIMER_RULES = ("timeout", "interval", "duration", "count")
OUTBOX_METHODS = ("email", "sms", "xmpp")
HTTP_METHODS = {"http_get": "GET", "http_post": "POST", "http_put": "PUT"}
HTTP_TIMEOUT = 10          # seconds for one http dispatch attempt
PENDING = "pending"
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
SCRIPT_STATUS = "error"
SCRIPT_ACTIVITY = "not run: Lua script rules are stored only by this server"

SCHEMA = """
CREATE TABLE IF NOT EXISTS rule_timers (rid TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, rid TEXT NOT NULL, method TEXT NOT NULL, recipient TEXT NOT NULL,
    subject TEXT NOT NULL, message TEXT NOT NULL, t INTEGER NOT NULL, status TEXT NOT NULL);
"""


def timer_rule(res):
    """(kind, fields) of res's timer rule, or None."""
    rule = res.desc.get("rule") if res.type == "datarule" else None
    for kind in TIMER_RULES:
        if rule and kind in rule:
            return kind, rule[kind]
    return None


def is_script(res):
    return res.type == "datarule" and "script" in (res.desc.get("rule") or {})


def _due(now, timeout):
    """When a timer started now comes due; None for a timeout of 0 or less,
    which arms nothing (it would fire at once, again and again)."""
    return now + timeout if timeout > 0 else None


def _initial(kind, fields, at):
    """A timer rule's state at its start (creation, rule change, clone)."""
    if kind == "timeout":
        return {"due": _due(at, fields["timeout"])}
    if kind == "duration":
        return {"due": None, "fired": False}
    if kind == "count":
        return {"due": None, "hits": []}
    return {"due": None}


def _on_input(kind, fields, state, value, now):
    """(output or None, new state) for one input arriving at `now`."""
    timeout = fields["timeout"]
    if kind == "timeout":
        return 0, {"due": _due(now, timeout)}
    if isinstance(value, str):
        return None, state          # comparisons have no meaning on strings
    holds = compare(fields["comparison"], value, fields["constant"])
    if kind == "interval":          # while true, the timer re-emits true every timeout
        return holds, {"due": _due(now, timeout) if holds and fields["repeat"] else None}
    if kind == "duration":          # true once it held for timeout; false at once
        if not holds:
            return 0, {"due": None, "fired": False}
        if state.get("fired"):
            return 1, state
        if state.get("due") is not None:
            return None, state
        if timeout <= 0:            # held for long enough at once
            return 1, {"due": None, "fired": True}
        return None, {"due": now + timeout, "fired": False}
    hits = [t for t in state.get("hits", ()) if t > now - timeout] + ([now] if holds else [])
    return int(len(hits) >= fields["count"]), {"due": hits[0] + timeout if hits else None, "hits": hits}


def _on_expiry(kind, fields, state, now):
    """(output or None, new state) when the timer of `state` comes due."""
    timeout = fields["timeout"]
    if kind == "timeout":
        return 1, {"due": _due(now, timeout) if fields["repeat"] else None}
    if kind == "interval":
        return 1, {"due": _due(now, timeout)}
    if kind == "duration":
        return 1, {"due": None, "fired": True}
    hits = [t for t in state["hits"] if t > now - timeout]
    return int(len(hits) >= fields["count"]), {"due": hits[0] + timeout if hits else None, "hits": hits}


def dispatch_message(res, value):
    """The text a dispatch sends for value: its message with [[value]] and
    [[subscribe.cid]] substituted, or the value itself when it has none."""
    text = value if isinstance(value, str) else json.dumps(value)
    message = res.desc.get("message") or ""
    if not message:
        return text
    return message.replace("[[value]]", text).replace("[[subscribe.cid]]", res.desc.get("subscribe") or "")


class Rules:
    """The running side of datarules and dispatches of one OnepState."""

    def __init__(self, state):
        self.state = state
        self.db = state.db
        self.handles = {}           # rid -> asyncio.TimerHandle
        self.tasks = set()          # http deliveries in flight
        self.sending = set()        # outbox ids in flight
        self.session = None         # aiohttp.ClientSession, made on first use
        self.running = False

    @property
    def loop(self):
        return self.state.storage.loop

    # --- lifecycle (the server's event loop) -------------------------------------
    async def start(self):
        """Re-arms every timer from stored state; sends pending dispatches."""
        self.running = True
        with self.state.lock:
            rids = [rid for rid, in self.db.execute("SELECT rid FROM rule_timers")]
        for rid in rids:
            self._arm(rid)
        self._send_pending(None)

    async def stop(self):
        self.running = False
        for handle in self.handles.values():
            handle.cancel()
        self.handles.clear()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
            self.session = None

    def _in_loop(self, callback, *args):
        """Runs callback in the loop thread (now if this is it); nothing
        before the server runs: start() takes up what is stored."""
        loop = self.loop
        if loop is None or not self.running or loop.is_closed():
            return
        try:
            here = asyncio.get_running_loop() is loop
        except RuntimeError:
            here = False
        if here:
            callback(*args)
        else:
            loop.call_soon_threadsafe(callback, *args)

    # --- timer datarules ------------------------------------------------------------
    def _load(self, rid):
        row = self.db.execute("SELECT state FROM rule_timers WHERE rid = ?", (rid,)).fetchone()
        return json.loads(row[0]) if row else None

    def _save(self, rid, state):
        self.state.touch()
        self.db.execute("INSERT OR REPLACE INTO rule_timers (rid, state) VALUES (?, ?)", (rid, json.dumps(state)))
        self._in_loop(self._arm, rid)

    def begin(self, res, at=None):
        """(Re)starts res's timer rule from scratch (creation, clone, rule change)."""
        rule = timer_rule(res)
        if rule is None:
            self.forget([res.rid])
            return
        self._save(res.rid, _initial(*rule, time.time() if at is None else at))

    def forget(self, rids):
        """Inside the transaction that drops them (or changes their rule):
        no timer, and no delivery still pending for a dropped dispatch."""
        self.state.touch()
        self.db.executemany("DELETE FROM rule_timers WHERE rid = ?", [(rid,) for rid in rids])
        self.db.executemany("UPDATE outbox SET status = 'dropped' WHERE rid = ? AND status = ?",
                            [(rid, PENDING) for rid in rids])
        for rid in rids:
            self._in_loop(self._disarm, rid)

    def inputs(self, res, pairs):
        """The outputs (t, 0/1) of timer datarule res for input pairs, which
        arrive now; its state changes with them (in the caller's transaction)."""
        kind, fields = timer_rule(res)
        state = self._load(res.rid) or _initial(kind, fields, time.time())
        now = time.time()
        outputs = []
        for t, value in pairs:
            output, state = _on_input(kind, fields, state, value, now)
            if output is not None:
                outputs.append((t, output))
        self._save(res.rid, state)
        return emitted(res, outputs, fields["repeat"])

    def _disarm(self, rid):
        handle = self.handles.pop(rid, None)
        if handle is not None:
            handle.cancel()

    def _arm(self, rid):
        """Loop thread: a timer for rid's stored deadline (replacing any)."""
        self._disarm(rid)
        with self.state.lock:
            state = self._load(rid)
        if state is None or state.get("due") is None:
            return
        delay = max(0.0, state["due"] - time.time())
        self.handles[rid] = self.loop.call_later(delay, self._fire, rid, state["due"])

    def _fire(self, rid, due):
        self.handles.pop(rid, None)
        store = self.state
        with store.lock:
            state = self._load(rid)
            res = store.get(rid)
            if state is None or res is None or timer_rule(res) is None:
                return
            if state.get("due") != due:     # changed since (or rolled back): follow the stored one
                self._arm(rid)
                return
            now = time.time()
            if due > now:
                self._arm(rid)
                return
            kind, fields = timer_rule(res)
            try:
                with store.atomic():
                    output, state = _on_expiry(kind, fields, state, now)
                    self._save(rid, state)
                    outputs = emitted(res, [(int(now), convert_value(res.series.kind, output))], fields["repeat"])
                    if outputs:
                        at = int(now)
                        store_columns(store, res, Columns.from_pairs(res.series.kind, outputs), at)
            except Exception:
                log.exception("timer of datarule %s failed", rid)
                return
        store.storage.when_durable(lambda error: None)   # schedules the group commit

    # --- dispatches ---------------------------------------------------------------------
    def dispatch(self, res, pairs):
        """Status points (t, status) stored now for dispatch res's inputs;
        http deliveries are queued and store theirs when they finish."""
        desc = res.desc
        statuses = []
        queued = False
        for t, value in pairs:
            if desc["locked"]:
                statuses.append((t, UNDELIVERED))
                continue
            status = DELIVERED if desc["method"] in OUTBOX_METHODS else PENDING
            self.state.touch()
            self.db.execute("INSERT INTO outbox (rid, method, recipient, subject, message, t, status) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (res.rid, desc["method"], desc["recipient"], desc.get("subject") or "",
                             dispatch_message(res, value), t, status))
            if status == PENDING:
                queued = True
            else:
                statuses.append((t, status))
        if queued:
            self._in_loop(self._after_commit)
        return statuses

    def outbox(self, rid=None):
        """Deliveries, oldest first: dicts of rid, method, recipient, subject,
        message, t, status (of one dispatch, or all)."""
        query = "SELECT rid, method, recipient, subject, message, t, status FROM outbox"
        with self.state.lock:
            rows = self.db.execute(query + (" WHERE rid = ? ORDER BY id" if rid else " ORDER BY id"),
                                   (rid,) if rid else ()).fetchall()
        keys = ("rid", "method", "recipient", "subject", "message", "t", "status")
        return [dict(zip(keys, row)) for row in rows]

    def _after_commit(self):
        self.state.storage.when_durable(self._send_pending)

    def _send_pending(self, error):
        if error is not None or not self.running:
            return
        with self.state.lock:
            rows = self.db.execute("SELECT id, rid, method, recipient, message, t FROM outbox "
                                   "WHERE status = ? ORDER BY id", (PENDING,)).fetchall()
        for row in rows:
            if row[0] not in self.sending:
                self.sending.add(row[0])
                task = self.loop.create_task(self._send(*row))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _send(self, row_id, rid, method, recipient, message, t):
        try:
            status = await self._http(HTTP_METHODS[method], recipient, message)
            store = self.state
            with store.lock, store.atomic():
                store.touch()
                self.db.execute("UPDATE outbox SET status = ? WHERE id = ?", (status, row_id))
                res = store.get(rid)
                if res is not None:
                    store_columns(store, res, Columns.from_pairs(res.series.kind, [(t, status)]), int(time.time()))
            await store.durable()
        finally:
            self.sending.discard(row_id)

    async def _http(self, method, url, message):
        """One attempt's status string."""
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT))
        body = None if method == "GET" else message.encode("utf-8")
        headers = None if body is None else {"Content-Type": "text/plain; charset=utf-8"}
        try:
            async with self.session.request(method, url, data=body, headers=headers) as response:
                await response.read()
                return DELIVERED if 200 <= response.status < 300 else f"failed: HTTP {response.status}"
        except asyncio.TimeoutError:
            return "failed: timeout"
        except (aiohttp.ClientError, ValueError) as exc:
            return f"failed: {type(exc).__name__}: {exc}"
