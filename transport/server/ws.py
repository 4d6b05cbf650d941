"""``GET /ws?after=N``: replay what is still in history, then go live.

Control frames of the lab (not feed messages, so without ``seq``):
``{"control": "gap", "after": N, "first_available": M, "missing": K}`` when
the resume point has fallen out of history, and ``{"control": "live",
"seq": S}`` once the replay is over (S is the last replayed or current seq).
Text a client sends is published to the feed (a JSON object's ``topic`` and
``body`` are kept); binary is published as hex under topic ``binary``.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from transport.core.errors import human_size
from transport.core.wire import EPOCH_HEADER
from transport.server.bodies import BadInput, loads, publish_client_message
from transport.server.direct import WebSocketLane
from transport.server.feed import Feed, Subscription, live_notice
from transport.server.keys import CONFIG, FEED, WEBSOCKETS
from transport.server.origin import origin_allowed
from transport.server.session_http import bind

log = logging.getLogger("duplex.server.ws")


def parse_after(request: web.Request) -> int | None:
    raw = request.query.get("after")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"'after' must be an integer, got {raw[:40]!r}") from None
    if value < 0:
        raise BadInput("'after' must be >= 0")
    return value


async def ws_handler(request: web.Request) -> web.StreamResponse:
    cfg = request.app[CONFIG]
    if not origin_allowed(request, cfg.allowed_origins):
        log.warning("rejected /ws from origin %s", request.headers.get("Origin"))
        raise BadInput(f"the Origin {str(request.headers.get('Origin'))[:80]!r} is not this lab's own", status=403)
    after = parse_after(request)
    ws = web.WebSocketResponse(
        heartbeat=cfg.ws_heartbeat,
        # read up to twice the limit, so a message just over it is refused with a reason (aiohttp's own
        # 1009 for frames past its bound carries none)
        max_msg_size=2 * cfg.max_msg_size,
        compress=False,
        autoping=True,
    )
    await ws.prepare(request)
    feed = request.app[FEED]
    request.app[WEBSOCKETS].add(ws)
    unbind = bind(request, lambda: ws.close(code=1008, message=b"session expired"))
    sub = feed.subscribe(cfg.subscriber_backlog, cfg.subscriber_bytes)
    sub.transport, sub.what = request.transport, "websocket"  # a client that stops reading is cut
    writer: _Writer | None = None
    try:
        writer = await _replay(ws, feed, sub, after, request.headers.get(EPOCH_HEADER), request.transport)
        async for msg in ws:
            try:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and len(msg.data) > cfg.max_msg_size:
                    raise BadInput(f"the message is {len(msg.data):,} bytes, over the "
                                   f"{human_size(cfg.max_msg_size)} limit (--max-size)", status=413, kind="size")
                if msg.type == WSMsgType.TEXT:
                    await _publish_text(request.app, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await publish_client_message(request.app, {"topic": "binary", "body": msg.data.hex()})
            except BadInput as err:  # a close code with the reason, never a dropped connection
                code = 1009 if err.kind == "size" else 1007
                log.info("closing a /ws client with %d: %s", code, err.reason)
                await ws.close(code=code, message=err.reason[:120].encode())
                break
    finally:
        request.app[WEBSOCKETS].discard(ws)
        unbind()
        feed.unsubscribe(sub)
        if writer is not None:
            await writer.stop()
    return ws


async def _publish_text(app: web.Application, text: str) -> None:
    """JSON is published as a message (``topic`` and ``body`` kept); text that is not JSON as a chat
    string. JSON too deep or with non-finite numbers raises BadInput (the socket closes with 1007)."""
    try:
        obj = loads(text, "the message")
    except BadInput as err:
        if err.kind != "syntax":
            raise
        obj = text
    await publish_client_message(app, obj)


async def _replay(ws: web.WebSocketResponse, feed: Feed, sub: Subscription, after: int | None,
                  epoch: str | None, transport: asyncio.Transport | None) -> _Writer | None:
    """The gap notice, the backlog and the live marker (the client's messages wait meanwhile), then
    the live feed's writer; None when the client went away."""
    try:
        gap, backlog, last = feed.resume(after, epoch)
        if gap is not None:
            await ws.send_str(gap.notice())
        for m in backlog:
            await ws.send_str(m.text)
        await ws.send_str(live_notice(last))
    except (ConnectionError, RuntimeError) as exc:  # peer went away mid-send
        log.debug("websocket replay ended: %s", exc)
        return None
    writer = _Writer(ws, sub, WebSocketLane(ws, transport, last))
    if sub.queued:  # published while the backlog was written
        writer.start()
    return writer


class _Writer:
    """A /ws client's live feed: through its lane while idle (direct.py), and through a task only
    while a queue drains (a client that reads slower than the feed for a moment): no task per idle
    connection."""

    __slots__ = ("ws", "sub", "lane", "task")

    def __init__(self, ws: web.WebSocketResponse, sub: Subscription, lane: WebSocketLane) -> None:
        self.ws, self.sub, self.lane = ws, sub, lane
        self.task: asyncio.Task[None] | None = None
        sub.direct = lane.direct
        sub.on_queue = self  # called: start draining (itself, not a bound method: less per connection)

    def __call__(self) -> None:
        self.start()

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.sub.direct = None  # what comes now is queued behind what is there
            self.task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        ws, sub, lane = self.ws, self.sub, self.lane
        try:
            while not ws.closed:
                batch = await sub.get_batch()
                if sub.overflowed:
                    await ws.close(code=1013, message=b"client too slow: reconnect and resume")
                    return
                for m in batch:
                    if m.seq > lane.last:
                        sub.writing = m.size or 1  # seen by the feed's watchdog (Feed.check_writers)
                        try:
                            await ws.send_str(m.text)
                        finally:
                            sub.writing = 0
                            sub.writes += 1
                        lane.last = m.seq
                if not sub.queued:  # drained: back to the lane
                    sub.direct = lane.direct
                    return
        except (ConnectionError, RuntimeError) as exc:  # peer went away mid-send
            log.debug("websocket writer ended: %s", exc)

    async def stop(self) -> None:
        self.sub.direct = self.sub.on_queue = None
        task = self.task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
