"""A real browser as one more client for Compare: headless Chromium on the lab's demo page, its
WebSocket only (the page's own ``new WebSocket``), with the :class:`Client` interface.

Its events are the page's WebSocket rows as the DevTools watcher records them (the page's other
requests, its ``/session/me`` checks, are left out: they are not the feed's cost). The handshake's
bytes are its two heads as Chromium reports them (request line or status line and every header),
which is what the socket carried for it.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

from transport.core.backoff import Policy
from transport.core.errors import DuplexError
from transport.core.events import Event, EventSink
from transport.core.ledger import Ledger
from transport.core.wirestats import WireStats
from transport.browser.chromium_watch import PageTab, WatchedBrowser

log = logging.getLogger("duplex.clients.chromium_page")


def head_bytes(first_line: str, headers: dict[str, Any]) -> int:
    """An HTTP head's size: its first line, each ``Name: value`` line and the blank line (CRLF each)."""
    return len(first_line) + 2 + sum(len(str(k)) + len(str(v)) + 4 for k, v in headers.items()) + 2


class BrowserPageClient:
    transport = "websocket"

    def __init__(self, base_url: str, sink: EventSink) -> None:
        self.options = SimpleNamespace(url=base_url + "/demo?apis=ws")
        self.state = "idle"
        self.last_error: DuplexError | None = None
        self._sink = sink
        self._closing = asyncio.Event()
        self._tab: PageTab | None = None
        self.stats = WireStats()
        self._empty = Ledger()

    @property
    def ledger(self) -> Ledger:
        receiver = self._tab.receivers.get("websocket") if self._tab is not None else None
        return receiver.ledger if receiver is not None else self._empty

    @property
    def connected(self) -> bool:
        return self.state == "open"

    def _forward(self, e: Event) -> None:
        if e.transport != "websocket":
            return
        if e.kind == "open" and e.direction == "state":
            url = e.data if isinstance(e.data, str) else ""
            wire = head_bytes(f"GET {url} HTTP/1.1", e.meta.get("request_headers") or {}) + head_bytes(
                f"HTTP/1.1 {e.meta.get('status', 101)} Switching Protocols", e.meta.get("response_headers") or {})
            e = e._replace(wire=wire)
            self.state = "open"
        elif e.kind == "close":
            self.state = "waiting"
        self._sink(e)

    async def run(self) -> DuplexError | None:
        browser = WatchedBrowser(self._forward)
        self.state = "connecting"
        try:
            watch = await browser.start()
            self._tab = await watch.open_tab(self.options.url)
            closed = asyncio.ensure_future(watch.cdp.closed.wait())
            closing = asyncio.ensure_future(self._closing.wait())
            try:
                await asyncio.wait({closed, closing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closed.cancel()
                closing.cancel()
            if not self._closing.is_set():
                self.last_error = DuplexError("The browser went away during the run.")
                return self.last_error
            return None
        except DuplexError as err:
            self.last_error = err
            self.state = "failed"
            return err
        finally:
            await browser.stop()
            if self.state != "failed":
                self.state = "closed"

    async def close(self) -> None:
        self._closing.set()

    def drop(self) -> bool:
        return False

    async def send(self, payload: str | bytes) -> None:
        raise DuplexError("The browser's page sends its own messages.")

    def use_policy(self, policy: Policy | None) -> None:
        """The page reconnects by its own rule (1 s)."""
