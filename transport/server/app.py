"""``create_app(config)``: the single source of the lab server.

Used by ``python -m transport.server``, by the GUI's child process and by the
tests (through aiohttp's test server on port 0).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, deque
from importlib import resources
from typing import AsyncIterator

from aiohttp import web

from transport.server.admin import admin_app, close_websockets
from transport.server.config import ServerConfig
from transport.core.wire import EPOCH_HEADER, WORKER_HEADER, FEED_PATHS, LONGPOLL_PATH, POLL_PATH, SSE_PATH, STREAM_PATH, STREAMS_EXPERIMENT_PATH, WS_PATH
from transport.server.bodies import bad_input
from transport.server.origin import check_host
from transport.server.feed import Feed, Ticker
from transport.server.journal import Journal
from transport.server.ajax import (same_origin_posts, form_get_handler, form_post_handler, messages_handler, value_get_handler,
                   value_post_handler)
from transport.server.backplane import Backplane, redis_down
from transport.server.keys import (BACKPLANE, BOUND, CONFIG, FEED, HOLDS, PROXIES, REQUESTS, SESSIONS, SSE_RESUMES, STREAMS, TASKS, TICKER,
                   VALUES, WEBSOCKETS, Handler)
from transport.server.session_http import (end_bound, login_handler, logout_handler, me_handler, new_bound, session_middleware,
                           sweeper)
from transport.server.sessions import SessionStore
from transport.server.state import ValueStore
from transport.server.tasks import spawn
from transport.server.polling import longpoll_handler, poll_handler, stream_handler
from transport.server.proxies_api import close_all
from transport.server.chat import CHAT_PATHS, chat_handler
from transport.server.socketio_lab import attach as attach_socketio
from transport.server.socketio_lab import socketio_origin
from transport.server.sse import end_streams, sse_handler
from transport.server.stats import count_requests
from transport.server.ws import ws_handler


DEMO_PAGE = resources.files("transport.server") / "static" / "demo.html"
_demo: list[str] = []  # the page's text, read once (off the loop)
STREAMS_PAGE = resources.files("transport.server") / "static" / "streams.html"
_streams_page: list[str] = []


async def demo_handler(request: web.Request) -> web.Response:
    """The demo page: the browser's own WebSocket, EventSource, fetch, cookies and sessionStorage against
    this lab (the Browser tab and ``probe --transport browser`` open it)."""
    if not _demo:
        _demo.append(await asyncio.to_thread(DEMO_PAGE.read_text, encoding="utf-8"))
    return web.Response(text=_demo[0], content_type="text/html", headers={"Cache-Control": "no-store"})


async def streams_page_handler(request: web.Request) -> web.Response:
    """``/experiment/streams?n=N&kind=sse|fetch``: a page that opens N streams to this lab at once (the
    streams-per-origin experiment: six over HTTP/1.1, all of them over HTTP/2)."""
    if not _streams_page:
        _streams_page.append(await asyncio.to_thread(STREAMS_PAGE.read_text, encoding="utf-8"))
    return web.Response(text=_streams_page[0], content_type="text/html", headers={"Cache-Control": "no-store"})


async def index(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    return web.json_response({
        "name": "duplex-lab",
        "last_seq": feed.last_seq,
        "history": len(feed),
        "first_available": feed.first_available(),
        "subscribers": feed.subscribers,
        "endpoints": {"websocket": "/ws?after=N", "sse": "/sse (Last-Event-ID or ?after=N)",
                      "short_poll": "/api/poll?after=N", "long_poll": "/api/longpoll?after=N&timeout=S",
                      "stream": "/api/stream?after=N", "ajax": "POST /api/messages, GET/POST /api/session-value",
                      "socketio": "/socket.io/ (each envelope an event named after its topic; auth {after, epoch} resumes)",
                      "chat": "POST /v1/chat/completions or /api/chat (OpenAI's chat-completions shape: "
                              "the openai package with base_url <lab>/v1 reads it)",
                      "postback": "GET/POST /form", "demo": "/demo (a browser page using them all)", "session": "POST /session/login, GET /session/me, POST /session/logout",
                      "admin": "/_admin/faults, /_admin/settings, /_admin/sessions, /_admin/stats, /_admin/proxies"},
        "held": len(request.app[HOLDS]),
        "sessions": len(request.app[SESSIONS]),
        "sse": {"streams": len(request.app[STREAMS]), "last_event_ids": _resumes(request.app)},
    })


def _resumes(app: web.Application) -> list[str | None]:
    resumes = app[SSE_RESUMES]
    return list(resumes)


async def watch_writers(app: web.Application) -> None:
    """The stream writers' watchdog: one look every quarter of the write timeout (at most a second)."""
    limit = app[CONFIG].write_timeout
    interval = min(1.0, limit / 4)
    feed = app[FEED]
    while True:
        await asyncio.sleep(interval)  # a periodic look, not a wait for a condition
        feed.check_writers(interval, limit)


def _renumbered(app: web.Application, epoch: str) -> None:
    """The numbering changed under the clients: every connection ends, so that each resumes and gets the
    declared reset (a live one would otherwise wait for seqs past the old numbering's)."""
    app[FEED].stop_all()
    end_streams(app)
    spawn(app, close_websockets(app, 1012, f"the feed's numbering changed to {epoch}"))


def _ended_elsewhere(app: web.Application, sid: str) -> None:
    """Another worker ended a shared session: here too (its connections on this worker end with it)."""
    if app[SESSIONS].logout(sid):
        end_bound(app, sid)


async def _background_ctx(app: web.Application) -> AsyncIterator[None]:
    cfg = app[CONFIG]
    ticker: Ticker | None = None
    backplane: Backplane | None = None
    if cfg.redis_url:  # cluster mode: the feed is the stream on Redis, its ticker on one worker at a time
        backplane = app[BACKPLANE] = Backplane(cfg.redis_url, app[FEED], cfg.worker_id)
        backplane.on_session_ended = lambda sid: _ended_elsewhere(app, sid)
        backplane.on_renumbered = lambda epoch: _renumbered(app, epoch)
        await backplane.start(rate=cfg.rate if cfg.rate > 0 else None)
    else:
        ticker = app[TICKER] = Ticker(app[FEED], cfg.rate)
        ticker.start()
    tasks = [asyncio.create_task(sweeper(app)), asyncio.create_task(watch_writers(app))]
    yield
    if ticker is not None:
        await ticker.stop()
    if backplane is not None:
        await backplane.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    journal = app[FEED].journal
    if journal is not None:
        journal.close()


async def _name_the_numbering(request: web.Request, response: web.StreamResponse) -> None:
    """Every feed response says which numbering its seqs belong to; a client resuming echoes it, so
    a lab restarted without its history can tell an old resume point from one of its own. In cluster
    mode every response (a WebSocket's handshake too) names the worker that served it."""
    if request.path in FEED_PATHS or request.path.startswith("/socket.io/"):
        response.headers[EPOCH_HEADER] = request.config_dict[FEED].epoch
    worker = request.config_dict[CONFIG].worker_id
    if worker:
        response.headers[WORKER_HEADER] = f"{worker}/{os.getpid()}"  # the worker, and which life of it


@web.middleware
async def catch_up(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Cluster mode: a client resuming after a seq another worker delivered waits (bounded) until this
    worker's reader of the stream has it too, so its resume point is never mistaken for a future one."""
    backplane = request.config_dict.get(BACKPLANE)
    if backplane is not None and request.path in FEED_PATHS:
        raw = request.query.get("after") or request.headers.get("Last-Event-ID") or ""
        epoch = request.headers.get(EPOCH_HEADER)
        if raw.isdigit() and len(raw) < 20 and (epoch is None or epoch == request.config_dict[FEED].epoch) \
                and not await backplane.caught_up(int(raw)):
            # behind the stream still (a busy machine): answering now would take the client's resume point
            # for one from an earlier numbering and declare a reset that never happened; it asks again
            return web.json_response({"error": f"this worker has not read the feed up to seq {raw} yet: try "
                                               "again in a moment"}, status=503, headers={"Retry-After": "1"})
    return await handler(request)


async def _on_shutdown(app: web.Application) -> None:
    app[FEED].stop_all()  # readers blocked on clients that do not read let go at once
    await close_all(app)
    for task in app[TASKS]:
        task.cancel()
    end_streams(app)
    await close_websockets(app, 1001, "server shutting down")


ENVELOPE_ALLOWANCE = 1024  # a published message's envelope (seq, ts, topic) around the largest body


def create_app(config: ServerConfig | None = None) -> web.Application:
    cfg = config or ServerConfig()
    app = web.Application(client_max_size=cfg.max_msg_size,
                          middlewares=[count_requests, check_host, bad_input, same_origin_posts,
                                       socketio_origin, session_middleware]
                          + ([catch_up, redis_down] if cfg.redis_url else []))
    app[CONFIG] = cfg
    app[FEED] = Feed(cfg.history, journal=Journal(cfg.history_file, cfg.history) if cfg.history_file else None,
                     history_bytes=cfg.history_bytes, max_message=cfg.max_msg_size + ENVELOPE_ALLOWANCE)
    app[WEBSOCKETS] = set()  # plain sets (a weak reference per connection costs ~150 B); each handler removes
    app[STREAMS] = set()  # its own in a finally
    app[SSE_RESUMES] = deque(maxlen=100)
    app[HOLDS] = set()
    app[VALUES] = {}  # per session id ("" is the anonymous value), made on first use (ajax.value_store)
    app[SESSIONS] = SessionStore(cfg.session_idle, cfg.session_absolute, cfg.session_renew_background)
    app[BOUND] = new_bound()
    app[PROXIES] = {}
    app[TASKS] = set()
    app[REQUESTS] = Counter()
    app.router.add_get("/", index)
    app.router.add_get("/demo", demo_handler)
    app.router.add_get(STREAMS_EXPERIMENT_PATH, streams_page_handler)
    app.router.add_get(WS_PATH, ws_handler)
    app.router.add_get(SSE_PATH, sse_handler)
    app.router.add_get(POLL_PATH, poll_handler)
    app.router.add_get(LONGPOLL_PATH, longpoll_handler)
    app.router.add_get(STREAM_PATH, stream_handler)
    app.router.add_post("/api/messages", messages_handler)
    for path in CHAT_PATHS:  # the OpenAI SDK posts to {base_url}/chat/completions: base_url = the lab's /v1
        app.router.add_post(path, chat_handler)
    app.router.add_get("/api/session-value", value_get_handler)
    app.router.add_post("/api/session-value", value_post_handler)
    app.router.add_post("/session/login", login_handler)
    app.router.add_get("/session/me", me_handler)
    app.router.add_post("/session/logout", logout_handler)
    app.router.add_get("/form", form_get_handler)
    app.router.add_post("/form", form_post_handler)
    app.add_subapp("/_admin", admin_app())  # one sub-application behind one guard (admin.py)
    attach_socketio(app)
    app.cleanup_ctx.append(_background_ctx)
    app.on_shutdown.append(_on_shutdown)
    app.on_response_prepare.append(_name_the_numbering)
    return app
