"""``/socket.io/``: the lab's feed over Socket.IO, served by python-socketio (a real implementation).

Each feed envelope is an event named after its topic, its one argument the envelope (so its ``seq``
reaches the client's ledger). python-socketio has no connection-state recovery, so the lab resumes a
client from what its CONNECT auth payload says — ``{"after": N, "epoch": E}`` — as ``/ws?after=``
does: a ``gap`` event if history no longer reaches back, the backlog, then ``live`` and live events,
in order (one task per connection sends them all). An event a client emits is published on the feed
(topic: the event's name) and acknowledged with its seq. ``always_connect``: the CONNECT answer goes
out before the replay starts.

The lab's rules hold here too: the Origin must be the lab's own (a middleware: python-engineio's own
CORS handling is off, so no CORS header is ever sent), and messages are bounded by ``--max-size``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable

import socketio
from aiohttp import web

from .bodies import BadInput, publish_client_message
from .feed import Feed, Gap, Subscription
from .keys import BACKPLANE, CONFIG, FEED, SOCKETIO, SOCKETIO_CLIENTS, Handler
from .origin import origin_allowed
from .passthrough import answered

log = logging.getLogger("duplex.server.socketio")
PATH = "/socket.io/"


def attach(app: web.Application) -> None:
    cfg = app[CONFIG]
    # no gzip of polling answers: the lab compresses none of its transports, so Compare's bytes compare
    sio = socketio.AsyncServer(async_mode="aiohttp", always_connect=True, cors_allowed_origins=[],
                               max_http_buffer_size=cfg.max_msg_size, http_compression=False, logger=False,
                               engineio_logger=False)
    sio.attach(app, socketio_path="socket.io")
    app[SOCKETIO] = sio
    pumps: dict[str, tuple[asyncio.Task[None], Subscription]] = {}
    app[SOCKETIO_CLIENTS] = pumps  # the Server tab counts them

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        feed: Feed = app[FEED]
        try:
            after, epoch = resume_point(auth)
        except BadInput as err:
            raise socketio.exceptions.ConnectionRefusedError(err.reason) from None
        backplane = app.get(BACKPLANE)
        if backplane is not None and after is not None:  # cluster: this worker may not have read it yet
            await backplane.caught_up(after)
        sub = feed.subscribe()  # before the snapshot, in the same step: nothing falls between
        sub.what = "socket.io"
        gap, backlog, last = feed.resume(after, epoch)
        task = asyncio.ensure_future(pump(sio, sid, feed, sub, gap, backlog, last))
        pumps[sid] = (task, sub)
        return True

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        entry = pumps.pop(sid, None)
        if entry is not None:
            task, sub = entry
            task.cancel()
            app[FEED].unsubscribe(sub)

    @sio.on("*")
    async def any_event(event: str, sid: str, *args: Any) -> dict[str, Any]:
        """A client's event: published on the feed (topic = its name); the ack says its seq."""
        try:
            msg = await publish_client_message(app, {"topic": event[:64], "body": args[0] if args else None})
        except BadInput as err:
            return {"ok": False, "error": err.reason}
        return {"ok": True, "seq": msg.seq}

    async def stop(_app: web.Application) -> None:
        for task, _sub in list(pumps.values()):
            task.cancel()
        await sio.shutdown()

    app.on_shutdown.append(stop)


def resume_point(auth: Any) -> tuple[int | None, str | None]:
    if auth is None:
        return None, None
    if not isinstance(auth, dict):
        raise BadInput("the CONNECT auth payload must be an object, like {\"after\": 41, \"epoch\": \"…\"}")
    after, epoch = auth.get("after"), auth.get("epoch")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
        raise BadInput('"after" must be a sequence number (an integer from 0)')
    if epoch is not None and (not isinstance(epoch, str) or len(epoch) > 64):
        raise BadInput('"epoch" must be the string the lab named its numbering with')
    return after, epoch


async def pump(sio: socketio.AsyncServer, sid: str, feed: Feed, sub: Subscription, gap: Gap | None,
               backlog: list[Any], last: int) -> None:
    """One connection's feed, in order: the gap notice, the backlog, live, then live events.

    An event is python-engineio's message carrying the Socket.IO EVENT packet ``2["topic",<envelope>]``
    (the default namespace, no ack), written from the envelope's text as the feed keeps it: python-socketio's
    ``emit`` would parse each envelope and serialise it again, per client."""
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")

    async def send(event: str, text: str) -> None:
        await sio.eio.send(eio_sid, f"2[{json.dumps(event)},{text}]")

    try:
        if gap is not None:
            await send("gap", json.dumps({"control": "gap", **gap.to_dict()}, separators=(",", ":")))
        for msg in backlog:
            await send(msg.topic, msg.text)
        await send("live", json.dumps({"control": "live", "seq": last}, separators=(",", ":")))
        while True:
            batch = await sub.get_batch()
            if sub.overflowed or sub.stopped:
                log.info("socket.io client %s too slow or the lab stops: disconnecting it", sid)
                await sio.disconnect(sid)
                return
            for msg in batch:
                if msg.seq > last:
                    await send(msg.topic, msg.text)
                    last = msg.seq
    except asyncio.CancelledError:
        raise
    except Exception:  # a connection that went away mid-send
        log.debug("socket.io pump for %s ended", sid, exc_info=True)


@web.middleware
def socketio_origin(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """``/socket.io/`` takes requests from the lab's own pages only (every method, the upgrade included).
    (Pass-through, as the lab's other checks: passthrough.py.)"""
    if request.path.startswith(PATH):
        cfg = request.app[CONFIG]
        if not origin_allowed(request, cfg.allowed_origins):
            return answered(web.json_response({"error": "cross-origin requests are not allowed on /socket.io/"},
                                              status=403))
        if request.method == "POST" and (request.content_length is None
                                         or request.content_length > cfg.max_msg_size):
            # python-engineio does not answer a body over its limit (the request hangs): the lab does
            return answered(web.json_response({"error": f"a polling body must name its length and be at most "
                                                        f"{cfg.max_msg_size:,} bytes (--max-size)"}, status=413))
    return handler(request)
