"""The polling family: short polling, long polling and HTTP streaming of the feed.

- ``GET /api/poll?after=N[&limit=L]`` answers at once with a JSON list of the
  envelopes with seq > N still in history (often ``[]``), with an ``ETag`` (a hash of the body) and
  ``Cache-Control: no-cache``; a request whose ``If-None-Match`` names that tag gets ``304 Not Modified``
  with no body (RFC 9110 §13.1.2, weak comparison): an idle poll costs its heads only.
- ``GET /api/longpoll?after=N[&timeout=S][&limit=L]`` answers at once when
  there is something after N, otherwise holds the request until a message
  arrives or S seconds pass (then ``[]``).
- ``GET /api/stream?after=N`` keeps one chunked response open and writes one
  envelope per line (NDJSON), a bare newline as heartbeat.

Control items share the list (or the line stream) with envelopes and carry
no ``seq``: ``{"control": "gap", "after", "first_available", "missing"}`` first
when N has fallen out of history; ``{"control": "live", "seq": S}`` as the
whole answer to a request without ``after`` (start from S), and on the stream
after the replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Iterator

from aiohttp import web

from transport.core.wire import EPOCH_HEADER, POLL_DEFAULT_LIMIT, POLL_MAX_LIMIT
from transport.server.bodies import BadInput
from transport.server.feed import Feed, Message, Subscription, live_notice
from transport.server.keys import CONFIG, FEED, HOLDS
from transport.server.state import Hold, SlowConsumer, write_watched
from transport.server.session_http import bind
from transport.server.ws import parse_after

log = logging.getLogger("duplex.server.polling")

DEFAULT_LIMIT = POLL_DEFAULT_LIMIT
MAX_LIMIT = POLL_MAX_LIMIT
DEFAULT_HOLD_S = 25.0
MAX_HOLD_S = 120.0
JSON_TYPE = "application/json"
NDJSON_TYPE = "application/x-ndjson"


def _number(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name!r} must be a number, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadInput(f"{name!r} must be from {low:g} to {high:g}")
    return value


def collect(feed: Feed, after: int | None, limit: int, epoch: str | None) -> tuple[list[str], int]:
    """The items for a request after N (of numbering ``epoch``; JSON texts) and how many are feed messages."""
    if after is None:
        return [live_notice(feed.last_seq)], 0
    backlog, gap = feed.since(after, epoch)
    items = []
    if gap is not None:
        items.append(gap.notice())
    items += [m.text for m in backlog[:limit]]
    return items, min(len(backlog), limit)


def json_list(items: list[str]) -> web.Response:
    return web.Response(body=("[" + ",".join(items) + "]").encode(), content_type=JSON_TYPE,
                        headers={"Cache-Control": "no-store"})


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=9).hexdigest() + '"'


def none_match(header: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (or is ``*``): weak comparison, as for GET."""
    if not header:
        return False
    for given in header[:4096].split(","):
        given = given.strip()
        if given == "*" or given.removeprefix("W/") == tag:
            return True
    return False


async def poll_handler(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    limit = int(_number(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT))
    items, _ = collect(feed, parse_after(request), limit, request.headers.get(EPOCH_HEADER))
    body = ("[" + ",".join(items) + "]").encode()
    tag = etag_of(body)
    headers = {"Cache-Control": "no-cache", "ETag": tag}  # stored, but asked again every time
    if none_match(request.headers.get("If-None-Match"), tag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=JSON_TYPE, headers=headers)


async def longpoll_handler(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    after = parse_after(request)
    limit = int(_number(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT))
    hold_s = _number(request, "timeout", DEFAULT_HOLD_S, 0, MAX_HOLD_S)
    with holding(request) as (sub, hold):  # subscribed before looking: nothing slips by
        epoch = request.headers.get(EPOCH_HEADER)
        items, found = collect(feed, after, limit, epoch)
        if after is not None and not found and hold_s > 0:
            await _wait(sub, hold, hold_s)
            items, _ = collect(feed, after, limit, epoch)
    return json_list(items)


@contextlib.contextmanager
def holding(request: web.Request) -> Iterator[tuple[Subscription, Hold]]:
    """A feed subscription and a Hold that faults, shutdown and the session's end can release."""
    app = request.app
    feed = app[FEED]
    sub = feed.subscribe(app[CONFIG].subscriber_backlog, app[CONFIG].subscriber_bytes)
    sub.transport = request.transport
    hold = Hold("stream" if request.path.endswith("/stream") else "long_poll")
    app[HOLDS].add(hold)
    unbind = bind(request, hold.ended.set)
    try:
        yield sub, hold
    finally:
        unbind()
        feed.unsubscribe(sub)
        app[HOLDS].discard(hold)


async def _wait(sub: Subscription, hold: Hold, seconds: float) -> list[Message] | None:
    """The next published messages, or None when the hold is ended or ``seconds`` pass."""
    batch = asyncio.ensure_future(sub.get_batch())
    ended = asyncio.ensure_future(hold.ended.wait())
    try:
        await asyncio.wait({batch, ended}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        return batch.result() if batch.done() else None
    finally:
        batch.cancel()
        ended.cancel()


async def stream_handler(request: web.Request) -> web.StreamResponse:
    cfg, feed = request.app[CONFIG], request.app[FEED]
    after = parse_after(request)
    resp = web.StreamResponse(headers={"Content-Type": NDJSON_TYPE, "Cache-Control": "no-store",
                                       **cfg.stream_headers()})
    resp.enable_chunked_encoding()
    with holding(request) as (sub, hold):
        try:
            await resp.prepare(request)
            await _stream(resp, feed, sub, hold, after, request.headers.get(EPOCH_HEADER), cfg.sse_heartbeat)
        except SlowConsumer as exc:  # ended, as /ws ends one with 1013; the client resumes by after=
            log.info("%s: ending its stream", exc)
            if request.transport is not None:
                request.transport.abort()
        except (ConnectionError, RuntimeError) as exc:  # the client went away mid-write
            log.debug("stream ended: %s", exc)
    return resp


async def _stream(resp: web.StreamResponse, feed: Feed, sub: Subscription, hold: Hold, after: int | None,
                  epoch: str | None, heartbeat: float) -> None:
    """The replay, the live marker, then live lines and heartbeats until the hold ends."""
    gap, backlog, last = feed.resume(after, epoch)
    head = [gap.notice()] if gap is not None else []
    head += [m.text for m in backlog]
    head.append(live_notice(last))
    await write_watched(resp, ("\n".join(head) + "\n").encode(), sub)
    while not hold.ended.is_set():
        batch = await _wait(sub, hold, heartbeat)
        if sub.overflowed:
            raise SlowConsumer("stream client too slow: its backlog passed the subscriber bound")
        if sub.stopped:
            return
        if batch is None:
            if not hold.ended.is_set():
                await write_watched(resp, b"\n", sub)  # heartbeat; finds a client that left
            continue
        fresh = [m for m in batch if m.seq > last]
        if fresh:
            last = fresh[-1].seq
            await write_watched(resp, ("\n".join(m.text for m in fresh) + "\n").encode(), sub)
