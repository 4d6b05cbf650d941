"""Typed application keys: the lab server's shared state, no module globals."""

from __future__ import annotations

import weakref
from collections import Counter, deque
from typing import Awaitable, Callable

from aiohttp import web

from .config import ServerConfig
from .feed import Feed

CONFIG = web.AppKey("config", ServerConfig)
FEED = web.AppKey("feed", Feed)
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet)
# Open SSE responses, so a fault or shutdown can end them.
STREAMS = web.AppKey("streams", weakref.WeakSet)
# Held long polls and open NDJSON streams (polling.Hold), so a fault or shutdown can end them.
HOLDS = web.AppKey("holds", set)
# The value that AJAX and the postback form read and write (ajax.ValueStore).
VALUES = web.AppKey("values", dict)
# The session store (sessions.SessionStore) and, per session id, how to end its open connections.
SESSIONS = web.AppKey("sessions", object)
# The fault proxies by name (faultproxy.Proxy).
PROXIES = web.AppKey("proxies", dict)
BOUND = web.AppKey("bound", dict)
# The Last-Event-ID header of recent /sse requests (None: none sent), newest last.
SSE_RESUMES = web.AppKey("sse_resumes", deque)
# Background tasks started by requests (e.g. a restart); a set keeps them
# referenced so they are not garbage-collected mid-flight.
TASKS = web.AppKey("tasks", set)
# Set by the runner that owns the listening socket: take the server down for
# N seconds and bring it back on the same port.
GO_DOWN = web.AppKey("go_down", Callable[[float], Awaitable[None]])
# Requests since start by endpoint family (stats.family), and the runner's count of open TCP connections.
REQUESTS = web.AppKey("requests", Counter)
CONNECTIONS = web.AppKey("connections", Callable[[], int])
# The demo publisher (feed.Ticker): its rate can change while the lab runs.
TICKER = web.AppKey("ticker", object)
