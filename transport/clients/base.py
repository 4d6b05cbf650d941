"""The small interface every client honours, and the pieces they share.

A client is created with its options and an event sink. ``run()`` connects,
reconnects by its policy and returns when ``close()`` was called or the
connection failed for good (the returned error says why). ``drop()`` aborts
the TCP connection now, to simulate a network failure.
"""

from __future__ import annotations

import asyncio
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import DuplexError
from ..events import Event, EventSink
from ..ledger import Ledger


class Client(Protocol):
    transport: str
    ledger: Ledger
    state: str  # idle, connecting, open, waiting, closed, failed

    async def run(self) -> DuplexError | None: ...
    async def close(self) -> None: ...
    def drop(self) -> bool: ...


def with_query(url: str, **params: object) -> str:
    """``url`` with ``params`` set in its query string (replacing same names)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def is_loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "[::1]") or bool(host and host.startswith("127."))


class Emitter:
    """Stamps events with the client's transport and connection id."""

    def __init__(self, transport: str, sink: EventSink) -> None:
        self.transport = transport
        self._sink = sink
        self.conn = 0

    def __call__(self, direction: str, kind: str, **fields: object) -> Event:
        event = Event(self.transport, direction, kind, conn=self.conn, **fields)  # type: ignore[arg-type]
        self._sink(event)
        return event


class Pause:
    """An interruptible sleep between reconnect attempts."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; True if woken early by :meth:`wake`."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def wake(self) -> None:
        self._wake.set()
