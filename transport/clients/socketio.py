"""The Socket.IO client: Engine.IO v4 over Duplex's own HTTP (aiohttp) and WebSocket (websockets) stacks.

The real sequence, every step a row: the handshake over polling (sid, pingInterval, pingTimeout,
maxPayload, upgrades), the polling requests, the upgrade probe (``2probe`` / ``3probe``: its round trip
is the RTT) and the switch (``5``), the server's pings and Duplex's pongs (a late ping flagged), the
CONNECT to a namespace with an auth payload, events with their name and arguments, emits with acks and
their round trip, disconnects with the reason. ``transports``: ``upgrade`` (polling, then WebSocket),
``polling`` or ``websocket``. It reconnects by the shared reconnect rules; against a Duplex lab it
resumes with ``{"after", "epoch"}`` in its CONNECT auth, against a server that offers connection-state
recovery (Socket.IO 4.6+) with ``{"pid", "offset"}``. The codec is transport/core/socketio_codec.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
from yarl import URL
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from transport.clients.tls import tls_meta, tls_words, ws_tls
from transport.core.backoff import Policy
from transport.clients.virtual_browser import VirtualBrowser
from transport.core.errors import BadStatus, ConnectFailed, DuplexError, ProtocolViolation, ServerStopped
from transport.core.sequence import socketio_message
from transport.core.events import EventSink, now_ns
from transport.core.socketio_codec import (ACK, BINARY_ACK, BINARY_EVENT, CLOSE, CONNECT, CONNECT_ERROR, DISCONNECT, EVENT,
                              MESSAGE, NOOP, OPEN, PING, PONG, PROBE, UPGRADE, CodecError, EioPacket, SioDecoder,
                              SioPacket, eio_decode, eio_encode, lab_item, open_info, payload_decode, payload_encode,
                              sio_encode)
from transport.core.wirestats import WireStats
from transport.clients.base import ClientBase
from transport.core.errors import snippet
from transport.clients.http import SessionOwner, WireCounter, count_response, new_session, read_body, validate_http_url
from transport.clients.ws_connection import FeedConnection
from transport.core.wire import served_by, served_note

log = logging.getLogger("duplex.clients.socketio")

MODES = ("upgrade", "polling", "websocket")
CLOSE_TIMEOUT = 2.0  # the WebSocket client's own default: a closing handshake the link does not carry


@dataclass(slots=True)
class SocketIOOptions:
    url: str  # http(s)://host:port (the Engine.IO path below it is ``path``)
    namespace: str = "/"
    auth: dict[str, Any] | None = None
    transports: str = "upgrade"
    path: str = "/socket.io/"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Socket.IO's own defaults: 1 s doubling to 5 s, ±50 % jitter (the client's reconnectionDelay…)
    policy: Policy | None = field(default_factory=lambda: Policy("exponential", 1.0, 5.0, 2.0, 0.5))
    resume: bool = True  # a Duplex lab: {"after", "epoch"} in the CONNECT auth when reconnecting
    # another server: how its events are numbered (a JSON pointer reads the first argument) and how a
    # reconnect asks it to resume (query:NAME, or message:EVENT JSON-ARGS); transport/core/sequence.py
    seq_rule: str = "auto"
    resume_rule: str = "auto"
    open_timeout: float = 10.0
    ack_timeout: float = 10.0
    max_size: int = 16 << 20
    max_failures: int | None = None
    one_way_latency: bool | None = None
    verify_tls: bool = True  # False: the insecure switch (every row says so)
    ca_file: str | None = None  # trust this CA (PEM) and nothing else
    browser: VirtualBrowser | None = None


def validate_url(url: str) -> str:
    return validate_http_url(url, "a Socket.IO server")


class SocketIOClient(ClientBase, SessionOwner):
    transport = "socketio"
    options: SocketIOOptions

    def __init__(self, options: SocketIOOptions, sink: EventSink) -> None:
        if options.transports not in MODES:
            raise DuplexError(f"Socket.IO transports: one of {', '.join(MODES)}, not {options.transports!r}.")
        self.counter = WireCounter()
        super().__init__(options, sink, log, stats=WireStats(self.counter))
        self._session: aiohttp.ClientSession | None = None
        self._ws: ClientConnection | None = None
        self._sid: str | None = None  # Engine.IO's session
        self.info: dict[str, Any] = {}
        self._handshake_worker: str | None = None  # the cluster worker that answered the handshake, if named
        self.pid: str | None = None  # connection-state recovery: the server's private session id…
        self.offset: str | None = None  # …and the last event's offset
        self._acks: dict[int, tuple[asyncio.Future[list[Any]], int]] = {}
        self._ack_ids = itertools.count(1)
        self._last_ping: float | None = None
        self.rtt_ms: float | None = None  # the upgrade probe's round trip
        self.via = ""  # polling or websocket, now
        self._early_frames: list[Any] = []  # frames read with the handshake or the probe's answer
        self._handling: asyncio.Future[None] | None = None  # the packet being handled (in order)
        self._fatal: DuplexError | None = None  # what a packet said that ends the run (a refusal)
        self._ended: str | None = None
        # pingInterval + pingTimeout without a ping: the connection is dead. The wait is kept here, not asked
        # of the handle: qasync's call_later returns a plain Handle (no when()), the window's loop
        self._watchdog: asyncio.Handle | None = None
        self._watchdog_idle = 0.0
        self._engine_query_url: str | None = None  # the user's URL as a query:NAME rule changes it, per connection

    # -- the Client protocol ---------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.state == "open"

    def drop(self) -> bool:
        ws = self._ws
        if ws is not None and ws.transport is not None:
            self._emit("state", "fault", data="connection dropped (TCP abort)", meta={"fault": "drop"})
            ws.transport.abort()
            return True
        return False

    async def send(self, payload: str | bytes) -> None:
        """A text is an event ``message`` with that argument (JSON text: its value)."""
        arg: Any = payload
        if isinstance(payload, str):
            try:
                arg = json.loads(payload)
            except ValueError:
                arg = payload
        await self.emit("message", [arg], ack=False)

    async def emit(self, event: str, args: list[Any], ack: bool = True) -> list[Any] | None:
        """Emit ``event`` with ``args``; with ``ack``, wait for the server's ack and return its arguments."""
        if not self.connected:
            raise DuplexError("Not connected: connect first, then emit.")
        ident = next(self._ack_ids) if ack else None
        parts = sio_encode(EVENT, [event, *args], self.options.namespace, ident)
        t = now_ns()
        future: asyncio.Future[list[Any]] | None = None
        if ident is not None:
            future = asyncio.get_running_loop().create_future()
            self._acks[ident] = (future, t)
        text = parts[0] if isinstance(parts[0], str) else ""
        self._emit("out", "emit", t=t, size=len(text.encode()), data=text,
                   meta={"event": event, **({"ack": ident} if ident is not None else {})})
        await self._send_parts(parts)
        if future is None:
            return None
        try:
            return await asyncio.wait_for(future, self.options.ack_timeout)
        except asyncio.TimeoutError:
            raise DuplexError(f"No ack for {event!r} within {self.options.ack_timeout:g} s.") from None
        finally:
            self._acks.pop(ident or 0, None)

    # -- the run loop's I/O ----------------------------------------------------------------------
    def _validate(self, url: str) -> str:
        return validate_url(url)

    async def _close_connection(self) -> None:
        """Leave the namespace, then end the transport: the WebSocket's close, or the HTTP session (a
        long poll the server holds ends at once)."""
        ws = self._ws
        if ws is not None:
            try:
                if self.connected:
                    for part in sio_encode(DISCONNECT, None, self.options.namespace):
                        await ws.send(eio_encode(EioPacket(MESSAGE, part)))
            except (ConnectionClosed, OSError):
                pass
            await ws.close()
        elif self._session is not None:
            await self._discard_session()

    async def _finish(self) -> None:
        await self._discard_session()

    def _engine_url(self, url: str, transport: str, sid: str | None = None, ws: bool = False) -> str:
        parts = urlsplit(url)
        scheme = parts.scheme
        if ws:
            scheme = "wss" if scheme == "https" else "ws"
        # the user's own query goes with every request (as the official client's ``query``), a query:NAME
        # resume rule's parameter with it
        own = parse_qsl(urlsplit(self._engine_query_url or url).query, keep_blank_values=True)
        query = {**{k: v for k, v in own if k not in ("EIO", "transport", "sid", "t")},
                 "EIO": "4", "transport": transport, **({"sid": sid} if sid else {})}
        if transport == "polling":
            query["t"] = f"{time.monotonic_ns():x}"[-8:]  # no cache may answer a poll
        path = self.options.path if self.options.path.endswith("/") else self.options.path + "/"
        return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))

    async def _connection(self, url: str) -> str | None:
        o = self.options
        self._ws, self._sid, self.via = None, None, ""
        self._decoder = SioDecoder()
        self._engine_query_url = None if self.receiver.lab else self.receiver.resume_rule.url(url, self.receiver.after)
        self._set_state("connecting")
        try:
            return await self._engine_session(url)
        except DuplexError as err:
            if not err.fatal and self.state == "open" and not self._closing:
                self.receiver.connection_lost()  # the session ended under an error: a drop episode
            raise
        except (aiohttp.ClientError, OSError, ConnectionClosed, asyncio.TimeoutError):
            if self.state == "open" and not self._closing:
                self.receiver.connection_lost()
            raise

    async def _engine_session(self, url: str) -> str | None:
        o = self.options
        if o.transports == "websocket":
            await self._open_websocket(url, handshake=True)
        else:
            await self._handshake_polling(url)
        await self._send_parts(sio_encode(CONNECT, self._connect_auth(), o.namespace))
        if o.transports == "polling":
            return await self._poll_loop(url)
        if o.transports == "upgrade":
            await self._poll_once(url)  # the CONNECT's answer (and what came with it) over polling
            if "websocket" in self.info.get("upgrades", []) and not self._closing and await self._upgrade(url):
                return await self._ws_loop()
            return await self._poll_loop(url)
        return await self._ws_loop()

    def _connect_auth(self) -> dict[str, Any] | None:
        auth = dict(self.options.auth or {})
        if self.receiver.lab and self.options.resume and self.receiver.after is not None:
            self.receiver.resume_started()  # what comes before the lab's live event is a replay
            auth["after"] = self.receiver.after
            if self.receiver.epoch:
                auth["epoch"] = self.receiver.epoch
        if self.pid is not None:
            auth["pid"] = self.pid
            if self.offset is not None:
                auth["offset"] = self.offset
        return auth or None

    # polling
    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = new_session(self.counter, self.options.open_timeout, self.options.verify_tls,
                                        jar=self._jar, ca_file=self.options.ca_file)
        return self._session

    async def _handshake_polling(self, url: str) -> None:
        target = self._engine_url(url, "polling")
        packets = await self._get(target, "handshake request")
        if not packets:
            raise ProtocolViolation("The Socket.IO server's handshake was empty.")
        self._on_open(packets[0], "polling")
        for pkt in packets[1:]:
            await self._handle(pkt, now_ns(), None)

    async def _get(self, target: str, what: str) -> list[EioPacket]:
        session = await self._http()
        self.counter.mark()
        t = now_ns()
        self._emit("out", "request", t=t, data=f"GET {target}", meta={"poll": what})
        timeout = self.options.open_timeout + self.info.get("pingInterval", 25000) / 1000
        async with asyncio.timeout(timeout):
            async with session.get(target, headers=self._request_headers()) as resp:
                body = await read_body(resp, self.options.max_size, timeout, target)
        self.receiver.note_epoch(resp.headers, ok=resp.status == 200)
        sent, received = self.counter.mark()
        text = body.decode("utf-8", "replace")
        if resp.status != 200:
            raise self._refused(resp, body, f"the {what}")
        if what == "handshake request":
            self._handshake_worker = served_by(resp.headers).get("worker")
        try:
            packets = payload_decode(text)
        except CodecError as err:
            raise ProtocolViolation(f"The {what} poll's answer is not Engine.IO: {err.sentence}") from None
        heads, cookies = count_response(self.stats, resp)
        self._emit("in", "response", t=now_ns(), wire=sent + received, size=len(body),
                   data=f"{resp.status} · {len(packets)} packets" + served_note(resp.headers),
                   meta={**served_by(resp.headers), "status": resp.status, "poll": what,
                                                                          "packets": len(packets), "heads": heads,
                                                                          "cookies": cookies})
        return packets

    def _refused(self, resp: aiohttp.ClientResponse, body: bytes, what: str) -> DuplexError:
        """The error for a polling request's non-200 answer. Within a session (it has a sid) any such answer is
        a transport error, as the official client takes it: not fatal, a new handshake follows — a 400
        naming the session ("Session ID unknown", "Invalid session") says the server forgot it. Only when two
        workers of a Duplex cluster are seen to disagree is the cause known for sure and said (the balancer
        is not sticky, fatal). The handshake request's own 4xx stays fatal: the URL or the server is wrong."""
        said = f"The Socket.IO server answered HTTP {resp.status} to {what} ({snippet(body)})."
        if self._sid is None:
            return BadStatus(said, resp.status)
        forgot = resp.status == 400 and any(k in body for k in (b"Invalid session", b"Session ID unknown",
                                                                  b'"code":1'))
        here, there = served_by(resp.headers).get("worker"), self._handshake_worker
        if forgot and here and there and here != there:
            return BadStatus(said + f" Engine.IO's polling needs every request of a session on the server that "
                             f"opened it (the handshake was served by {there}, this request by {here}): behind a "
                             "load balancer that takes sticky sessions (by cookie or source address), or connect "
                             "with WebSocket only.", resp.status)
        if forgot:
            return DuplexError(said + f" The server no longer knows Engine.IO session {self._sid}: a new handshake "
                               "follows (as the official client does).")
        return DuplexError(said + " A transport error within Engine.IO session "
                           f"{self._sid}: a new handshake follows (as the official client does).")

    async def _post(self, packets: list[EioPacket]) -> None:
        session = await self._http()
        target = self._engine_url(self.options.url, "polling", self._sid)
        self.counter.mark()
        async with asyncio.timeout(self.options.open_timeout):
            async with session.post(target, data=payload_encode(packets).encode(),
                                    headers={"Content-Type": "text/plain;charset=UTF-8", **dict(self._request_headers())}
                                    ) as resp:
                body = await resp.read()
        sent, received = self.counter.mark()
        if resp.status != 200:
            raise self._refused(resp, body, "a polling send")
        heads, cookies = count_response(self.stats, resp)
        self._emit("out", "send", t=now_ns(), wire=sent + received, data=f"POST {len(packets)} packets",
                   meta={"via": "polling", "heads": heads, "cookies": cookies})

    async def _poll_once(self, url: str) -> bool:
        packets = await self._get(self._engine_url(url, "polling", self._sid), "poll")
        t = now_ns()
        for pkt in packets:
            if not await self._handle(pkt, t, None):
                return False
        return True

    async def _poll_loop(self, url: str) -> str:
        self.via = "polling"
        while not self._closing:
            try:
                if not await self._poll_once(url):
                    return "the server closed the Engine.IO session"
            except (aiohttp.ClientError, OSError):
                if self._closing:  # close() ended the held poll: not a failure
                    return "closed"
                raise
        return "closed"

    # websocket
    async def _open_websocket(self, url: str, handshake: bool) -> None:
        target = self._engine_url(url, "websocket", None if handshake else self._sid, ws=True)
        headers = self._request_headers()
        if self.options.browser is not None:
            cookie = self.options.browser.cookie_header(url)
            if cookie:
                headers.append(("Cookie", cookie))
        elif self._session is not None:  # the polling requests' cookies go with the upgrade, as a browser's
            jar = self._session.cookie_jar.filter_cookies(URL(url))  # (a balancer's sticky cookie among them)
            if jar:
                headers.append(("Cookie", "; ".join(f"{k}={m.value}" for k, m in jar.items())))
        self._emit("out", "request", data=f"GET {target}", meta={"upgrade": "websocket"})
        ws = await connect(target, additional_headers=headers or None, open_timeout=self.options.open_timeout,
                           max_size=self.options.max_size, ping_interval=None, compression=None, proxy=None,
                           close_timeout=CLOSE_TIMEOUT,  # a close through a stalled link ends in 2 s, not 10
                           create_connection=FeedConnection.factory(self.options.max_size),  # type: ignore[arg-type]
                           **ws_tls(target, self.options.verify_tls, self.options.ca_file))
        assert isinstance(ws, FeedConnection)
        self._ws = ws
        if ws.response is not None:
            self.receiver.note_epoch(ws.response.headers)
            head = ws.response.headers
            self._emit("in", "response", data=f"{ws.response.status_code} {ws.response.reason_phrase}"
                       + served_note(head), meta={**served_by(head), "status": ws.response.status_code,
                                                  "headers": dict(head.raw_items()), "upgrade": "websocket"})
        if handshake:
            raw = await self._next_frame(ws)
            self._on_open(eio_decode(raw), "websocket")

    async def _next_frame(self, ws: FeedConnection) -> str | bytes:
        """The next frame, read on its own (the handshake, the probe's answer): the sink is set per read."""
        got: asyncio.Future[str | bytes] = asyncio.get_running_loop().create_future()
        extra: list[Any] = []

        def take(frames: list[Any], _t: int) -> None:
            for frame in frames:
                if not got.done():
                    got.set_result(frame[0])
                else:
                    extra.append(frame)

        ws.attach(take)
        try:
            return await asyncio.wait_for(got, self.options.open_timeout)
        finally:
            self._early_frames = extra  # what came with it, for the read loop

    async def _upgrade(self, url: str) -> bool:
        """The probe (``2probe`` → ``3probe``, its round trip the RTT) and the switch (``5``). An upgrade the
        server refuses outright (its WebSocket handshake answered with another status than 101: it never began
        an upgrade) keeps the session on polling, as Engine.IO says and the official client does: False, with
        a row that says why. A probe that fails once the WebSocket opened leaves the server mid-upgrade (it
        may hold the session's messages for the switch): that session is given up and a new one made."""
        t0 = time.monotonic()
        try:
            await self._open_websocket(url, handshake=False)
        except InvalidStatus as exc:  # an answer, not a lost one: the server said no
            why = f"the server answered {exc.response.status_code} {exc.response.reason_phrase}"
            self._emit("state", "note", data=f"the WebSocket upgrade was refused ({why}): staying on polling, as "
                       "Engine.IO says", meta={"upgrade": "failed", "why": why})
            return False
        ws = self._ws
        assert isinstance(ws, FeedConnection)
        try:
            await ws.send(str(eio_encode(EioPacket(PING, PROBE))))
            async with asyncio.timeout(self.options.open_timeout):
                while True:
                    pkt = eio_decode(await self._next_frame(ws))
                    if pkt.type == PONG and pkt.data == PROBE:
                        break
        except (ConnectionClosed, OSError, asyncio.TimeoutError, CodecError) as exc:
            why = "no answer to the probe in time" if isinstance(exc, asyncio.TimeoutError) else \
                str(exc) or type(exc).__name__
            self._ws = None
            if ws.transport is not None:
                ws.transport.abort()
            raise ConnectFailed(f"The WebSocket upgrade's probe failed ({why}): the server may be holding the "
                                "session for the switch, so a new session follows.") from None
        self.rtt_ms = (time.monotonic() - t0) * 1e3
        await ws.send(str(eio_encode(EioPacket(UPGRADE))))
        self.via = "websocket"
        self._emit("state", "upgrade", data=f"upgraded to WebSocket (probe round trip {self.rtt_ms:.2f} ms)",
                   latency_ms=round(self.rtt_ms, 3), meta={"rtt_ms": round(self.rtt_ms, 3), "latency": "rtt"})
        return True

    async def _ws_loop(self) -> str:
        """Frames as each socket read brings them (one hand-over per read, no recv() per frame); the server's
        pings keep a watchdog at bay (pingInterval + pingTimeout)."""
        ws = self._ws
        assert isinstance(ws, FeedConnection)
        self.via = "websocket"
        idle = (self.info.get("pingInterval", 25000) + self.info.get("pingTimeout", 20000)) / 1000
        self._ended, self._fatal = None, None
        self._arm_watchdog(ws, idle)
        early, self._early_frames = self._early_frames, []
        if early:
            self._on_frames(early, now_ns())
        ws.attach(self._on_frames)
        if self._closing:  # close() came while this WebSocket was being opened: it found none to close
            await self._close_connection()
        try:
            await ws.wait_closed()
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            self._ws = None
        if self._handling is not None:
            await asyncio.gather(self._handling, return_exceptions=True)
        if ws.sink_error is not None:
            raise ws.sink_error
        if self._fatal is not None:
            raise self._fatal
        if self._ended:
            return self._ended
        if not self._closing:
            self._emit("state", "close", data="WebSocket closed", meta={"by": "network"})
            self.receiver.connection_lost()
        return "the WebSocket closed"

    def _arm_watchdog(self, ws: ClientConnection, idle: float) -> None:
        self._watchdog_idle = idle
        self._watchdog = asyncio.get_running_loop().call_later(idle, self._silent, ws, idle)

    def _silent(self, ws: ClientConnection, idle: float) -> None:
        self._ended = f"no ping from the server for {idle:g} s (pingInterval + pingTimeout)"
        self._emit("state", "close", data=self._ended, meta={"by": "client"})
        self.receiver.connection_lost()
        if ws.transport is not None:
            ws.transport.abort()

    def _on_frames(self, frames: list[Any], t: int) -> None:
        """One read's frames: the lab's events through the receiver's batch path at once, the rest in order."""
        run: list[tuple[str, int, int | None]] = []
        metas: list[dict[str, Any]] = []
        with self._outbox.batch():
            for data, size, wire in frames:
                found = self._lab_event(data, 1)  # a frame still has its Engine.IO type ("4")
                if found is not None:
                    run.append((found[1], len(found[1].encode()), wire))
                    metas.append({"event": found[0]})
                    continue
                if run:
                    self.receiver.texts(run, t, metas=metas)
                    run, metas = [], []
                self._spawn_handle(eio_decode(data), t, wire)
            if run:
                self.receiver.texts(run, t, metas=metas)

    def _lab_event(self, data: object, at: int) -> tuple[str, str] | None:
        """``(event, envelope text)`` when ``data[at:]`` is a Socket.IO event on the default namespace, with no ack,
        whose one argument is a lab envelope: read without a JSON parse (the common case); else None."""
        if type(data) is not str or not data.startswith('2["', at) or self.pid is not None or self._decoder.waiting \
                or not self.receiver.lab:
            return None
        end = data.find('",', at + 3)
        if end < 0 or not data.startswith('{"seq":', end + 2) or not data.endswith("}]") \
                or "\\" in data[at + 3:end]:
            return None
        return data[at + 3:end], data[end + 2:-1]

    def _spawn_handle(self, pkt: EioPacket, t: int, wire: int | None) -> None:
        """A packet that may need an answer (a pong, an ack): handled in order, after what came before."""
        previous = self._handling

        async def handle() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                if not await self._handle(pkt, t, wire):
                    self._ended = "the server closed the Engine.IO session"
                    if self._ws is not None:
                        await self._ws.close()
            except DuplexError as err:
                self._ended = err.sentence
                self._fatal = err
                if self._ws is not None and self._ws.transport is not None:
                    self._ws.transport.abort()

        self._handling = asyncio.ensure_future(handle())

    async def _send_parts(self, parts: list[str | bytes]) -> None:
        packets = [EioPacket(MESSAGE, p) for p in parts]
        ws = self._ws
        if ws is not None and (self.via == "websocket" or self.options.transports == "websocket"):
            for pkt in packets:
                await ws.send(eio_encode(pkt))
        else:
            await self._post(packets)

    # -- what arrives ------------------------------------------------------------------------------
    def _on_open(self, pkt: EioPacket, via: str) -> None:
        try:
            self.info = open_info(pkt)
        except CodecError as err:
            raise ProtocolViolation(err.sentence) from None
        self._sid = self.info["sid"]
        self._last_ping = time.monotonic()
        self._emit("in", "handshake", data=f"Engine.IO sid {self._sid} over {via}", meta={
            k: self.info.get(k) for k in ("sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload")})

    async def _handle(self, pkt: EioPacket, t: int, wire: int | None) -> bool:
        """One Engine.IO packet; False when the session is over."""
        kind = pkt.type
        if kind == PING:
            if self._watchdog is not None and self._ws is not None:  # the server is alive: wait again
                self._watchdog.cancel()
                self._arm_watchdog(self._ws, self._watchdog_idle)
            now = time.monotonic()
            gap_ms = (now - self._last_ping) * 1e3 if self._last_ping is not None else None
            self._last_ping = now
            late = gap_ms is not None and gap_ms > self.info.get("pingInterval", 25000) * 1.2
            self._emit("in", "ping", t=t, wire=wire, data="ping" + (f" after {gap_ms:.0f} ms" if gap_ms else ""),
                       meta={"gap_ms": round(gap_ms, 1) if gap_ms else None, **({"late": True} if late else {})})
            await self._send_eio(EioPacket(PONG))
            self._emit("out", "pong", data="pong")
            return True
        if kind == MESSAGE:
            data = pkt.data
            found = self._lab_event(data, 0)
            if found is not None:
                self.receiver.text(found[1], t, wire, {"event": found[0]})
                return True
            try:
                spkt = self._decoder.feed(pkt.data)
            except CodecError as err:
                raise ProtocolViolation(err.sentence) from None
            if spkt is not None:
                await self._on_socketio(spkt, t, wire, pkt.data)
            return True
        if kind == CLOSE:
            self._emit("state", "close", t=t, data="the server closed the Engine.IO session", meta={"by": "server"})
            self.receiver.connection_lost()
            return False
        if kind in (NOOP, PONG, OPEN, UPGRADE):
            return True
        return True

    async def _send_eio(self, pkt: EioPacket) -> None:
        ws = self._ws
        if ws is not None and self.via == "websocket":
            await ws.send(eio_encode(pkt))
        else:
            await self._post([pkt])

    async def _on_socketio(self, p: SioPacket, t: int, wire: int | None, raw: str | bytes) -> None:
        if p.type == CONNECT:
            data = p.data if isinstance(p.data, dict) else {}
            pid = data.get("pid")
            recovered = pid is not None and pid == self.pid
            if self.pid is not None:  # a reconnect to a server that offers recovery: did it recover?
                self.receiver.ledger.session_resumed(recovered)
            if isinstance(pid, str):
                self.pid = pid
                self.receiver.ledger.session_word = True
            self._set_state("open")
            self._opened()
            ws = self._ws
            tls = tls_meta(ws.transport) if ws is not None else dict(self.counter.tls)
            self._emit("state", "open", t=t, wire=wire, data=f"connected to {p.namespace} (sid {data.get('sid')})"
                       + (f", {'recovered' if recovered else 'not recovered'} (pid)" if pid else "") + tls_words(tls),
                       meta={"namespace": p.namespace, "sid": data.get("sid"), "via": self.via or "polling",
                             **({"pid": pid, "recovered": recovered} if pid else {}), **tls})
            first = self._resume_message()
            if first is not None:  # the user's resume rule: the first emit after each reconnect
                event, args = socketio_message(first)
                parts = sio_encode(EVENT, [event, *args], self.options.namespace)
                text = parts[0] if isinstance(parts[0], str) else ""
                self._emit("out", "emit", t=now_ns(), size=len(text.encode()), data=text,
                           meta={"event": event, "resume": True})
                await self._send_parts(parts)
            return
        if p.type == CONNECT_ERROR:
            message = p.data.get("message") if isinstance(p.data, dict) else p.data
            err = ServerStopped(f"The Socket.IO server refused the connection to {p.namespace}: {message}.")
            raise err
        if p.type == DISCONNECT:
            self._emit("state", "close", t=t, data=f"the server disconnected {p.namespace}",
                       meta={"by": "server", "reason": "io server disconnect"})
            self.receiver.connection_lost()
            raise ServerStopped(f"The Socket.IO server disconnected {p.namespace} (io server disconnect): a client "
                                "does not reconnect by itself after that.")
        if p.type in (ACK, BINARY_ACK):
            entry = self._acks.get(p.ack or 0)
            rtt = (t - entry[1]) / 1e6 if entry is not None else None
            self._emit("in", "ack", t=t, wire=wire, data=json.dumps(p.args, default=repr)[:2000],
                       latency_ms=round(rtt, 3) if rtt is not None else None,
                       meta={"ack": p.ack, **({"latency": "rtt"} if rtt is not None else {})})
            if entry is not None and not entry[0].done():
                entry[0].set_result(p.args)
            return
        if p.type in (EVENT, BINARY_EVENT):
            await self._on_event(p, t, wire)

    async def _on_event(self, p: SioPacket, t: int, wire: int | None) -> None:
        name = p.event or ""
        args = p.args
        meta: dict[str, Any] = {"event": name}
        if self.pid is not None and p.ack is None and args and isinstance(args[-1], str):
            # connection-state recovery: socket.io appends the offset to events *without* an ack only (an
            # ack cannot be replayed); the official client reads it there, and so does Duplex
            self.offset = args[-1]
            meta["offset"] = self.offset
            args = args[:-1]
        if p.ack is not None:
            meta["ack"] = p.ack
        first = args[0] if args else None
        item = lab_item(name, first) if self.receiver.lab else None
        if item is not None:  # the lab's envelope, or its gap / live
            text, control = item
            if control:
                self.receiver.text(text, t, wire)
            else:
                self.receiver.text(text, t, wire, meta)
        elif p.binary:
            self._emit("in", "message", t=t, wire=wire, data=repr(args)[:2000], meta={**meta, "binary": True})
        else:  # every other event is a message, its arguments whole; a pointer rule reads the first
            text = json.dumps(args, ensure_ascii=False, separators=(",", ":"))
            self.receiver.text(text, t, wire, meta, value=first)
        if p.ack is not None:  # the server asks for an ack: an empty one
            await self._send_parts(sio_encode(ACK, [], self.options.namespace, p.ack))
