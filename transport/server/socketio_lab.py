"""``/socket.io/``: the lab's feed over Socket.IO, served by python-socketio (a real implementation).

Each feed envelope is an event named after its topic, its one argument the envelope (so its ``seq``
reaches the client's ledger). python-socketio has no connection-state recovery, so the lab resumes a
client from what its CONNECT auth payload says — ``{"after": N, "epoch": E}`` — as ``/ws?after=``
does: a ``gap`` event if history no longer reaches back, the backlog, then ``live`` and live events,
in order (one task per connection sends them all). An event a client emits is published on the feed
(topic: the event's name) and acknowledged with its seq. ``always_connect``: the CONNECT answer goes
out before the replay starts.

The lab's rules hold here too: the Origin must be the lab's own (a middleware: python-engineio's own
CORS handling is off, so no CORS header is ever sent), and messages are bounded by ``--max-size``. And the
bounds python-socketio and python-engineio lack (issue 27):

- the bytes waiting in Engine.IO's queue for each session are counted (its queue has no limit): a client
  that does not read (a poller that stopped polling, a WebSocket whose peer stopped reading) is
  disconnected once the feed's per-client bound (16 MiB) waits for it, with the reason logged;
- a binary packet may announce at most ``MAX_ATTACHMENTS`` attachments (python-socketio takes ten digits'
  worth); a packet that does not decode (too deep, an unknown type) ends its client, said once in the log;
- closing a session never waits for a client that does not read (python-engineio waited on its queue
  forever: one pinned handler per such request); a request for a closed session is a 400 with a reason;
- what a client emits is checked as ``/api/messages`` checks a body (depth, finite numbers, size), and
  answered with an ack: its seq, or the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any, Awaitable

import engineio
import socketio
from aiohttp import web

from transport.server.bodies import BadInput, check, publish_client_message
from transport.core.envelope import GAP, LIVE
from transport.server.feed import Feed, Gap, Subscription, live_notice
from transport.server.keys import BACKPLANE, CONFIG, FEED, SOCKETIO, SOCKETIO_CLIENTS, SOCKETIO_REQUESTS, Handler
from transport.server.origin import origin_allowed
from transport.server.passthrough import answered

log = logging.getLogger("duplex.server.socketio")
PATH = "/socket.io/"
MAX_ATTACHMENTS = 10  # binary attachments one Socket.IO packet may announce


class _LabEngineIO(engineio.AsyncServer):
    async def disconnect(self, sid: str | None = None) -> None:
        """Close a session without waiting for its client to read the CLOSE packet (python-engineio
        waits on the session's queue, forever for a client that does not read)."""
        if sid is None:
            for one in list(self.sockets):
                await self.disconnect(one)
            return
        socket = self.sockets.get(sid)
        if socket is not None:
            await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
            self.sockets.pop(sid, None)
            if socket.upgraded:  # its WebSocket's writer ends and closes the connection (its reader would not)
                socket.queue.put_nowait(None)

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """A client that says goodbye (an Engine.IO CLOSE) gets its pending poll answered at once: python-engineio
        left it held until the ping timed out, so the official Python client's ``disconnect()`` over polling
        waited ~30 s for its last GET."""
        if event == "disconnect" and len(args) > 1 and args[1] == self.reason.CLIENT_DISCONNECT:
            socket = self.sockets.get(args[0])
            if socket is not None and not socket.upgraded:
                socket.queue.put_nowait(None)
        return await super()._trigger_event(event, *args, **kwargs)


class LabSocketIO(socketio.AsyncServer):
    """python-socketio with the lab's bounds on what a client sends (see the module's docstring)."""

    def _engineio_server_class(self) -> type:
        return _LabEngineIO

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        why = None
        if isinstance(data, str) and data[:1] in ("5", "6") and eio_sid not in self._binary_packet:
            dash = data.find("-")
            count = data[1:dash]
            if dash > 1 and count.isdigit() and int(count) > MAX_ATTACHMENTS:
                why = f"a binary packet announcing {int(count):,} attachments (at most {MAX_ATTACHMENTS})"
        if why is None:
            try:
                return await super()._handle_eio_message(eio_sid, data)
            except RecursionError:
                why = "a packet nested deeper than the lab parses"
            except ValueError as err:
                why = f"a packet that does not decode ({str(err)[:120]})"
        log.info("socket.io client %s disconnected: %s", eio_sid, why)
        self._binary_packet.pop(eio_sid, None)
        await self.eio.disconnect(eio_sid)


SOCKETIO_PING_S = 25.0  # Engine.IO's default ping interval: kept when the lab's heartbeat is off


def ping_settings(heartbeat: float | None) -> dict[str, float]:
    """Socket.IO's pings at the lab's heartbeat (its clients need pings: none means Engine.IO's default)."""
    if not heartbeat:
        return {}
    return {"ping_interval": heartbeat, "ping_timeout": max(heartbeat, 5.0)}


def set_heartbeat(sio: socketio.AsyncServer, heartbeat: float) -> None:
    """New Socket.IO connections ping at the lab's new heartbeat."""
    settings = ping_settings(heartbeat)
    sio.eio.ping_interval = settings.get("ping_interval", SOCKETIO_PING_S)
    sio.eio.ping_timeout = settings.get("ping_timeout", 20.0)


def attach(app: web.Application) -> None:
    cfg = app[CONFIG]
    # no gzip of polling answers: the lab compresses none of its transports, so Compare's bytes compare
    sio = LabSocketIO(async_mode="aiohttp", always_connect=True, cors_allowed_origins=[],
                      max_http_buffer_size=cfg.max_msg_size, http_compression=False, logger=False,
                      engineio_logger=False, **ping_settings(cfg.heartbeat))
    sio.attach(app, socketio_path="socket.io")
    app[SOCKETIO] = sio
    app[SOCKETIO_REQUESTS] = {}
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
        """A client's event: published on the feed (topic = its name), checked as /api/messages checks a
        body; the ack says its seq, or why not."""
        try:
            body = args[0] if args else None
            check(body, "the event's argument")
            msg = await publish_client_message(app, {"topic": event[:64], "body": body})
        except BadInput as err:
            return {"ok": False, "error": err.reason}
        return {"ok": True, "seq": msg.seq}

    async def stop(_app: web.Application) -> None:
        for task, _sub in list(pumps.values()):
            task.cancel()
        for request in list(app[SOCKETIO_REQUESTS].values()):  # within the lab's 2 s, whatever the clients do
            if request.transport is not None:
                request.transport.abort()
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
    sizes: deque[int] = deque()  # what this pump put in the session's queue and may still wait there
    waiting = 0

    async def send(event: str, text: str) -> None:
        nonlocal waiting
        socket = sio.eio.sockets.get(eio_sid)
        if socket is None:
            raise ConnectionResetError("the session is gone")
        queued = socket.queue.qsize()  # the oldest are read first: what left the queue is ours, oldest first
        while len(sizes) > queued:
            waiting -= sizes.popleft()
        packet = f"2[{json.dumps(event)},{text}]"
        if waiting + len(packet) > sub.limit_bytes:
            await cut(sio, eio_sid, f"{waiting:,} bytes wait in its queue (at most {sub.limit_bytes:,}): it "
                                    "does not read")
            raise ConnectionResetError("cut")
        sizes.append(len(packet))
        waiting += len(packet)
        await sio.eio.send(eio_sid, packet)

    try:
        if gap is not None:
            await send(GAP, gap.notice())
        for msg in backlog:
            await send(msg.topic, msg.text)
        await send(LIVE, live_notice(last))
        while True:
            batch = await sub.get_batch()
            if sub.overflowed or sub.stopped:
                await cut(sio, eio_sid, "the lab stops" if sub.stopped else "it fell behind the feed's bound")
                return
            for msg in batch:
                if msg.seq > last:
                    await send(msg.topic, msg.text)
                    last = msg.seq
    except asyncio.CancelledError:
        raise
    except Exception:  # a connection that went away mid-send
        log.debug("socket.io pump for %s ended", sid, exc_info=True)


async def cut(sio: socketio.AsyncServer, eio_sid: str, why: str) -> None:
    """Disconnect a session whatever its client does: what waits for it is dropped, the reason logged."""
    log.info("socket.io client %s disconnected: %s", eio_sid, why)
    socket = sio.eio.sockets.get(eio_sid)
    if socket is not None:
        queue = socket.queue
        while not queue.empty():
            queue.get_nowait()
            queue.task_done()
    await sio.eio.disconnect(eio_sid)


async def _session_over(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An Engine.IO request, known to the lab while it runs (a shutdown cuts what python-engineio would
    hold: a WebSocket writing to a client that does not read); one for a session that ended is a 400."""
    running = request.app[SOCKETIO_REQUESTS]
    running[id(request)] = request  # a Request is a mapping: not hashable
    try:
        return await handler(request)
    except KeyError:  # python-engineio's "Session is disconnected": the client asked after its end
        return web.json_response({"error": "this Engine.IO session is over: start a new one (a handshake "
                                           "without sid)"}, status=400)
    finally:
        running.pop(id(request), None)


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
        return _session_over(request, handler)
    return handler(request)
