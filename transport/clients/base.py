"""The small interface every client honours, and the pieces they share.

A client is created with its options and an event sink. ``run()`` connects,
reconnects by its policy and returns when ``close()`` was called or the
connection failed for good (the returned error says why). ``drop()`` aborts
the TCP connection now, to simulate a network failure.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..envelope import EPOCH_HEADER
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


def where(url: str) -> str:
    """``host:port`` of a URL (default ports by scheme), for sentences."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        port = "?"
    return f"{parts.hostname}:{port}"


class ClientBase:
    """State and reporting every client shares: ledger, state, errors, the sink."""

    transport = ""

    def __init__(self, options: Any, sink: EventSink, log: logging.Logger) -> None:
        self.options = options
        self.ledger = Ledger()
        self.state = "idle"
        self.last_error: DuplexError | None = None
        self._log = log
        self._sink = sink
        self._emit = Emitter(self.transport, sink)
        self._closing = False
        self._pause = Pause()
        self._resuming = False
        self.epoch: str | None = None  # the lab's numbering (Duplex-Epoch header), echoed when resuming
        host = urlsplit(options.url).hostname
        self._one_way = options.one_way_latency if options.one_way_latency is not None else is_loopback(host)

    @property
    def _jar(self) -> Any:
        browser = getattr(self.options, "browser", None)
        return browser.jar if browser is not None else None

    def _carried(self, url: str) -> str:
        """``url`` as the browser sends it (``?sid=`` with the query carrier)."""
        browser = getattr(self.options, "browser", None)
        return browser.with_carrier(url) if browser is not None else url

    def _request_headers(self) -> list[tuple[str, str]]:
        """The user's extra headers, and the lab's numbering once known (a resume point is only
        meaningful in it)."""
        headers = list(getattr(self.options, "headers", ()))
        if self.epoch:
            headers.append((EPOCH_HEADER, self.epoch))
        return headers

    def _note_epoch(self, headers: Any) -> None:
        value = headers.get(EPOCH_HEADER)
        if value:
            self.epoch = value[:64]

    async def _wait_to_reconnect(self, delay: float, attempt: int, why: str, verb: str = "reconnecting",
                                 **meta: object) -> None:
        """The waiting state, a ``reconnect`` row that says how long and why, then the (wakeable) wait."""
        self._set_state("waiting")
        self._emit("state", "reconnect", data=f"{verb} in {delay:.2f} s ({why})",
                   meta={"delay_s": round(delay, 3), "attempt": attempt, **meta})
        await self._pause.sleep(delay)

    def _error(self, err: DuplexError) -> None:
        self.last_error = err
        self._log.warning("%s", err.sentence)
        self._emit("state", "error", data=err.sentence, meta={"error": type(err).__name__, "fatal": err.fatal,
                                                              "status": getattr(err, "status", None)})

    def _fail(self, err: DuplexError, row: bool = True, state: str = "failed") -> DuplexError:
        """End for good: an error row (unless ``row`` is False), the final state."""
        if row and self.last_error is not err:
            self._error(err)
        self.last_error = err
        self._set_state(state)
        return err

    def _set_state(self, state: str) -> None:
        self.state = state
