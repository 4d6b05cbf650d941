"""HTTP plumbing the HTTP clients share: bytes counted on the socket, bounded reads.

``CountingConnector`` is aiohttp's TCP connector with a protocol that counts
every byte the transport writes and every byte ``data_received`` gets: the
bytes on the wire (for TLS: the HTTP bytes inside TLS). A ``WireCounter``
holds the totals of all connections of a session. Each Duplex HTTP client
runs one exchange at a time, so the counter's difference between two
:meth:`WireCounter.mark` calls is exactly what that exchange moved.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiohttp.abc
from aiohttp.client_proto import ResponseHandler

from transport.clients.tls import client_ssl, tls_meta
from transport.core.errors import DuplexError, InvalidURL, MessageTooBig, human_size
from transport.core.urls import split_url


@dataclass(slots=True)
class WireCounter:
    sent: int = 0
    received: int = 0
    tls: dict[str, Any] = field(default_factory=dict)  # what TLS negotiated on the latest connection (clients/tls.py)

    _mark_sent: int = 0
    _mark_received: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.received

    def mark(self) -> tuple[int, int]:
        """Bytes sent and received since the previous mark."""
        sent, received = self.sent - self._mark_sent, self.received - self._mark_received
        self._mark_sent, self._mark_received = self.sent, self.received
        return sent, received


class _CountingTransport:
    """Delegates to the real transport, counting what is written."""

    __slots__ = ("_transport", "_counter")

    def __init__(self, transport: asyncio.Transport, counter: WireCounter) -> None:
        self._transport = transport
        self._counter = counter

    def write(self, data: Any) -> None:
        self._counter.sent += len(data)
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        chunks = list(chunks)
        self._counter.sent += sum(len(c) for c in chunks)
        self._transport.writelines(chunks)

    # what aiohttp asks of its transport on every exchange, without __getattr__'s detour
    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _CountingHandler(ResponseHandler):
    def __init__(self, loop: asyncio.AbstractEventLoop, counter: WireCounter) -> None:
        super().__init__(loop)
        self.counter = counter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.counter.tls = tls_meta(transport)  # after the handshake: asyncio calls this once TLS is up
        super().connection_made(_CountingTransport(transport, self.counter))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.counter.received += len(data)
        super().data_received(data)


class CountingConnector(aiohttp.TCPConnector):
    def __init__(self, counter: WireCounter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counter = counter
        self._factory = functools.partial(_CountingHandler, loop=self._loop, counter=counter)  # type: ignore[assignment]  # a ResponseHandler that counts


def validate_http_url(url: str, what: str) -> str:
    """Check an http:// or https:// URL of ``what``; raise InvalidURL with a sentence otherwise."""
    url = url.strip()
    if not url:
        raise InvalidURL(f"Enter an http:// or https:// URL of {what}.")
    try:
        parts, _port = split_url(url)
    except ValueError as exc:
        raise InvalidURL(str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme in ("ws", "wss"):
        raise InvalidURL(f"Invalid URL {url!r}: the URL of {what} starts with http:// or https://, "
                         f"not {scheme}:// (that is a WebSocket URL).")
    if scheme not in ("http", "https"):
        raise InvalidURL(f"Invalid URL {url!r}: it must start with http:// or https://.")
    if not parts.hostname:
        raise InvalidURL(f"Invalid URL {url!r}: there is no host name.")
    return url


def stream_timeout(open_timeout: float) -> aiohttp.ClientTimeout:
    """Bounded connect, unbounded reads: aiohttp's default 300 s total would cut every stream."""
    return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=open_timeout, sock_read=None)


def new_session(counter: WireCounter, open_timeout: float, verify_tls: bool = True,
                jar: aiohttp.abc.AbstractCookieJar | None = None, ca_file: str | None = None) -> aiohttp.ClientSession:
    """A session whose every byte is counted in ``counter``; no total timeout, no proxy from env.
    ``jar``: a virtual browser's cookie jar, shared with its other clients. TLS: verified (against ``ca_file``
    alone when given) unless ``verify_tls`` is False (clients/tls.py)."""
    return aiohttp.ClientSession(
        timeout=stream_timeout(open_timeout),
        # the default jar drops cookies from 127.0.0.1
        cookie_jar=jar if jar is not None else aiohttp.CookieJar(unsafe=True),
        connector=CountingConnector(counter, ssl=client_ssl(verify_tls, ca_file)),
        trust_env=False,
    )


def request_head_size(resp: aiohttp.ClientResponse) -> int:
    info = resp.request_info
    return len(f"{info.method} {info.url.raw_path_qs} HTTP/1.1\r\n") + sum(
        len(k) + len(v) + 4 for k, v in info.headers.items()) + 2


def response_head_size(resp: aiohttp.ClientResponse) -> int:
    version = resp.version
    major, minor = (version.major, version.minor) if version is not None else (1, 1)
    line = len(f"HTTP/{major}.{minor} {resp.status} {resp.reason or ''}\r\n")
    return line + sum(len(k) + len(v) + 4 for k, v in resp.raw_headers) + 2


def count_response(stats: Any, resp: aiohttp.ClientResponse) -> tuple[int, int]:
    """Count one response in ``stats`` (a WireStats): its heads, of which cookies. Returns both."""
    heads = request_head_size(resp) + response_head_size(resp)
    cookies = cookie_bytes(resp)
    stats.responses += 1
    stats.heads += heads
    stats.cookies += cookies
    return heads, cookies


def split_head(resp: aiohttp.ClientResponse, received: int) -> tuple[int, int]:
    """Of the bytes read up to the response head: the head's, and the body's that came with it."""
    head = min(received, response_head_size(resp))
    return head, received - head


class SessionOwner:
    """A client that keeps an aiohttp session between exchanges and throws it away on a drop."""

    _session: aiohttp.ClientSession | None = None

    async def _discard_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def cookie_bytes(resp: aiohttp.ClientResponse) -> int:
    """Bytes of the Cookie request header and Set-Cookie response headers (name, value, CRLF)."""
    sent = sum(len("Cookie") + len(v) + 4 for v in resp.request_info.headers.getall("Cookie", []))
    got = sum(len(k) + len(v) + 4 for k, v in resp.raw_headers if k.lower() == b"set-cookie")
    return sent + got


def mime_essence(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def read_body(resp: aiohttp.ClientResponse, limit: int, timeout: float, peer: str) -> bytes:
    """The whole body, bounded in size and time, or a DuplexError that says which bound."""
    length = resp.content_length
    if length is not None and length <= limit:  # the common case: a declared, acceptable size
        if resp.content.is_eof():  # all of it came with the head: nothing to wait for
            return await resp.read()
        try:
            async with asyncio.timeout(timeout):
                return await resp.read()
        except TimeoutError:
            raise DuplexError(f"{peer} did not send its {human_size(length)} response body within "
                              f"{timeout:g} s.") from None
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                chunk = await resp.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise MessageTooBig(f"{peer} sent a response body over the {human_size(limit)} limit: "
                                        "not read further.")
                parts.append(chunk)
    except TimeoutError:
        raise DuplexError(f"{peer} did not finish its response body within {timeout:g} s "
                          f"({human_size(size)} so far): a body that never ends is not a poll response.") from None
    return b"".join(parts)
