"""Typed application keys: the lab server's shared state, no module globals."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from typing import Any, Awaitable, Callable, Coroutine

from aiohttp import web

from transport.server.config import ServerConfig
from transport.server.faultproxy import Proxy
from transport.server.feed import Feed, Ticker
from transport.server.sessions import SessionStore
from transport.server.state import Hold, ValueStore

# What a middleware calls next.
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONFIG = web.AppKey("config", ServerConfig)
FEED = web.AppKey("feed", Feed)
SOCKETIO: web.AppKey[Any] = web.AppKey("socketio")  # the python-socketio server at /socket.io/
BACKPLANE: web.AppKey[Any] = web.AppKey("backplane")  # cluster mode: the feed on Redis (backplane.py)
SOCKETIO_CLIENTS: web.AppKey[dict] = web.AppKey("socketio_clients")  # connected Socket.IO clients (sid → pump)
SOCKETIO_REQUESTS: web.AppKey[dict[int, web.Request]] = web.AppKey("socketio_requests")  # Engine.IO requests running now
WEBSOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("websockets")  # each removes itself
# Open SSE responses, so a fault or shutdown can end them.
STREAMS: web.AppKey[set[Any]] = web.AppKey("streams")  # each removes itself when it ends
# Held long polls and open NDJSON streams (polling.Hold), so a fault or shutdown can end them.
HOLDS: web.AppKey[set[Hold]] = web.AppKey("holds")
# The value that AJAX and the postback form read and write, per session id ("" is anonymous).
VALUES: web.AppKey[dict[str, ValueStore]] = web.AppKey("values")
# The session store and, per session id, how to end its open connections.
SESSIONS = web.AppKey("sessions", SessionStore)
# The fault proxies by name.
PROXIES: web.AppKey[dict[str, Proxy]] = web.AppKey("proxies")
BOUND: web.AppKey[dict[str, Any]] = web.AppKey("bound")
# The Last-Event-ID header of recent /sse requests (None: none sent), newest last.
SSE_RESUMES: web.AppKey[deque[str | None]] = web.AppKey("sse_resumes")
# Background tasks started by requests (e.g. a restart); a set keeps them
# referenced so they are not garbage-collected mid-flight.
TASKS: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("tasks")
# Set by the runner that owns the listening socket: take the server down for
# N seconds and bring it back on the same port.
GO_DOWN: web.AppKey[Callable[[float], Coroutine[Any, Any, None]]] = web.AppKey("go_down")
# Requests since start by endpoint family (stats.family), and the runner's count of open TCP connections.
REQUESTS: web.AppKey[Counter[str]] = web.AppKey("requests")
CONNECTIONS: web.AppKey[Callable[[], int]] = web.AppKey("connections")
# The demo publisher: its rate can change while the lab runs.
TICKER = web.AppKey("ticker", Ticker)


def lab_app(request: web.Request) -> web.Application:
    """The lab's application, also from a route of its admin sub-application (where ``request.app`` is the
    sub-application): the first application of the request's chain."""
    return request.match_info.apps[0]
