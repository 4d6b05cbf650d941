"""``POST /_admin/faults``: the lab's control endpoint (token-protected).

Body: ``{"action": ...}`` with one of
- ``restart`` ``{"down_s": S}``: stop listening for S seconds, back on the same port;
- ``close_websockets`` ``{"code": C, "reason": R}``: close every WebSocket;
- ``end_streams``: end every SSE stream (clients reconnect with Last-Event-ID);
- ``expire_sessions``: every session expires now (its connections end);
- ``session_settings`` ``{"renew": "user"|"all", "idle": S, "absolute": S}``: change the
  renewal policy and timeouts of the running server (each field optional);
- ``evict_history``: forget history, so resume points become unknown (gap);
- ``rate`` ``{"rate": R}``: the ticker publishes R messages per second from now on (0: stops);
- ``burst`` ``{"count": N, "topic": T}``: publish N messages at once (benchmarks).
Requests need ``Authorization: Bearer <admin_token>``; any request carrying a
foreign ``Origin`` is refused, so a web page cannot reach it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web

from transport.server.bodies import read_json
from transport.server.keys import BACKPLANE, CONFIG, FEED, GO_DOWN, SESSIONS, TASKS, TICKER, WEBSOCKETS
from transport.server.origin import origin_allowed
from transport.server.session_http import expire_all
from transport.server.sse import end_streams

log = logging.getLogger("duplex.server.admin")

MAX_DOWN_S = 3600.0
MAX_BURST = 1_000_000
MAX_RATE = 100_000


def _authorised(request: web.Request) -> bool:
    token = request.app[CONFIG].admin_token
    auth = request.headers.get("Authorization", "")
    scheme, _, given = auth.partition(" ")
    # header bytes that are not UTF-8 arrive as surrogates: compared as bytes, they simply do not match
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"),
                                                              token.encode())


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


async def faults_handler(request: web.Request) -> web.Response:
    if not origin_allowed(request):
        return _error(403, "cross-origin requests are not allowed")
    if not _authorised(request):
        return _error(401, "missing or wrong admin token")
    body = await read_json(request)
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object")
    action = body.get("action")
    app = request.app
    if action == "restart":
        down_s = body.get("down_s", 2)
        if not isinstance(down_s, (int, float)) or not 0 <= down_s <= MAX_DOWN_S:
            return _error(400, f"down_s must be a number from 0 to {MAX_DOWN_S:g}")
        go_down = app.get(GO_DOWN)
        if go_down is None:
            return _error(501, "restart needs the lab runner (python -m transport.server)")
        # answer first, then go down: the caller must see the acknowledgement
        resp = web.json_response({"ok": True, "action": "restart", "down_s": down_s},
                                 headers={"Connection": "close"})
        await resp.prepare(request)
        await resp.write_eof()
        log.info("restart requested: down for %.1f s", down_s)
        request.app[TASKS].add(asyncio.create_task(go_down(float(down_s))))
        return resp
    if action in ("close_websockets", "close_ws"):  # close_ws: the name the fault-lab issue uses
        code = body.get("code", 1001)
        reason = str(body.get("reason", ""))[:120]
        if not isinstance(code, int) or not (code in (1000, 1001, 1008, 1011, 1012, 1013) or 3000 <= code <= 4999):
            return _error(400, "code must be 1000, 1001, 1008, 1011, 1012, 1013 or 3000–4999")
        n = await close_websockets(app, code, reason)
        return web.json_response({"ok": True, "action": action, "closed": n})
    if action == "end_streams":
        return web.json_response({"ok": True, "action": action, "ended": end_streams(app)})
    if action == "session_settings":
        store = app[SESSIONS]
        renew, idle, absolute = body.get("renew"), body.get("idle"), body.get("absolute")
        if renew is not None and renew not in ("user", "all"):
            return _error(400, 'renew must be "user" or "all"')
        for name, value in (("idle", idle), ("absolute", absolute)):
            if value is not None and (not isinstance(value, (int, float)) or not 0 < value <= 86_400):
                return _error(400, f"{name} must be a number of seconds from 1 to 86400")
        if renew is not None:
            store.renew_background = renew == "all"
        if idle is not None:
            store.idle = float(idle)
        if absolute is not None:
            store.absolute = float(absolute)
        return web.json_response({"ok": True, "action": action, "renew": "all" if store.renew_background else "user",
                                  "idle": store.idle, "absolute": store.absolute})
    if action == "expire_sessions":
        return web.json_response({"ok": True, "action": action, "expired": expire_all(app)})
    backplane = app.get(BACKPLANE)
    if backplane is not None:  # cluster mode: the feed's actions act on the stream, the workers' on the cluster
        answer = await cluster_action(backplane, action, body)
        if answer is not None:
            return answer
    if action in CLUSTER_ACTIONS:
        return _error(409, "this lab is one process: start it as a cluster (--cluster N, or the Server tab)")
    if action == "evict_history":
        n = app[FEED].evict()
        return web.json_response({"ok": True, "action": action, "evicted": n})
    if action == "rate":
        rate = body.get("rate")
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= MAX_RATE:
            return _error(400, f"rate must be a number of messages per second from 0 to {MAX_RATE:,}")
        ticker = app.get(TICKER)
        if ticker is None:
            return _error(501, "the ticker is not running")
        previous = ticker.set_rate(float(rate))
        return web.json_response({"ok": True, "action": action, "rate": float(rate), "previous": previous})
    if action == "burst":
        count = body.get("count", 1000)
        if not isinstance(count, int) or not 0 < count <= MAX_BURST:
            return _error(400, f"count must be an integer from 1 to {MAX_BURST}")
        topic = str(body.get("topic", "burst"))
        feed = app[FEED]
        first = feed.last_seq + 1
        for start in range(0, count, 1000):  # published in thousands: a write per client for each
            feed.publish_many([(topic, i) for i in range(start, min(count, start + 1000))])
        return web.json_response({"ok": True, "action": action, "first": first, "last": feed.last_seq})
    return _error(400, f"unknown action {json.dumps(action)}")


CLUSTER_ACTIONS = ("kill_worker", "restart_worker", "balance")


async def cluster_action(backplane: Any, action: Any, body: dict) -> web.Response | None:
    """The actions that mean something else with several workers; None: the single-process answer holds."""
    if action == "evict_history":
        return web.json_response({"ok": True, "action": action, "evicted": await backplane.evict()})
    if action == "rate":
        rate = body.get("rate")
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= MAX_RATE:
            return _error(400, f"rate must be a number of messages per second from 0 to {MAX_RATE:,}")
        previous = await backplane.set_rate(float(rate))
        return web.json_response({"ok": True, "action": action, "rate": float(rate), "previous": previous})
    if action == "burst":
        count = body.get("count", 1000)
        if not isinstance(count, int) or not 0 < count <= MAX_BURST:
            return _error(400, f"count must be an integer from 1 to {MAX_BURST}")
        msgs = await backplane.publish_many([(str(body.get("topic", "burst")), i) for i in range(count)])
        return web.json_response({"ok": True, "action": action, "first": msgs[0].seq, "last": msgs[-1].seq})
    if action in CLUSTER_ACTIONS:
        heard = await backplane.control({k: v for k, v in body.items() if k in ("action", "worker", "mode")})
        if not heard:
            return _error(503, "no cluster supervisor is listening")
        return web.json_response({"ok": True, "action": action, "sent": True})
    return None


async def sessions_handler(request: web.Request) -> web.Response:
    """``GET /_admin/sessions``: the server's view of every session and recent session events."""
    if not origin_allowed(request):
        return _error(403, "cross-origin requests are not allowed")
    if not _authorised(request):
        return _error(401, "missing or wrong admin token")
    store = request.app[SESSIONS]
    return web.json_response({
        "idle": store.idle, "absolute": store.absolute, "renew_background": store.renew_background,
        "sessions": store.all(),
        "events": [{"kind": e.kind, "sid_prefix": e.sid_prefix, "user": e.user, "wall": e.wall, "reason": e.reason}
                   for e in list(store.events)[-100:]],
    })


async def close_websockets(app: web.Application, code: int, reason: str) -> int:
    open_sockets = app[WEBSOCKETS]
    sockets = list(open_sockets)
    await asyncio.gather(*(ws.close(code=code, message=reason.encode()) for ws in sockets),
                         return_exceptions=True)
    return len(sockets)
