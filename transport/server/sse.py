"""``GET /sse``: the feed as a Server-Sent Events stream (aiohttp-sse).

Each feed message is one event with ``id:`` = seq. Topics ``price`` and
``likes`` are named events (``event: price``, for ``addEventListener``);
every other topic (``chat`` and what clients publish) is unnamed, so a
browser hands it to ``onmessage`` as type ``message``. The stream opens with
``retry:`` (the reconnection time the server asks for) and sends a
``: ping`` comment every heartbeat interval.

Resume: a ``Last-Event-ID`` header (what a browser sends on reconnect), or
``?after=N`` for a first connection, replays history after that seq. When the
seq is no longer in history the stream says so with ``event: gap`` (data
``{"after", "first_available", "missing"}``); after the replay an
``event: live`` (data ``{"seq": S}``) marks where live events start. Neither
carries an ``id``, so the client's last event ID stays the last feed seq.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from transport.core.wire import EPOCH_HEADER
from transport.core.envelope import GAP, LIVE
from transport.server.feed import Message, Subscription
from transport.server.keys import CONFIG, FEED, HOLDS, SSE_RESUMES, STREAMS
from transport.server.session_http import bind
from transport.server.direct import SSELane
from transport.server.state import SlowConsumer, write_watched
from transport.server.ws import parse_after

log = logging.getLogger("duplex.server.sse")

NAMED_TOPICS = frozenset({"price", "likes"})
HEADERS = {"Access-Control-Expose-Headers": "Last-Event-ID"}


def encode(msg: Message) -> str:
    if msg.topic in NAMED_TOPICS:
        return f"id: {msg.seq}\nevent: {msg.topic}\ndata: {msg.text}\n\n"
    return f"id: {msg.seq}\ndata: {msg.text}\n\n"


def control(name: str, body: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


def resume_point(request: web.Request) -> tuple[int | None, str]:
    """The seq to replay after (None: live only) and a comment to send, if any."""
    header = request.headers.get("Last-Event-ID")
    request.app[SSE_RESUMES].append(header)
    if header is None:
        return parse_after(request), ""
    value = header.strip()
    if value.isdigit() and value.isascii() and len(value) < 19:
        return int(value), ""
    shown = json.dumps(header[:80])
    return None, f": Last-Event-ID {shown} is not a seq of this server: sending live events only\n\n"


async def sse_handler(request: web.Request) -> web.StreamResponse:
    cfg = request.app[CONFIG]
    feed = request.app[FEED]
    after, note = resume_point(request)
    sub = feed.subscribe(cfg.subscriber_backlog, cfg.subscriber_bytes)  # before the replay: nothing falls between
    sub.transport, sub.what = request.transport, "sse"
    resp = EventSourceResponse(sep="\n", headers=HEADERS, ping_interval=cfg.sse_heartbeat)
    if not cfg.accel_buffering:  # aiohttp-sse always says it; the lab's setting may not
        resp.headers.popall("X-Accel-Buffering", None)
    try:
        await resp.prepare(request)
        async with resp:
            request.app[STREAMS].add(resp)
            unbind = bind(request, lambda: _session_ended(resp))
            gap, backlog, last = feed.resume(after, request.headers.get(EPOCH_HEADER))
            head = [note, f"retry: {cfg.sse_retry_ms}\n\n"]
            if gap is not None:
                head.append(control(GAP, gap.to_dict()))
            head += [encode(m) for m in backlog]
            if after is not None:
                head.append(control(LIVE, {"seq": last}))
            try:
                await write_watched(resp, "".join(head).encode(), sub)
                await _pump(resp, sub, last)
            finally:
                unbind()
    except SlowConsumer as exc:  # ended, as /ws ends one with 1013; the client resumes by Last-Event-ID
        log.info("%s: ending its stream", exc)
        if request.transport is not None:
            request.transport.abort()
    except (ConnectionError, RuntimeError) as exc:  # the client went away mid-write
        log.debug("sse stream ended: %s", exc)
    finally:
        feed.unsubscribe(sub)
        request.app[STREAMS].discard(resp)
    return resp


async def _pump(resp: EventSourceResponse, sub: Subscription, last: int) -> None:
    """Write live messages until the client leaves or the server ends the stream."""
    ended = _on_end(resp, sub.wake)  # the end (pings failed, stop_streaming()) wakes the pump
    lane = SSELane(resp, sub.transport, last, encode)
    try:
        while True:
            sub.direct = None if ended() else lane.direct  # idle: a broadcast may write at once (direct.py)
            messages = await sub.get_batch()
            sub.direct = None  # working: what comes now is queued behind this batch
            if ended():
                return
            if sub.overflowed:  # too slow: end the stream; the client resumes by Last-Event-ID
                raise SlowConsumer("sse client too slow: its backlog passed the subscriber bound")
            if sub.stopped:
                return
            text = "".join(encode(m) for m in messages if m.seq > lane.last)
            if text:
                await write_watched(resp, text.encode(), sub)
                lane.last = max(lane.last, messages[-1].seq)
    finally:
        sub.direct = None


def _on_end(resp: EventSourceResponse, wake: Callable[[], None]) -> Callable[[], bool]:
    """Call ``wake`` when the response ends (its ping task ends: pings failed, or stop_streaming());
    returns whether it has. A callback on aiohttp-sse's ping task where it has one (no task of our
    own per connection); otherwise a task waiting on ``resp.wait()``."""
    ping = getattr(resp, "_ping_task", None)
    if isinstance(ping, asyncio.Task):
        ping.add_done_callback(lambda _t: wake())
        return ping.done
    ended = asyncio.ensure_future(resp.wait())
    ended.add_done_callback(lambda _f: wake())
    return ended.done


async def _session_ended(resp: EventSourceResponse) -> None:
    """Say why, then end the stream (the client's next request gets 401)."""
    try:
        await resp.write(control("session", {"expired": True}).encode())
    except (ConnectionError, RuntimeError):
        pass
    resp.stop_streaming()


def end_streams(app: web.Application) -> int:
    """End every open SSE response, NDJSON stream and held long poll
    (clients reconnect and resume: Last-Event-ID, ``after``)."""
    open_streams = app[STREAMS]
    streams = [r for r in open_streams if r.is_connected()]
    for resp in streams:
        resp.stop_streaming()
    held = app[HOLDS]
    holds = list(held)
    for hold in holds:
        hold.ended.set()
    return len(streams) + len(holds)
