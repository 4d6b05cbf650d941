"""The fault proxy's HTTP/1.1 toxics: what the boxes between a client and a server do to requests.

A connection that one of these toxics hits is read as HTTP/1.1 (h11, both ways: a server-side parser
facing the client, a client-side one facing the server) instead of piped as bytes:

- ``http_error`` ``{status, first, every, retry_after, path}``: the proxy answers a request itself (a JSON
  reason, ``Retry-After`` when asked) instead of forwarding it — the first N requests, every Nth, or all;
  ``path`` (a regular expression) limits it to some paths. Requests are counted per toxic, over all the
  proxy's connections (a client that retries on a new connection is the next request);
- ``block_upgrade`` ``{mode}``: ``refuse`` answers a WebSocket upgrade with 403 (a corporate firewall);
  ``strip`` removes ``Upgrade`` and ``Connection: upgrade`` as a proxy that does not know WebSocket does,
  so the server sees a plain request;
- ``buffer`` ``{bytes}``: a response body is held until that many bytes are waiting or it ends, as a
  buffering reverse proxy (nginx's default) does; a response with ``X-Accel-Buffering: no`` passes at once,
  as nginx honours it.

With a ``message`` toxic on (message_toxic.py), the bodies are read as the transport's messages: an SSE
or NDJSON stream as it streams, a poll's JSON array and an Engine.IO polling payload (answers, and the
client's POSTs) whole, their length set again. The upgrade loses ``Sec-WebSocket-Extensions`` (a dropped
or reordered compressed message would break the client's decompressor instead of losing one message).
A 101 answer switches the connection to a byte pipe again (the other toxics act on it as before; a
message toxic reads its WebSocket frames).
Requests are taken one at a time (no pipelining: browsers do not pipeline). Bounded: a request body is
read up to ``MAX_BODY``; heads up to h11's limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, Protocol

import h11

from transport.core.message_units import (
    LineSplitter, SseSplitter, Unit, eio_packets, join_eio, join_items, json_items)
from transport.server.message_toxic import MessageFaults, Step, reorder_in_answer

log = logging.getLogger("duplex.server.faultproxy")

READ = 32 * 1024
MAX_BODY = 16 * 1024 * 1024
MAX_HEAD = 64 * 1024


class Toxic(Protocol):
    """What these toxics read and count of a toxic (faultproxy.py: Toxic)."""

    name: str
    type: str
    attributes: dict[str, Any]
    applied: int
    seen: int


class ProxyView(Protocol):
    name: str

    def said(self, text: str) -> None: ...


class Link(Protocol):
    """What an exchange needs of its connection (faultproxy.py: _Link, which imports this module)."""

    @property
    def proxy(self) -> ProxyView: ...

    @property
    def client(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...

    @property
    def server(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...

    def toxics(self, stream: str) -> list[Any]: ...

    def touch(self) -> None: ...

    @property
    def message_mode(self) -> bool: ...

    def message_faults(self, stream: str, where: str) -> MessageFaults: ...

    def switched(self, target: str, to_client: bytes, to_server: bytes) -> None: ...


class ClientGone(Exception):
    """The client closed its side while the proxy waited on the server."""


def _header(headers: Any, name: bytes) -> bytes:
    """One header's values joined (h11 gives the names lowercase)."""
    return b", ".join(v for k, v in headers if k == name)


def is_upgrade(request: h11.Request) -> bool:
    return b"upgrade" in _header(request.headers, b"connection").lower() and bool(_header(request.headers, b"upgrade"))


def strip_upgrade(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The request as a proxy that does not know WebSocket forwards it: no Upgrade, no ``upgrade`` token."""
    out = []
    for k, v in headers:
        name = k.lower()
        if name == b"upgrade":
            continue
        if name == b"connection":
            tokens = [t.strip() for t in v.split(b",") if t.strip().lower() != b"upgrade"]
            if not tokens:
                continue
            v = b", ".join(tokens)
        out.append((k, v))
    return out


def without(headers: list[tuple[bytes, bytes]], *names: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() not in names]


def with_length(headers: list[tuple[bytes, bytes]], size: int) -> list[tuple[bytes, bytes]]:
    """A whole body's framing after a message toxic changed it: its own length, no chunking."""
    return without(headers, b"content-length", b"transfer-encoding") + [(b"content-length", str(size).encode())]


def mime(headers: Any) -> str:
    return _header(headers, b"content-type").split(b";", 1)[0].strip().lower().decode("latin-1")


STREAM_TYPES = {"text/event-stream": "SSE", "application/x-ndjson": "HTTP stream (NDJSON)",
                "application/jsonl": "HTTP stream (NDJSON)", "application/json-seq": "HTTP stream (NDJSON)"}


def http_error_hits(toxic: Toxic, path: str) -> bool:
    """Whether this request is one the toxic answers (counting it when its path matches)."""
    a = toxic.attributes
    if a["path"] and re.search(a["path"], path) is None:
        return False
    toxic.seen += 1
    n = toxic.seen
    first, every = int(a["first"]), int(a["every"])
    if first:
        return n <= first
    if every:
        return n % every == 0
    return True


class HttpExchange:
    """One proxied connection read as HTTP/1.1, request by request."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.client = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)  # facing the client
        self.server = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)  # facing the server

    def toxics(self, kind: str) -> list[Toxic]:
        return [t for t in self.link.toxics("downstream") if t.type == kind]

    async def run(self) -> bool:
        """Exchanges until the connection ends (False) or switches protocol (True: pipe the bytes on)."""
        (c_reader, c_writer), (s_reader, s_writer) = self.link.client, self.link.server
        try:
            for _ in range(1_000_000):  # requests on one connection: bounded
                request, body = await self._request(c_reader)
                if request is None:
                    return False
                answered = await self._answer_itself(request, c_writer)
                if answered is not None:
                    if not answered or not self._next_cycle(server_too=False):
                        return False
                    continue
                headers = list(request.headers)
                if self.link.message_mode:
                    headers, body = await self._request_messages(request, headers, body)
                if is_upgrade(request) and any(t.attributes["mode"] == "strip" for t in self.toxics("block_upgrade")):
                    for t in self.toxics("block_upgrade"):
                        t.applied += 1
                    headers = strip_upgrade(headers)
                    self.link.proxy.said(f"proxy stripped the Upgrade of {request.target.decode('latin-1')}")
                out = self.server.send(h11.Request(method=request.method, target=request.target, headers=headers,
                                                   http_version=request.http_version)) or b""
                if self.server.our_state is h11.SEND_BODY:  # the request's framing says a body follows
                    out += (self.server.send(h11.Data(data=body)) if body else b"") or b""
                    out += self.server.send(h11.EndOfMessage()) or b""
                s_writer.write(out)
                await s_writer.drain()
                switched = await self._response(s_reader, c_reader, c_writer, request)
                if switched:
                    return True
                if not self._next_cycle(server_too=True):
                    return False
            return False
        except (h11.RemoteProtocolError, h11.LocalProtocolError) as exc:
            log.info("proxy %s: not HTTP/1.1 it can read (%s): connection closed", self.link.proxy.name, exc)
            return False
        except ClientGone:
            return False

    async def _event(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        for _ in range(1_000_000):  # reads until one event: bounded by the head and body limits
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await reader.read(READ)
            self.link.touch()
            if conn is self.client and data[:2] == b"\x16\x03" and conn.their_state is h11.IDLE:
                self.link.proxy.said("proxy met TLS where it reads HTTP: its toxics that read requests or messages "
                                     "need a plaintext upstream (the connection is closed)")
                raise h11.RemoteProtocolError("a TLS handshake, not HTTP/1.1")
            conn.receive_data(data)
        raise h11.RemoteProtocolError("no event in a million reads")

    async def _request(self, reader: asyncio.StreamReader) -> tuple[h11.Request | None, bytes]:
        event = await self._event(self.client, reader)
        if not isinstance(event, h11.Request):
            return None, b""
        body = bytearray()
        for _ in range(1_000_000):
            part = await self._event(self.client, reader)
            if isinstance(part, h11.Data):
                body += part.data
                if len(body) > MAX_BODY:
                    raise h11.RemoteProtocolError(f"a request body over {MAX_BODY} bytes")
            elif isinstance(part, h11.EndOfMessage) or part is h11.PAUSED:
                break
            else:
                return None, b""
        return event, bytes(body)

    async def _request_messages(self, request: h11.Request, headers: list[tuple[bytes, bytes]], body: bytes
                                ) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """A message toxic reads the client's side: no compression offered on an upgrade; an Engine.IO
        payload POSTed is read packet by packet."""
        target = request.target.decode("latin-1")
        if is_upgrade(request) and _header(request.headers, b"sec-websocket-extensions"):
            offered = _header(request.headers, b"sec-websocket-extensions").decode("latin-1")[:80]
            headers = without(headers, b"sec-websocket-extensions")
            self.link.proxy.said(f"proxy removed Sec-WebSocket-Extensions ({offered}) from the upgrade of {target}: "
                                 "a message toxic reads each message, and a dropped or reordered compressed "
                                 "message would break the client's decompressor instead of losing one message")
        if body and request.method == b"POST" and "EIO=" in target:
            units = eio_packets(body)
            if units is not None:
                faults = self.link.message_faults("upstream", "Socket.IO over polling")
                steps = reorder_in_answer(faults.apply(units, last_item=True), faults)
                body = join_eio([u for u in _units(steps)])
                await _wait(steps)
                headers = with_length(headers, len(body))
        return headers, body

    async def _answer_itself(self, request: h11.Request, writer: asyncio.StreamWriter) -> bool | None:
        """A request the proxy answers (None: forward it). True: the connection goes on; False: it ends."""
        target = request.target.decode("latin-1")
        if is_upgrade(request):
            refuse = [t for t in self.toxics("block_upgrade") if t.attributes["mode"] == "refuse"]
            if refuse:
                for t in refuse:
                    t.applied += 1
                self.link.proxy.said(f"proxy refused the WebSocket upgrade of {target} (403)")
                await self._send_own(writer, 403, "the fault proxy blocks WebSocket upgrades (block_upgrade)",
                                     close=True)
                return False
        for t in self.toxics("http_error"):
            if http_error_hits(t, target.split("?", 1)[0]):
                t.applied += 1
                status = int(t.attributes["status"])
                self.link.proxy.said(f"proxy answered {request.method.decode()} {target} with {status}")
                retry = float(t.attributes["retry_after"])
                await self._send_own(writer, status, f"the fault proxy answered this request itself "
                                                     f"(http_error {t.name})", retry_after=retry)
                return True
        return None

    async def _send_own(self, writer: asyncio.StreamWriter, status: int, reason: str, close: bool = False,
                        retry_after: float = 0) -> None:
        body = json.dumps({"error": reason}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if retry_after:
            headers.append((b"retry-after", f"{retry_after:g}".encode()))
        if close:
            headers.append((b"connection", b"close"))
        data = self.client.send(h11.Response(status_code=status, headers=headers))
        data = (data or b"") + (self.client.send(h11.Data(data=body)) or b"")
        data += self.client.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await writer.drain()

    async def _response(self, s_reader: asyncio.StreamReader, c_reader: asyncio.StreamReader,
                        c_writer: asyncio.StreamWriter, request: h11.Request) -> bool:
        """The server's answer to the client (held back under a buffer toxic, read as messages under a
        message toxic); True when it switched protocols (101)."""
        client_eof = asyncio.ensure_future(c_reader.read(READ))
        try:
            answer = _Answer(self, c_writer)
            for _ in range(100_000_000):  # events of one response: bounded
                event = await self._server_event(s_reader, client_eof)
                if isinstance(event, h11.InformationalResponse):
                    c_writer.write(self.client.send(event) or b"")
                    await c_writer.drain()
                    if event.status_code == 101:
                        self.link.switched(request.target.decode("latin-1"), *self._trailing())
                        return True
                    continue
                if isinstance(event, h11.Response):
                    await answer.head(event, request)
                elif isinstance(event, h11.Data):
                    await answer.data(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    await answer.end(event)
                    return False
                else:  # the server closed before answering in full
                    raise h11.RemoteProtocolError("the server closed the connection mid-answer")
            return False
        finally:
            if not client_eof.done():
                client_eof.cancel()
                await asyncio.wait({client_eof})  # the reader is free only once the read has ended
            if not client_eof.cancelled() and client_eof.exception() is None:
                data = client_eof.result()
                if data:
                    self.client.receive_data(data)  # the next request, already here

    async def _server_event(self, reader: asyncio.StreamReader, client_eof: "asyncio.Future[bytes]") -> Any:
        for _ in range(1_000_000):
            event = self.server.next_event()
            if event is not h11.NEED_DATA:
                return event
            read = asyncio.ensure_future(reader.read(READ))
            done, _ = await asyncio.wait({read, client_eof}, return_when=asyncio.FIRST_COMPLETED)
            if client_eof in done and not client_eof.result():  # the client went away: so does this exchange
                read.cancel()
                raise ClientGone()
            data = await read
            self.link.touch()
            self.server.receive_data(data)
        raise h11.RemoteProtocolError("no event in a million reads")

    def _next_cycle(self, server_too: bool) -> bool:
        """Both sides ready for the next request; False when one must close."""
        conns = [self.client, self.server] if server_too else [self.client]
        if any(c.our_state is not h11.DONE or c.their_state is not h11.DONE for c in conns):
            return False
        for c in conns:
            c.start_next_cycle()
        return True

    def _trailing(self) -> tuple[bytes, bytes]:
        """After a 101: what each parser read beyond the heads (it goes on through the byte pipe)."""
        return bytes(self.server.trailing_data[0]), bytes(self.client.trailing_data[0])


def _units(steps: list[Step]) -> list[Unit]:
    """The bytes of ``steps`` as units to join (the waits are taken apart)."""
    return [Unit(s) for s in steps if isinstance(s, bytes)]


async def _wait(steps: list[Step]) -> None:
    total = sum(s for s in steps if isinstance(s, float))
    if total:
        await asyncio.sleep(total)


class _Answer:
    """One response on its way to the client: passed as it comes, held (buffer), or read as messages."""

    def __init__(self, exchange: HttpExchange, writer: asyncio.StreamWriter) -> None:
        self.x, self.writer = exchange, writer
        self.limit: int | None = None  # buffer toxic: bytes held before they go
        self.held = bytearray()
        self.splitter: SseSplitter | LineSplitter | None = None
        self.whole: str | None = None  # "items" or "eio": the body is read whole, then sent
        self.body = bytearray()
        self.event: h11.Response | None = None
        self.faults: MessageFaults | None = None

    async def head(self, event: h11.Response, request: h11.Request) -> None:
        x = self.x
        buffers = x.toxics("buffer")
        if buffers and _header(event.headers, b"x-accel-buffering").lower() != b"no":
            self.limit = int(min(t.attributes["bytes"] for t in buffers))
            for t in buffers:
                t.applied += 1
        if x.link.message_mode and 200 <= event.status_code < 300:
            kind = mime(event.headers)
            length = bool(_header(event.headers, b"content-length"))
            target = request.target.decode("latin-1")
            if kind in STREAM_TYPES:
                self.faults = x.link.message_faults("downstream", STREAM_TYPES[kind])
                self.splitter = SseSplitter() if kind == "text/event-stream" else LineSplitter()
                if length:  # a finite stream with its length: read whole, sent with its new length
                    self.whole = "stream"
            elif "EIO=" in target and kind == "text/plain":
                self.faults, self.whole = x.link.message_faults("downstream", "Socket.IO over polling"), "eio"
            elif kind == "application/json" or kind.endswith("+json"):
                self.faults, self.whole = x.link.message_faults("downstream", "poll answer"), "items"
        self.event = event
        if self.whole is None:
            await self._send(x.client.send(h11.Response(status_code=event.status_code, headers=list(event.headers),
                                                        reason=event.reason)) or b"")

    async def data(self, data: bytes) -> None:
        if self.whole is not None:
            self.body += data
            if len(self.body) > MAX_BODY:  # too large to read whole: it goes as it is
                self.faults, self.splitter = None, None
                await self._head_now()
                await self._body(bytes(self.body))
                self.body.clear()
            return
        if self.splitter is not None and self.faults is not None:
            await self._steps(self.faults.apply(self.splitter.feed(data)))
            return
        await self._body(data)

    async def end(self, event: h11.EndOfMessage) -> None:
        x = self.x
        if self.whole is not None:
            await self._whole()
        elif self.splitter is not None and self.faults is not None:
            await self._steps(self.faults.apply(self.splitter.end()) + list(self.faults.flush()))
        if self.held:
            self.writer.write(x.client.send(h11.Data(data=bytes(self.held))) or b"")
            self.held.clear()
        self.writer.write(x.client.send(event) or b"")
        await self.writer.drain()

    async def _whole(self) -> None:
        """A body read whole: its messages acted on, then the head with the new length, then the body."""
        body = bytes(self.body)
        units = None
        if self.faults is not None:
            if self.whole == "items":
                units = json_items(body)
            elif self.whole == "eio":
                units = eio_packets(body)
            elif self.splitter is not None:
                units = self.splitter.feed(body) + self.splitter.end()
        if units is not None and self.faults is not None:
            steps = self.faults.apply(units, last_item=self.whole in ("items", "eio"))
            if self.whole != "stream":
                steps = reorder_in_answer(steps, self.faults)
            else:
                steps += self.faults.flush()
            await _wait(steps)
            parts = _units(steps)
            body = join_items(parts) if self.whole == "items" else join_eio(parts) if self.whole == "eio" \
                else b"".join(u.raw for u in parts)
        await self._head_now(len(body))
        await self._body(body)

    async def _head_now(self, size: int | None = None) -> None:
        event = self.event
        if event is None or self.whole is None:
            return
        headers = list(event.headers) if size is None else with_length(list(event.headers), size)
        self.whole = None
        await self._send(self.x.client.send(h11.Response(status_code=event.status_code, headers=headers,
                                                         reason=event.reason)) or b"")

    async def _steps(self, steps: list[Step]) -> None:
        for step in steps:
            if isinstance(step, float):
                await asyncio.sleep(step)  # delay: the message and what follows it wait
            elif step:
                await self._body(step)

    async def _body(self, data: bytes) -> None:
        if not data:
            return
        if self.limit is None:
            await self._send(self.x.client.send(h11.Data(data=data)) or b"")
            return
        self.held += data
        if len(self.held) >= self.limit:
            data, self.held = bytes(self.held), bytearray()
            await self._send(self.x.client.send(h11.Data(data=data)) or b"")

    async def _send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()
