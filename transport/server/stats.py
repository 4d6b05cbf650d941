"""``GET /_admin/stats``: the lab process's own view (token-protected by admin_guard).

What a storm looks like from the server: open connections per transport,
requests per endpoint family since start (a client takes differences for
rates), the feed's position, and the process's CPU time and resident memory.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections import Counter
from typing import Awaitable

from aiohttp import web

from transport.server.keys import (BACKPLANE, CONFIG, CONNECTIONS, FEED, HOLDS, PROXIES, REQUESTS, SESSIONS, SOCKETIO_CLIENTS, STREAMS, TICKER,
                   WEBSOCKETS, Handler, lab_app)

FAMILIES = (("/ws", "websocket"), ("/sse", "sse"), ("/api/poll", "short_poll"), ("/api/longpoll", "long_poll"),
            ("/api/stream", "stream"), ("/socket.io/", "socketio"), ("/api/", "ajax"), ("/form", "ajax"), ("/session/", "session"),
            ("/_admin/", "admin"))
STARTED = time.monotonic()


def family(path: str) -> str:
    for prefix, name in FAMILIES:
        if path.startswith(prefix):
            return name
    return "other"


@web.middleware
def count_requests(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """(Pass-through: passthrough.py.)"""
    request.config_dict[REQUESTS][family(request.path)] += 1
    return handler(request)


def requests_by_family(app: web.Application) -> dict[str, int]:
    counts = app[REQUESTS]
    return dict(counts)


def rss_bytes() -> int:
    """Resident memory now (Linux /proc), else the peak the OS reports."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def feed_rate(app: web.Application) -> float:
    """The feed's rate: in a cluster the one on Redis (every worker reads it, whichever publishes; a worker
    started again after a kill was given none of its own), else the ticker's."""
    backplane, ticker = app.get(BACKPLANE), app.get(TICKER)
    rate = backplane.rate if backplane is not None else ticker.rate if ticker is not None else app[CONFIG].rate
    return float(rate)


def snapshot(app: web.Application) -> dict:
    feed = app[FEED]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    holds = Counter(getattr(h, "kind", "long_poll") for h in app[HOLDS])
    connections = app.get(CONNECTIONS)
    return {
        "pid": os.getpid(),
        "uptime_s": round(time.monotonic() - STARTED, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
        "rss_bytes": rss_bytes(),
        "feed": {"last_seq": feed.last_seq, "published": feed.published, "handed": feed.handed,
                 "history": len(feed),
                 "first_available": feed.first_available(), "subscribers": feed.subscribers,
                 "loaded": feed.loaded, "history_file": app[CONFIG].history_file,
                 "history_file_error": feed.journal.error if feed.journal is not None else None,
                 "rate": feed_rate(app)},
        "open": {"websocket": len(app[WEBSOCKETS]), "sse": sum(1 for r in app[STREAMS] if r.is_connected()),
                 "stream": holds["stream"], "long_poll": holds["long_poll"],
                 "socketio": len(app[SOCKETIO_CLIENTS]) if SOCKETIO_CLIENTS in app else 0,
                 "tcp": connections() if connections is not None else None},
        "requests": requests_by_family(app),
        "sessions": len(app[SESSIONS]),
        "proxies": len(app[PROXIES]),
    }


async def stats_handler(request: web.Request) -> web.Response:
    """``GET /_admin/stats`` (a route of the admin sub-application: the lab is the first app of the chain)."""
    app = lab_app(request)
    seen = snapshot(app)
    backplane = app.get(BACKPLANE)
    if backplane is not None:  # cluster mode: which worker this is, and Redis's own figures
        seen["worker"] = app[CONFIG].worker_id
        seen["cluster"] = await backplane.figures()
    return web.json_response(seen)
