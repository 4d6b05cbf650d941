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

A 101 answer switches the connection to a byte pipe again (the other toxics act on it as before).
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
                    return await self._switch(c_writer, s_writer)
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
        """The server's answer to the client (held back under a buffer toxic); True when it switched
        protocols (101)."""
        client_eof = asyncio.ensure_future(c_reader.read(READ))
        try:
            held = bytearray()
            limit: int | None = None
            for _ in range(100_000_000):  # events of one response: bounded
                event = await self._server_event(s_reader, client_eof)
                if isinstance(event, h11.InformationalResponse):
                    c_writer.write(self.client.send(event) or b"")
                    await c_writer.drain()
                    if event.status_code == 101:
                        return True
                    continue
                if isinstance(event, h11.Response):
                    buffers = self.toxics("buffer")
                    if buffers and _header(event.headers, b"x-accel-buffering").lower() != b"no":
                        limit = int(min(t.attributes["bytes"] for t in buffers))
                        for t in buffers:
                            t.applied += 1
                    c_writer.write(self.client.send(h11.Response(status_code=event.status_code,
                                                                 headers=list(event.headers),
                                                                 reason=event.reason)) or b"")
                    await c_writer.drain()
                elif isinstance(event, h11.Data):
                    if limit is None:
                        c_writer.write(self.client.send(event) or b"")
                        await c_writer.drain()
                    else:
                        held += event.data
                        if len(held) >= limit:
                            c_writer.write(self.client.send(h11.Data(data=bytes(held))) or b"")
                            held.clear()
                            await c_writer.drain()
                elif isinstance(event, h11.EndOfMessage):
                    if held:
                        c_writer.write(self.client.send(h11.Data(data=bytes(held))) or b"")
                    c_writer.write(self.client.send(event) or b"")
                    await c_writer.drain()
                    return False
                else:  # the server closed before answering in full
                    raise h11.RemoteProtocolError("the server closed the connection mid-answer")
            return False
        finally:
            if client_eof.done() and not client_eof.cancelled() and client_eof.exception() is None:
                data = client_eof.result()
                if data:
                    self.client.receive_data(data)  # the next request, already here
            else:
                client_eof.cancel()

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

    async def _switch(self, c_writer: asyncio.StreamWriter, s_writer: asyncio.StreamWriter) -> bool:
        """After a 101: what each parser read beyond the heads goes on, then the link pipes bytes."""
        to_client, _ = self.server.trailing_data
        to_server, _ = self.client.trailing_data
        if to_client:
            c_writer.write(bytes(to_client))
        if to_server:
            s_writer.write(bytes(to_server))
        await asyncio.gather(c_writer.drain(), s_writer.drain())
        return True
