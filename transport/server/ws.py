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
import json
import logging

from aiohttp import WSMsgType, web

from ..errors import human_size
from ..wire import EPOCH_HEADER
from .bodies import BadInput, loads, publish_client_message
from .direct import Sent, ws_lane
from .feed import Feed, Subscription
from .keys import CONFIG, FEED, WEBSOCKETS
from .origin import origin_allowed
from .session_http import bind

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
    pump = asyncio.create_task(_pump(ws, feed, sub, after, request.headers.get(EPOCH_HEADER), request.transport))
    try:
        async for msg in ws:
            try:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and len(msg.data) > cfg.max_msg_size:
                    raise BadInput(f"the message is {len(msg.data):,} bytes, over the "
                                   f"{human_size(cfg.max_msg_size)} limit (--max-size)", status=413, kind="size")
                if msg.type == WSMsgType.TEXT:
                    _publish_text(feed, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    publish_client_message(feed, {"topic": "binary", "body": msg.data.hex()})
            except BadInput as err:  # a close code with the reason, never a dropped connection
                code = 1009 if err.kind == "size" else 1007
                log.info("closing a /ws client with %d: %s", code, err.reason)
                await ws.close(code=code, message=err.reason[:120].encode())
                break
    finally:
        request.app[WEBSOCKETS].discard(ws)  # a WeakSet would keep it until garbage collection
        unbind()
        pump.cancel()
        feed.unsubscribe(sub)
        await asyncio.gather(pump, return_exceptions=True)
    return ws


def _publish_text(feed: Feed, text: str) -> None:
    """JSON is published as a message (``topic`` and ``body`` kept); text that is not JSON as a chat
    string. JSON too deep or with non-finite numbers raises BadInput (the socket closes with 1007)."""
    try:
        obj = loads(text, "the message")
    except BadInput as err:
        if err.kind != "syntax":
            raise
        obj = text
    publish_client_message(feed, obj)


async def _pump(ws: web.WebSocketResponse, feed: Feed, sub: Subscription, after: int | None,
                epoch: str | None, transport: asyncio.Transport | None) -> None:
    try:
        gap, backlog, last = feed.resume(after, epoch)
        if gap is not None:
            await ws.send_str(json.dumps({"control": "gap", **gap.to_dict()}))
        for m in backlog:
            await ws.send_str(m.text)
        await ws.send_str(json.dumps({"control": "live", "seq": last}))
        sent = Sent(last)
        lane = ws_lane(ws, transport, sent)
        while not ws.closed:
            sub.direct = lane  # idle: a broadcast may write to this client at once (direct.py)
            batch = await sub.get_batch()
            sub.direct = None  # working: what comes now is queued behind this batch
            if sub.overflowed:
                await ws.close(code=1013, message=b"client too slow: reconnect and resume")
                return
            for m in batch:
                if m.seq > sent.last:
                    await ws.send_str(m.text)
                    sent.last = m.seq
    except (ConnectionError, RuntimeError) as exc:  # peer went away mid-send
        log.debug("websocket pump ended: %s", exc)
    finally:
        sub.direct = None
