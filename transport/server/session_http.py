"""Sessions over HTTP: the carrier (cookie or ``?sid=``), login, logout, expiry on every transport.

- ``POST /session/login`` (JSON ``{"user": …}`` or a form): a new session,
  always a new id, and the cookie ``duplex_sid`` (``HttpOnly; SameSite=Lax;
  Path=/``, plus ``Secure`` over TLS). With ``"carrier": "query"`` the answer
  also carries ``sid`` for clients that put it in the URL instead.
- ``GET /session/me``: the session as JSON, or 401 with a JSON error.
- ``POST /session/logout``: ends it and clears the cookie.
- Every other request that presents an id (cookie or ``?sid=``) must present
  a live one: an unknown or expired id gets 401 (a WebSocket handshake too).
  User actions renew the idle timer; background traffic (polls, streams, SSE
  and WebSocket connects) renews it only when the server is set to.
- When a session expires, its open WebSockets are closed with 1008, its SSE
  and NDJSON streams end and its held long polls answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Awaitable, Callable

from aiohttp import web

from transport.server.bodies import read_json
from transport.server.keys import BACKPLANE, BOUND, CONFIG, SESSIONS, VALUES, Handler
from transport.server.sessions import COOKIE, QUERY, Session, SessionsFull
from transport.server.passthrough import answered
from transport.server.tasks import spawn

log = logging.getLogger("duplex.server.sessions")

BACKGROUND = frozenset({"/api/poll", "/api/longpoll", "/api/stream", "/sse", "/ws"})
MAX_USER = 64
SWEEP_S = 0.25
# the request's live session, or None (RequestKey where aiohttp has it)
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")


def _error(status: int, text: str, **extra: object) -> web.Response:
    return web.json_response({"error": text, **extra}, status=status)


def presented_id(request: web.Request) -> str | None:
    # ``request.cookies`` and ``request.query`` are parsed once and kept as long as the request (a
    # WebSocket's or a stream's is as long as its connection): only when there is something to parse
    sid = request.cookies.get(COOKIE) if "Cookie" in request.headers else None
    if not sid and request.query_string and not request.path.startswith(ENGINEIO_PATH):
        sid = request.query.get(QUERY)  # (on /socket.io/, ?sid= is Engine.IO's own session, not ours)
    return sid or None


ENGINEIO_PATH = "/socket.io/"


@web.middleware
def session_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """``request.get(SESSION)``: the request's session, when it presented a live one."""
    path = request.path
    sid = presented_id(request)
    if sid and path != "/session/login" and path != "/" and not path.startswith("/_admin"):
        store = request.app[SESSIONS]
        session, why = store.lookup(sid)
        if session is None and why == "unknown" and request.app[CONFIG].sessions_shared \
                and request.app.get(BACKPLANE) is not None:
            return _shared_lookup(request, handler, sid)
        if session is None:
            if why == "expired":  # found expired before the sweeper got to it: end its connections too
                end_bound(request.app, sid)
            return answered(_error(401, f"session {why}: log in again", reason=why))
        store.touch(session, background=path in BACKGROUND)
        request[SESSION] = session
    return handler(request)


async def _shared_lookup(request: web.Request, handler: Handler, sid: str) -> web.StreamResponse:
    """Cluster mode with shared sessions: a session this worker has not seen, looked up in Redis."""
    app = request.app
    store = app[SESSIONS]
    found = await app[BACKPLANE].load_session(sid)
    session = store.adopt(sid, found[0], max(0.0, time.time() - found[1]), found[1]) if found else None
    if session is None:
        return _error(401, "session unknown: log in again", reason="unknown")
    store.touch(session, background=request.path in BACKGROUND)
    request[SESSION] = session
    return await handler(request)


def set_cookie(resp: web.StreamResponse, request: web.Request, sid: str) -> None:
    resp.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", path="/", secure=request.secure)


async def login_handler(request: web.Request) -> web.Response:
    if request.content_type == "application/json":
        body = await read_json(request, 'the body ({"user": "…"})')
    else:
        body = dict(await request.post())
    user = body.get("user") if isinstance(body, dict) else None
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER:
        return _error(400, f'"user" must be a name of 1 to {MAX_USER} characters')
    store = request.app[SESSIONS]
    old = presented_id(request)
    backplane = request.app.get(BACKPLANE) if request.app[CONFIG].sessions_shared else None
    if old:  # rotation: the presented id is never adopted, and a live one ends here
        if store.logout(old):
            end_bound(request.app, old)
        if backplane is not None:
            await backplane.end_session(old)
    try:
        session = store.login(user.strip())
    except SessionsFull as full:
        return _error(503, str(full))
    if backplane is not None:  # every worker can serve it
        await backplane.save_session(session.sid, session.user, session.created_wall, store.absolute)
    answer = {"ok": True, **store.describe(session)}
    if body.get("carrier") == "query":
        answer["sid"] = session.sid
    resp = web.json_response(answer)
    set_cookie(resp, request, session.sid)
    log.info("login: %s (%s…)", session.user, session.sid[:8])
    return resp


async def me_handler(request: web.Request) -> web.Response:
    session: Session | None = request.get(SESSION)
    if session is None:
        return _error(401, "not logged in", reason="none")
    return web.json_response(request.app[SESSIONS].describe(session))


async def logout_handler(request: web.Request) -> web.Response:
    session: Session | None = request.get(SESSION)
    if session is not None:
        request.app[SESSIONS].logout(session.sid)
        end_bound(request.app, session.sid)
        backplane = request.app.get(BACKPLANE) if request.app[CONFIG].sessions_shared else None
        if backplane is not None:
            await backplane.end_session(session.sid)
    resp = web.json_response({"ok": True, "ended": session is not None})
    resp.del_cookie(COOKIE, path="/")
    return resp


# -- connections bound to a session ---------------------------------------------------
def bind(request: web.Request, end: Callable[[], object]) -> Callable[[], None]:
    """Register how to end this connection when its session ends; returns the unbind."""
    session: Session | None = request.get(SESSION)
    if session is None:
        return _nothing
    bound = request.app[BOUND][session.sid]
    bound.add(end)
    return lambda: bound.discard(end)


def _nothing() -> None:
    """The unbind of a connection without a session (one function for all of them)."""


def end_bound(app: web.Application, sid: str) -> int:
    """The session is over: end its connections and forget its page value."""
    app[VALUES].pop(sid, None)
    ends = app[BOUND].pop(sid, set())
    for end in list(ends):
        result = end()
        if asyncio.iscoroutine(result):
            spawn(app, result)
    return len(ends)


def expire_all(app: web.Application) -> int:
    gone = app[SESSIONS].expire_all()
    for session in gone:
        end_bound(app, session.sid)
    return len(gone)


async def sweeper(app: web.Application) -> None:
    """End the connections of sessions as they expire (idle or absolute)."""
    store = app[SESSIONS]
    while True:
        for session in store.sweep():
            n = end_bound(app, session.sid)
            log.info("session of %s expired; ended %d connection(s)", session.user, n)
        await asyncio.sleep(SWEEP_S)  # a periodic sweep, not a wait for a condition


def new_bound() -> defaultdict:
    return defaultdict(set)
