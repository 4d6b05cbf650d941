"""``/_admin``: the lab's admin API, one sub-application behind one guard (same origin and the admin token).

Every route needs ``Authorization: Bearer <admin_token>`` (401 without) and refuses a foreign ``Origin``
(403); no CORS header is ever sent, so no web page can use it. Routes:

- ``POST /_admin/faults`` ``{"action": …}``: one fault, from the table :data:`FAULTS`:
  ``restart`` ``{"down_s": S}`` (stop listening for S seconds, back on the same port);
  ``close_websockets`` ``{"code": C, "reason": R}``; ``end_streams`` (SSE clients reconnect with
  Last-Event-ID); ``expire_sessions``; ``evict_history`` (resume points become unknown: gap);
  ``burst`` ``{"count": N, "topic": T}`` (N messages at once); in a cluster ``kill_worker`` and
  ``restart_worker`` ``{"worker": "w2"}``.
- ``GET/POST /_admin/settings``: what the lab does from now on, each field optional:
  ``{"rate": R, "renew": "user"|"all", "idle": S, "absolute": S, "balance": MODE, "heartbeat": S,
  "accel_buffering": BOOL}`` (the last two for connections made from then on: every transport's heartbeat,
  0 = none; whether streamed answers say ``X-Accel-Buffering: no``); the answer is every setting as it now
  is. In a cluster the heartbeat and the header are each worker's (set them at start: ``--heartbeat``,
  ``--accel-buffering``). (``rate``, ``session_settings`` and ``balance`` are still accepted as fault
  actions, for scripts written against earlier releases; they go through the same code.)
- ``GET /_admin/sessions``, ``GET /_admin/stats``; the fault proxies in Toxiproxy's shape
  (``/_admin/proxies…``, ``/_admin/reset``, ``/_admin/version``: proxies_api.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from transport.server.bodies import json_error, read_json
from transport.server.keys import (
    BACKPLANE, CONFIG, FEED, GO_DOWN, SESSIONS, SOCKETIO, TICKER, WEBSOCKETS, Handler, lab_app)
from transport.server.origin import origin_allowed
from transport.server.passthrough import answered
from transport.server.proxies_api import add_routes as add_proxy_routes
from transport.server.session_http import expire_all
from transport.server.socketio_lab import set_heartbeat
from transport.server.sse import end_streams
from transport.server.tasks import spawn
from transport.server.stats import feed_rate, stats_handler

log = logging.getLogger("duplex.server.admin")

MAX_DOWN_S = 3600.0
MAX_BURST = 1_000_000
MAX_RATE = 100_000
BALANCES = ("roundrobin", "cookie", "source")


def _authorised(request: web.Request) -> bool:
    token = lab_app(request)[CONFIG].admin_token
    auth = request.headers.get("Authorization", "")
    scheme, _, given = auth.partition(" ")
    # header bytes that are not UTF-8 arrive as surrogates: compared as bytes, they simply do not match
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"),
                                                              token.encode())


@web.middleware
def guard(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """The one authorisation of the admin API (pass-through: passthrough.py)."""
    if not origin_allowed(request):
        return answered(json_error(403, "cross-origin requests are not allowed"))
    if not _authorised(request):
        return answered(json_error(401, "missing or wrong admin token"))
    return handler(request)


class Refused(Exception):
    """A fault or setting that cannot be applied: its status and sentence."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


# -- faults: one entry per action ----------------------------------------------------------------
Fault = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


async def _restart(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    down_s = body.get("down_s", 2)
    if not isinstance(down_s, (int, float)) or isinstance(down_s, bool) or not 0 <= down_s <= MAX_DOWN_S:
        raise Refused(400, f"down_s must be a number from 0 to {MAX_DOWN_S:g}")
    app = lab_app(request)
    go_down = app.get(GO_DOWN)
    if go_down is None:
        raise Refused(501, "restart needs the lab runner (python -m transport.server)")
    # answer first, then go down: the caller must see the acknowledgement
    resp = web.json_response({"ok": True, "action": "restart", "down_s": down_s}, headers={"Connection": "close"})
    await resp.prepare(request)
    await resp.write_eof()
    log.info("restart requested: down for %.1f s", down_s)
    spawn(app, go_down(float(down_s)))
    return resp


async def _close_websockets(request: web.Request, body: dict[str, Any]) -> web.Response:
    code = body.get("code", 1001)
    reason = str(body.get("reason", ""))[:120]
    if not isinstance(code, int) or not (code in (1000, 1001, 1008, 1011, 1012, 1013) or 3000 <= code <= 4999):
        raise Refused(400, "code must be 1000, 1001, 1008, 1011, 1012, 1013 or 3000–4999")
    n = await close_websockets(lab_app(request), code, reason)
    return web.json_response({"ok": True, "action": body["action"], "closed": n})


async def _end_streams(request: web.Request, body: dict[str, Any]) -> web.Response:
    return web.json_response({"ok": True, "action": body["action"], "ended": end_streams(lab_app(request))})


async def _expire_sessions(request: web.Request, body: dict[str, Any]) -> web.Response:
    return web.json_response({"ok": True, "action": body["action"], "expired": expire_all(lab_app(request))})


async def _evict_history(request: web.Request, body: dict[str, Any]) -> web.Response:
    app = lab_app(request)
    backplane = app.get(BACKPLANE)
    n = await backplane.evict() if backplane is not None else app[FEED].evict()
    return web.json_response({"ok": True, "action": body["action"], "evicted": n})


async def _burst(request: web.Request, body: dict[str, Any]) -> web.Response:
    count = body.get("count", 1000)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= MAX_BURST:
        raise Refused(400, f"count must be an integer from 1 to {MAX_BURST}")
    topic = str(body.get("topic", "burst"))
    app = lab_app(request)
    backplane = app.get(BACKPLANE)
    if backplane is not None:
        msgs = await backplane.publish_many([(topic, i) for i in range(count)])
        return web.json_response({"ok": True, "action": body["action"], "first": msgs[0].seq, "last": msgs[-1].seq})
    feed = app[FEED]
    first = feed.last_seq + 1
    for start in range(0, count, 1000):  # published in thousands: a write per client for each
        feed.publish_many([(topic, i) for i in range(start, min(count, start + 1000))])
    return web.json_response({"ok": True, "action": body["action"], "first": first, "last": feed.last_seq})


async def _to_supervisor(app: web.Application, action: dict[str, Any]) -> None:
    backplane = app.get(BACKPLANE)
    if backplane is None:
        raise Refused(409, "this lab is one process: start it as a cluster (--cluster N, or the Server tab)")
    if not await backplane.control(action):
        raise Refused(503, "no cluster supervisor is listening")


async def _worker_action(request: web.Request, body: dict[str, Any]) -> web.Response:
    await _to_supervisor(lab_app(request), {k: v for k, v in body.items() if k in ("action", "worker")})
    return web.json_response({"ok": True, "action": body["action"], "sent": True})


async def _as_setting(request: web.Request, body: dict[str, Any]) -> web.Response:
    """``rate``, ``session_settings`` and ``balance`` sent as faults (earlier releases): settings."""
    fields = {k: v for k, v in body.items() if k != "action"}
    if body["action"] == "balance":
        fields = {"balance": body.get("mode")}
    answer = await apply_settings(lab_app(request), fields)
    return web.json_response({"ok": True, "action": body["action"], **answer})


FAULTS: dict[str, Fault] = {
    "restart": _restart,
    "close_websockets": _close_websockets,
    "close_ws": _close_websockets,  # the name the fault-lab issue uses
    "end_streams": _end_streams,
    "expire_sessions": _expire_sessions,
    "evict_history": _evict_history,
    "burst": _burst,
    "kill_worker": _worker_action,
    "restart_worker": _worker_action,
    "rate": _as_setting,
    "session_settings": _as_setting,
    "balance": _as_setting,
}


async def faults_handler(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    if not isinstance(body, dict):
        return json_error(400, "body must be a JSON object")
    action = body.get("action")
    fault = FAULTS.get(action) if isinstance(action, str) else None
    if fault is None:
        return json_error(400, f"unknown action {json.dumps(action)}")
    try:
        return await fault(request, body)
    except Refused as exc:
        return json_error(exc.status, exc.text)


# -- settings ------------------------------------------------------------------------------------
SETTINGS = ("rate", "renew", "idle", "absolute", "balance", "heartbeat", "accel_buffering")


def _check_settings(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(SETTINGS))
    if unknown:
        raise Refused(400, f"unknown setting {json.dumps(unknown[0])}: {', '.join(SETTINGS[:-1])} or {SETTINGS[-1]}")
    heartbeat = fields.get("heartbeat")
    if "heartbeat" in fields and (not isinstance(heartbeat, (int, float)) or isinstance(heartbeat, bool)
                                  or not 0 <= heartbeat <= 3600):
        raise Refused(400, "heartbeat must be a number of seconds from 0 (none) to 3600")
    if "accel_buffering" in fields and not isinstance(fields["accel_buffering"], bool):
        raise Refused(400, "accel_buffering must be true (send X-Accel-Buffering: no) or false")
    rate = fields.get("rate")
    if "rate" in fields and (not isinstance(rate, (int, float)) or isinstance(rate, bool)
                             or not 0 <= rate <= MAX_RATE):
        raise Refused(400, f"rate must be a number of messages per second from 0 to {MAX_RATE:,}")
    if fields.get("renew") is not None and fields["renew"] not in ("user", "all"):
        raise Refused(400, 'renew must be "user" or "all"')
    for name in ("idle", "absolute"):
        value = fields.get(name)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                  or not 0 < value <= 86_400):
            raise Refused(400, f"{name} must be a number of seconds from 1 to 86400")
    if "balance" in fields and fields["balance"] not in BALANCES:
        raise Refused(400, f"balance must be one of {', '.join(BALANCES)}")


async def apply_settings(app: web.Application, fields: dict[str, Any]) -> dict[str, Any]:
    """Check every field first, then apply them; the settings as they now are (Refused: nothing changed)."""
    _check_settings(fields)
    backplane, ticker = app.get(BACKPLANE), app.get(TICKER)
    if "rate" in fields and backplane is None and ticker is None:
        raise Refused(501, "the ticker is not running")
    if "balance" in fields and backplane is None:
        raise Refused(409, "this lab is one process: start it as a cluster (--cluster N, or the Server tab)")
    answer: dict[str, Any] = {}
    if "rate" in fields:
        rate = float(fields["rate"])
        if backplane is not None:
            answer["previous"] = await backplane.set_rate(rate)
        elif ticker is not None:
            answer["previous"] = ticker.set_rate(rate)
    store = app[SESSIONS]
    if fields.get("renew") is not None:
        store.renew_background = fields["renew"] == "all"
    if fields.get("idle") is not None:
        store.idle = float(fields["idle"])
    if fields.get("absolute") is not None:
        store.absolute = float(fields["absolute"])
    if "balance" in fields:
        await _to_supervisor(app, {"action": "balance", "mode": fields["balance"]})
        answer["balance"] = fields["balance"]
    cfg = app[CONFIG]
    if "heartbeat" in fields:  # new connections: one already open keeps the heartbeat it started with
        cfg.set_heartbeat(float(fields["heartbeat"]))
        if SOCKETIO in app:
            set_heartbeat(app[SOCKETIO], float(fields["heartbeat"]))
    if "accel_buffering" in fields:
        cfg.accel_buffering = bool(fields["accel_buffering"])
    return {**current_settings(app), **answer}


def current_settings(app: web.Application) -> dict[str, Any]:
    store, cfg = app[SESSIONS], app[CONFIG]
    return {"rate": feed_rate(app), "renew": "all" if store.renew_background else "user", "idle": store.idle,
            "absolute": store.absolute, "heartbeat": cfg.heartbeat if cfg.heartbeat is not None else cfg.sse_heartbeat,
            "accel_buffering": cfg.accel_buffering}


async def settings_handler(request: web.Request) -> web.Response:
    app = lab_app(request)
    if request.method == "GET":
        return web.json_response(current_settings(app))
    body = await read_json(request)
    if not isinstance(body, dict):
        return json_error(400, "body must be a JSON object")
    try:
        return web.json_response({"ok": True, **await apply_settings(app, body)})
    except Refused as exc:
        return json_error(exc.status, exc.text)


# -- views ---------------------------------------------------------------------------------------
async def sessions_handler(request: web.Request) -> web.Response:
    """``GET /_admin/sessions``: the server's view of every session and recent session events."""
    store = lab_app(request)[SESSIONS]
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


def admin_app() -> web.Application:
    """The ``/_admin`` sub-application (the lab adds it with ``add_subapp``)."""
    admin = web.Application(middlewares=[guard])
    admin.router.add_post("/faults", faults_handler)
    admin.router.add_get("/settings", settings_handler)
    admin.router.add_post("/settings", settings_handler)
    admin.router.add_get("/sessions", sessions_handler)
    admin.router.add_get("/stats", stats_handler)
    add_proxy_routes(admin)
    return admin
