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
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidURI
from websockets.uri import parse_uri

from transport.clients.tls import tls_meta, tls_words, ws_tls
from transport.core.backoff import Policy
from transport.clients.virtual_browser import VirtualBrowser
from transport.core.errors import DuplexError, InvalidURL, MessageTooBig, NotConnected, ProtocolViolation, describe_close, human_size
from transport.core.events import EventSink
from transport.core.urls import split_url
from transport.core.wsframes import Frame
from transport.clients.base import ClientBase
from transport.clients.ws_connection import FeedConnection
from transport.core.wsframes import frame_overhead
from transport.core.wire import served_by, served_note

log = logging.getLogger("duplex.ws")

# Close codes after which the server is unwell, not the link: say so loudly.
ERROR_CODES = {1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014, 1015}


@dataclass(slots=True)
class WebSocketOptions:
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    subprotocols: list[str] = field(default_factory=list)
    policy: Policy = field(default_factory=lambda: Policy("exponential", 1.0, 5.0))
    resume: bool = True  # with the lab: reconnect with ?after=<last seq>
    seq_rule: str = "auto"  # another server: how its messages are numbered (transport/core/sequence.py)
    resume_rule: str = "auto"  # …and how a reconnect asks it to resume
    open_timeout: float = 10.0
    max_size: int = 16 << 20
    max_failures: int | None = None  # consecutive failed attempts before giving up
    compression: bool = False  # permessage-deflate (costs ~30 % on loopback)
    ping_interval: float = 5.0
    ping_timeout: float = 10.0
    close_timeout: float = 2.0
    one_way_latency: bool | None = None  # None: for a Duplex lab on this machine (receiver.one_way)
    browser: VirtualBrowser | None = None  # whose cookies (and ?sid=) the handshake carries
    verify_tls: bool = True  # False: the insecure switch (every row says so)
    ca_file: str | None = None  # trust this CA (PEM) and nothing else


def validate_url(url: str) -> str:
    """Check a ws:// or wss:// URL; raise InvalidURL with a sentence otherwise."""
    url = url.strip()
    if not url:
        raise InvalidURL("Enter a ws:// or wss:// URL.")
    try:
        parts, _port = split_url(url)
    except ValueError as exc:
        raise InvalidURL(str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        raise InvalidURL(f"Invalid URL {url!r}: a WebSocket URL starts with ws:// or wss://, not {scheme}://.")
    try:
        parse_uri(url)
    except InvalidURI as exc:
        raise InvalidURL(f"Invalid URL {url!r}: {exc.msg}.") from exc
    except ValueError as exc:  # websockets' own parsing of what urlsplit let through
        raise InvalidURL(f"Invalid URL {url!r}: {exc}.") from exc
    return url


class WebSocketClient(ClientBase):
    transport = "websocket"
    options: WebSocketOptions

    def __init__(self, options: WebSocketOptions, sink: EventSink) -> None:
        super().__init__(options, sink, log)
        self._ws: FeedConnection | None = None

    # -- public API ------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ws is not None and self.state == "open"

    def drop(self) -> bool:
        """Abort the TCP connection without a close frame (a network failure)."""
        ws = self._ws
        if ws is None or ws.transport is None:
            return False
        self._emit("state", "fault", data="connection dropped (TCP abort, no close frame)",
                   meta={"fault": "drop"})
        ws.transport.abort()
        return True

    async def send(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            await self.send_text(payload)
        else:
            await self.send_binary(payload)

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

    # -- the I/O ------------------------------------------------------------------
    def _validate(self, url: str) -> str:
        return validate_url(url)

    async def _close_connection(self) -> None:
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "closed by user")

    async def _connection(self, url: str) -> str | None:
        target = self._carried(self._resume_url(url))
        self._set_state("connecting")
        ws = await self._connect(target)
        if self._closing:  # close() was called while the handshake ran
            await ws.close(1000, "closed by user")
            return None
        return await self._session(ws, target)

    async def _connect(self, url: str) -> FeedConnection:
        o = self.options
        headers = self._request_headers()
        if o.browser is not None:  # websockets has no cookie jar: send the browser's
            cookie = o.browser.cookie_header(url)
            if cookie:
                headers.append(("Cookie", cookie))
        ws = await connect(
            url,
            additional_headers=headers or None,
            subprotocols=o.subprotocols or None,  # type: ignore[arg-type]  # plain strings are subprotocols
            compression="deflate" if o.compression else None,
            open_timeout=o.open_timeout,
            ping_interval=o.ping_interval,
            ping_timeout=o.ping_timeout,
            close_timeout=o.close_timeout,
            max_size=o.max_size,
            proxy=None,
            create_connection=FeedConnection.factory(o.max_size),  # type: ignore[arg-type]  # a factory
            **ws_tls(url, o.verify_tls, o.ca_file),
        )
        assert isinstance(ws, FeedConnection)
        if ws.response is not None:
            self.receiver.note_epoch(ws.response.headers)
            if o.browser is not None:
                o.browser.take_set_cookies(ws.response.headers.get_all("Set-Cookie"), url)
        return ws

    async def _session(self, ws: FeedConnection, url: str) -> str | None:
        """One connection from open to close; returns how it ended. A fatal close raises."""
        self._ws = ws
        req, resp = ws.request, ws.response
        wire = (len(req.serialize()) if req else 0) + (len(resp.serialize()) if resp else 0)
        if "after=" in urlsplit(url).query:
            self.receiver.resume_started()
        self._set_state("open")
        self._opened()
        meta = {
            **served_by(resp.headers if resp else None),
            "status": resp.status_code if resp else None,
            "subprotocol": ws.subprotocol,
            "request_headers": dict(req.headers.raw_items()) if req else {},
            "response_headers": dict(resp.headers.raw_items()) if resp else {},
            **tls_meta(ws.transport),
        }
        # stamped when the handshake's answer was read: the messages read with it come after it, in time too
        self._emit("state", "open", t=ws.opened_ns, wire=wire,
                   data=url + served_note(resp.headers if resp else None) + tls_words(meta),
                   meta=meta)
        ws.attach(self._on_messages)
        first = self._resume_message()
        if first is not None:  # the user's resume rule: the first message after each reconnect
            try:
                await self._send(first, len(first.encode()), resume=True)
            except DuplexError as exc:
                self._log.info("the resume message was not sent: %s", exc)
        try:
            await ws.wait_closed()
        except asyncio.CancelledError:
            if ws.transport is not None:
                ws.transport.abort()
            raise
        finally:
            self._ws = None
        if ws.sink_error is not None:
            raise ws.sink_error
        how, err = self._closed(ws)
        if not self._closing:
            self.receiver.connection_lost()
        if err is not None and err.fatal:
            raise err
        return how

    def _on_messages(self, messages: list[Frame], received: int) -> None:
        """The messages of one read, in order (all arrived at ``received``)."""
        ws = self._ws
        rtt = None if self.receiver.one_way or ws is None or not ws.latency else ws.latency * 1000.0
        self.receiver.texts(messages, received, rtt)

    def _closed(self, ws: FeedConnection) -> tuple[str, DuplexError | None]:
        """Emit the close row (and an error row for abnormal closes); how it ended, and the error."""
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
        how = f"{said}: {text}"
        err: DuplexError | None = None
        if code == 1009 and by == "client":
            err = MessageTooBig(
                f"Message too big: the server sent a message over the {human_size(self.options.max_size)} "
                "limit, so the client closed with 1009. Not reconnecting: the same message would come again.")
        elif code == 1006 and not self._closing:
            err = DuplexError("The connection dropped without a close frame (1006).")
        elif code in ERROR_CODES:
            err = ProtocolViolation(f"The {by} closed the connection with {text}.")
        if err is not None:
            self._error(err)
            how = err.sentence
        return how, err

    async def _send(self, payload: str | bytes, size: int, resume: bool = False) -> None:
        ws = self._ws
        if ws is None or self.state != "open":
            raise NotConnected("Not connected: connect first, then send.")
        try:
            await ws.send(payload)
        except ConnectionClosed as exc:
            raise NotConnected(f"Not sent: the connection closed ({describe_close(exc.code, exc.reason)}).") from exc
        self._emit("out", "message", size=size, wire=size + frame_overhead(size, masked=True), data=payload,
                   meta={"resume": True} if resume else None)
