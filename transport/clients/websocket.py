"""The WebSocket client: full duplex, reconnect with backoff, resume by ``after``.

Built on websockets' asyncio client. It connects, emits an :class:`Event` for
every open, message, close, error and reconnect attempt, records every feed
seq in its :class:`Ledger`, and after a drop reconnects with its own policy
(websockets' built-in reconnect resets its backoff after any handshake that
succeeds, so a server that accepts and closes at once would be hammered).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI
from websockets.uri import parse_uri

from ..backoff import Policy
from ..browser import VirtualBrowser
from ..errors import (DuplexError, InvalidURL, MessageTooBig, NotConnected, ProtocolViolation,
                      describe_close, explain, human_size)
from ..envelope import envelope_fields
from ..events import Event, EventSink, now_ns
from ..ledger import gap_sentence
from .base import ClientBase, where, with_query

log = logging.getLogger("duplex.ws")

# Close codes after which the server is unwell, not the link: say so loudly.
ERROR_CODES = {1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014, 1015}


@dataclass(slots=True)
class WebSocketOptions:
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    subprotocols: list[str] = field(default_factory=list)
    policy: Policy = field(default_factory=lambda: Policy("exponential", 1.0, 5.0))
    resume: bool = True  # reconnect with ?after=<last seq>
    open_timeout: float = 10.0
    max_size: int = 16 << 20
    max_failures: int | None = None  # consecutive failed attempts before giving up
    compression: bool = False  # permessage-deflate (costs ~30 % on loopback)
    ping_interval: float = 5.0
    ping_timeout: float = 10.0
    close_timeout: float = 2.0
    one_way_latency: bool | None = None  # None: when the host is loopback (same clock)
    browser: VirtualBrowser | None = None  # whose cookies (and ?sid=) the handshake carries


def validate_url(url: str) -> str:
    """Check a ws:// or wss:// URL; raise InvalidURL with a sentence otherwise."""
    url = url.strip()
    if not url:
        raise InvalidURL("Enter a ws:// or wss:// URL.")
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        raise InvalidURL(f"Invalid URL {url!r}: a WebSocket URL starts with ws:// or wss://, not {scheme}://.")
    try:
        parse_uri(url)
    except InvalidURI as exc:
        raise InvalidURL(f"Invalid URL {url!r}: {exc.msg}.") from exc
    return url


def frame_overhead(size: int, masked: bool) -> int:
    """Bytes of framing around an unfragmented frame of ``size`` payload bytes."""
    head = 2 if size < 126 else 4 if size < 65536 else 10
    return head + (4 if masked else 0)


class WebSocketClient(ClientBase):
    transport = "websocket"
    options: WebSocketOptions

    def __init__(self, options: WebSocketOptions, sink: EventSink) -> None:
        super().__init__(options, sink, log)
        self._ws: ClientConnection | None = None

    # -- public API ------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ws is not None and self.state == "open"

    async def run(self) -> DuplexError | None:
        """Connect and keep connected until close() or a fatal error."""
        try:
            url = validate_url(self.options.url)
        except InvalidURL as err:
            return self._fail(err)
        delays = self.options.policy.delays()
        failures = 0
        while not self._closing:
            self._emit.conn += 1
            target = with_query(url, after=self.ledger.high) if self.options.resume and self.ledger.high else url
            target = self._carried(target)
            self._set_state("connecting")
            try:
                ws = await self._connect(target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure becomes one sentence
                err = explain(exc, where(target), timeout=self.options.open_timeout)
                self._error(err)
                if err.fatal:
                    return self._fail(err)
                failures += 1
                if self.options.max_failures is not None and failures >= self.options.max_failures:
                    return self._fail(err.restated(
                        f"Giving up after {failures} failed attempts: {err.sentence}"))
            else:
                if self._closing:  # close() was called while the handshake ran
                    await ws.close(1000, "closed by user")
                    break
                opened = time.monotonic()
                received_before = self.ledger.received
                err = await self._session(ws, target)
                if err is not None and err.fatal:
                    return self._fail(err)
                stable = time.monotonic() - opened >= self.options.policy.stable_after
                if stable and self.ledger.received > received_before:
                    delays = self.options.policy.delays()  # a healthy connection: start over
                    failures = 0
                else:
                    failures += 1  # accepted and closed at once: keep backing off
            if self._closing:
                break
            delay = next(delays)
            await self._wait_to_reconnect(delay, failures + 1, f"attempt {failures + 1}",
                                          policy=self.options.policy.describe())
        self._set_state("closed")
        return None

    async def close(self) -> None:
        self._closing = True
        self._pause.wake()
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "closed by user")

    def drop(self) -> bool:
        """Abort the TCP connection without a close frame (a network failure)."""
        ws = self._ws
        if ws is None or ws.transport is None:
            return False
        self._emit("state", "fault", data="connection dropped (TCP abort, no close frame)",
                   meta={"fault": "drop"})
        ws.transport.abort()
        return True

    async def send_text(self, text: str) -> None:
        await self._send(text, len(text.encode()))

    async def send_json(self, text: str) -> None:
        try:
            json.loads(text)
        except ValueError as exc:
            raise DuplexError(f"Not valid JSON: {exc}.") from exc
        await self.send_text(text)

    async def send_binary(self, data: bytes) -> None:
        await self._send(data, len(data))

    # -- internals -------------------------------------------------------------
    async def _connect(self, url: str) -> ClientConnection:
        o = self.options
        headers = self._request_headers()
        if o.browser is not None:  # websockets has no cookie jar: send the browser's
            cookie = o.browser.cookie_header(url)
            if cookie:
                headers.append(("Cookie", cookie))
        ws = await connect(
            url,
            additional_headers=headers or None,
            subprotocols=o.subprotocols or None,
            compression="deflate" if o.compression else None,
            open_timeout=o.open_timeout,
            ping_interval=o.ping_interval,
            ping_timeout=o.ping_timeout,
            close_timeout=o.close_timeout,
            max_size=o.max_size,
            proxy=None,
        )
        if ws.response is not None:
            self._note_epoch(ws.response.headers)
            if o.browser is not None:
                o.browser.take_set_cookies(ws.response.headers.get_all("Set-Cookie"), url)
        return ws

    async def _session(self, ws: ClientConnection, url: str) -> DuplexError | None:
        """One connection from open to close; returns the error that ended it, if any."""
        self._ws = ws
        req, resp = ws.request, ws.response
        wire = (len(req.serialize()) if req else 0) + (len(resp.serialize()) if resp else 0)
        self._resuming = "after=" in urlsplit(url).query
        if self._resuming:
            self.ledger.replay_started()
        self._set_state("open")
        self._emit("state", "open", wire=wire, data=url, meta={
            "status": resp.status_code if resp else None,
            "subprotocol": ws.subprotocol,
            "request_headers": dict(req.headers.raw_items()) if req else {},
            "response_headers": dict(resp.headers.raw_items()) if resp else {},
        })
        err: DuplexError | None = None
        try:
            async for message in ws:
                self._on_message(ws, message)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            ws.transport.abort()
            raise
        finally:
            self._ws = None
        err = self._closed(ws)
        if not self._closing:
            self.ledger.connection_lost()
        return err

    def _on_message(self, ws: ClientConnection, message: str | bytes) -> None:
        received = now_ns()
        if isinstance(message, str):
            size = len(message.encode()) if not message.isascii() else len(message)
        else:
            size = len(message)
        wire = size + frame_overhead(size, masked=False)
        seq = None
        latency = None
        meta: dict = {}
        if isinstance(message, str):
            seq, ts, topic, obj = envelope_fields(message)
            if obj is not None and "control" in obj:
                self._on_control(obj, message, size, wire)
                return
            if seq is not None:
                verdict = self.ledger.record(seq)
                if verdict != "new":
                    meta["ledger"] = verdict
                if topic is not None:
                    meta["topic"] = topic
                if self._one_way and ts is not None:
                    lat = (received - ts) / 1e6
                    if 0 <= lat < 3_600_000:
                        latency = lat
        if latency is None and not self._one_way and ws.latency:
            latency = ws.latency * 1000.0
            meta["latency"] = "rtt"
        # built directly (positional): this is the per-message hot path
        self._sink(Event("websocket", "in", "message", received, self._emit.conn, seq, size, wire, latency,
                         message, meta))

    def _on_control(self, obj: dict, text: str, size: int, wire: int) -> None:
        kind = obj.get("control")
        if kind == "gap":
            after, first, reset = obj.get("after"), obj.get("first_available"), obj.get("reset") is True
            missing = obj.get("missing", "?")
            meta = {"after": after, "first_available": first, "missing": missing, "reset": reset}
            if isinstance(after, int) and isinstance(first, int):
                self.ledger.gap(after, first, reset)
                meta["sentence"] = gap_sentence(after, first, missing, reset)
            self._emit("state", "gap", size=size, wire=wire, data=text, meta=meta)
        elif kind == "live":
            if self._resuming:
                self.ledger.replay_finished()
                self._resuming = False
            self._emit("state", "live", size=size, wire=wire, data=text, meta={"seq": obj.get("seq")})
        else:
            self._emit("in", "control", size=size, wire=wire, data=text)

    def _closed(self, ws: ClientConnection) -> DuplexError | None:
        """Emit the close row (and an error row for abnormal closes)."""
        proto = ws.protocol
        rcvd, sent = proto.close_rcvd, proto.close_sent
        if rcvd is None and sent is None:
            by = "network"
        else:
            by = "server" if rcvd is not None and (sent is None or proto.close_rcvd_then_sent) else "client"
        frame = rcvd if by == "server" else sent
        code = frame.code if frame is not None else 1006
        reason = frame.reason if frame is not None else ""
        text = describe_close(code, reason)
        said = "connection lost" if by == "network" else f"closed by {by}"
        self._emit("state", "close", data=f"{said}: {text}",
                   meta={"code": code, "reason": reason, "by": by})
        if code == 1009 and by == "client":
            err: DuplexError = MessageTooBig(
                f"Message too big: the server sent a message over the {human_size(self.options.max_size)} "
                "limit, so the client closed with 1009. Not reconnecting: the same message would come again.")
            self._error(err)
            return err
        if code == 1006 and not self._closing:
            err = DuplexError("The connection dropped without a close frame (1006).")
            self._error(err)
            return err
        if code in ERROR_CODES:
            err = ProtocolViolation(f"The {by} closed the connection with {text}.")
            self._error(err)
            return err
        return None

    async def _send(self, payload: str | bytes, size: int) -> None:
        ws = self._ws
        if ws is None or self.state != "open":
            raise NotConnected("Not connected: connect first, then send.")
        try:
            await ws.send(payload)
        except ConnectionClosed as exc:
            raise NotConnected(f"Not sent: the connection closed ({describe_close(exc.code, exc.reason)}).") from exc
        self._emit("out", "message", size=size, wire=size + frame_overhead(size, masked=True), data=payload)
