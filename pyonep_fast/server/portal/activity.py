"""Server activity: requests per second and latency percentiles per API,
measured by one aiohttp middleware around every request of the app.

A request belongs to the API whose package under pyonep_fast.server made
its handler (as the composition test reads it); requests no route matched
count as "unrouted". The portal's own requests are not counted, and neither
are event streams or websockets (their "latency" is how long they stayed
open). Counts are kept per second for HISTORY seconds; latencies for the
last WINDOW seconds, from which the percentiles are taken.
"""
import time
from collections import deque

import numpy as np
from aiohttp import web

SERVER_PACKAGE = "pyonep_fast.server."
HISTORY = 60          # seconds of request counts kept
WINDOW = 10           # seconds of latencies the percentiles cover
PERCENTILES = (50, 90, 99)
UNROUTED = "unrouted"
NOT_COUNTED = "portal"


class Meter:
    """One API's per-second counts and recent latencies."""

    __slots__ = ("seconds", "total")

    def __init__(self):
        self.seconds = deque(maxlen=HISTORY)   # [second, count, [latency seconds] or None]
        self.total = 0

    def record(self, second, latency):
        if not self.seconds or self.seconds[-1][0] != second:
            self.seconds.append([second, 0, []])
            if len(self.seconds) > WINDOW:
                self.seconds[-WINDOW - 1][2] = None    # out of the window: its latencies are not needed
        bucket = self.seconds[-1]
        bucket[1] += 1
        bucket[2].append(latency)
        self.total += 1

    def snapshot(self, now):
        """{"rate" (requests in the last whole second), "history" ([count] of
        the HISTORY seconds before now, oldest first), "total", "p50"/"p90"/
        "p99" (ms, over the last WINDOW seconds, None without requests)}."""
        counts = {second: count for second, count, _ in self.seconds}
        history = [counts.get(second, 0) for second in range(now - HISTORY, now)]
        latencies = [value for second, _, values in self.seconds if values is not None and second > now - WINDOW
                     for value in values]
        found = dict.fromkeys((f"p{p}" for p in PERCENTILES), None)
        if latencies:
            found = {f"p{p}": float(v) * 1000 for p, v in zip(PERCENTILES, np.percentile(latencies, PERCENTILES))}
        return {"rate": history[-1], "history": history, "total": self.total, **found}


class Activity:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.meters = {}
        self._api_of = {}    # handler -> API name (one lookup per handler)

    def api_of(self, request):
        handler = request.match_info.route.handler
        api = self._api_of.get(handler)
        if api is None:
            module = getattr(handler, "__module__", "") or ""
            api = module[len(SERVER_PACKAGE):].split(".")[0] if module.startswith(SERVER_PACKAGE) else UNROUTED
            self._api_of[handler] = api
        return api

    def record(self, api, latency):
        meter = self.meters.get(api)
        if meter is None:
            meter = self.meters[api] = Meter()
        meter.record(int(self.clock()), latency)

    def snapshot(self):
        now = int(self.clock())
        return {"seconds": HISTORY, "window": WINDOW,
                "apis": {api: meter.snapshot(now) for api, meter in sorted(self.meters.items())}}

    def middleware(self):
        @web.middleware
        async def measure(request, handler):
            api = self.api_of(request)
            if api == NOT_COUNTED or request.headers.get("Upgrade"):   # a websocket is open as long as it likes
                return await handler(request)
            started = time.perf_counter()
            response = None
            try:
                response = await handler(request)
                return response
            finally:
                if response is None or response.content_type != "text/event-stream":
                    self.record(api, time.perf_counter() - started)
        return measure
