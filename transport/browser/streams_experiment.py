"""Streams per origin, seen in Chromium: N streams from one page, and when each opened, on which connection.

The lab serves the page (``/experiment/streams?n=N&kind=sse|fetch``): it opens N EventSources (or N fetch
streams of ``/api/stream``) at once. Duplex watches the tab over the DevTools protocol: a stream's request is
``Network.requestWillBeSent``; it is open at ``Network.responseReceived``, whose ``response.connectionId`` and
``response.protocol`` say on which connection and over which protocol. Over HTTP/1.1 Chromium keeps at most six
connections per origin: six open and the rest stay pending; once the page closes one stream, a pending one
opens in its place (the experiment closes stream 0 to show it). Over HTTP/2 every stream opens on one
connection.

``run_series`` is one page (one protocol, one kind); :class:`StreamsExperiment` owns the Chromium the series
run in (one browser, a tab per series: a stream of one tab never holds up another's origin).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from transport.browser.cdp import CDPConnection, CDPError
from transport.browser.trust import server_spki, trust_flags
from transport.clients.tls import uses_tls
from transport.core.wire import STREAMS_EXPERIMENT_PATH

SETTLE_S = 1.5  # no stream opened for this long: the rest are pending
MAX_STREAMS = 200
KINDS = ("sse", "fetch")


@dataclass
class StreamRow:
    index: int
    kind: str
    url: str
    sent_ms: float | None = None  # since the page's first stream request
    opened_ms: float | None = None
    protocol: str | None = None
    connection: int | None = None
    after_close: bool = False  # it opened only once the experiment closed another stream

    @property
    def state(self) -> str:
        """When the page's streams settled: a stream that opened only once another closed was pending then."""
        return "open" if self.opened_ms is not None and not self.after_close else "pending"

    def to_json(self) -> dict[str, Any]:
        return {"stream": self.index, "kind": self.kind, "url": self.url, "state": self.state,
                "protocol": self.protocol, "connection": self.connection,
                "sent_ms": _r(self.sent_ms), "opened_ms": _r(self.opened_ms), "after_close": self.after_close}


@dataclass
class Series:
    """One page's streams over one protocol."""
    origin: str
    kind: str
    rows: list[StreamRow] = field(default_factory=list)
    released: int = 0  # streams that opened after the experiment closed stream 0
    held_messages: int = 0  # EventSource messages the page received during the hold (run_series' hold_s)

    @property
    def opened(self) -> list[StreamRow]:
        return [r for r in self.rows if r.opened_ms is not None and not r.after_close]

    @property
    def protocol(self) -> str:
        seen = sorted({r.protocol for r in self.rows if r.protocol})
        return "+".join(seen) if seen else "none"

    @property
    def connections(self) -> int:
        """Connections the streams open at once used (the one a released stream opened on is not counted)."""
        return len({r.connection for r in self.opened if r.connection is not None})

    @property
    def all_open_ms(self) -> float | None:
        """Until the last stream opened, when all of them did without any closing."""
        if len(self.opened) != len(self.rows) or not self.rows:
            return None
        return max(r.opened_ms or 0.0 for r in self.rows)

    def summary(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "kind": self.kind, "streams": len(self.rows), "open": len(self.opened),
                "pending": len(self.rows) - len(self.opened), "connections": self.connections,
                "all_open_ms": _r(self.all_open_ms), "opened_after_a_close": self.released, "origin": self.origin}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def protocol_series(lab_url: str, tls: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(title, origin) per protocol a lab offers: plain, HTTP/1.1 alone; the TLS lab (its first line's ``tls``),
    its http/1.1-only port, then its h2 port when ALPN offers h2."""
    if tls is None:
        return [("HTTP/1.1", lab_url)]
    runs = [("HTTP/1.1", str(tls["http1_url"]))]
    if "h2" in (tls.get("alpn") or []):
        runs.append(("HTTP/2", lab_url))
    return runs


def page_url(origin: str, n: int, kind: str) -> str:
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}{STREAMS_EXPERIMENT_PATH}?n={n}&kind={kind}"


class StreamsExperiment:
    """A Chromium of its own for the experiment, trusting the TLS lab's certificate by its SPKI hash."""

    def __init__(self, *, ca_file: str | None = None, insecure: bool = False, headless: bool = True) -> None:
        self.ca_file, self.insecure, self.headless = ca_file, insecure, headless
        self._chromium: Any = None
        self._cdp: CDPConnection | None = None

    async def start(self, origins: list[str]) -> None:
        """Launch Chromium trusting every ``https://`` origin in ``origins`` (their certificates' hashes)."""
        from transport.browser.chromium import launch
        spkis = sorted({await server_spki(o, self.ca_file, self.insecure) for o in origins if uses_tls(o)})
        flags = trust_flags(",".join(spkis)) if spkis else ()
        self._chromium = await launch(headless=self.headless, extra=flags)
        try:
            self._cdp = await CDPConnection.connect(self._chromium.devtools)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        cdp, chromium = self._cdp, self._chromium
        self._cdp = self._chromium = None
        try:
            if cdp is not None:
                await cdp.close()
        finally:
            if chromium is not None:
                await chromium.stop()

    async def __aenter__(self) -> "StreamsExperiment":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def run_series(self, origin: str, n: int, kind: str = "sse", *, settle_s: float = SETTLE_S,
                         timeout: float = 30.0, on_row: Callable[[StreamRow], None] | None = None,
                         hold_s: float = 0.0, on_hold: Callable[[bool], None] | None = None) -> Series:
        """Open the page on ``origin`` with ``n`` streams of ``kind``; return once every stream opened, or no
        more opened for ``settle_s`` (then close stream 0 and watch one pending stream take its place).
        ``hold_s``: once settled, keep the streams open that long, counting their messages (``on_hold(True)``
        as it starts and ``on_hold(False)`` as it ends: a caller's byte count in between)."""
        if self._cdp is None:
            raise CDPError("The experiment's browser is not started.")
        if not 1 <= n <= MAX_STREAMS or kind not in KINDS:
            raise ValueError(f"1 to {MAX_STREAMS} streams of kind {' or '.join(KINDS)}")
        cdp = self._cdp
        series = Series(origin, kind, [StreamRow(i, kind, "") for i in range(n)])
        by_request: dict[str, StreamRow] = {}
        first_ts: list[float] = []
        changed = asyncio.Event()
        closed_one = False
        holding = False
        target = (await cdp.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]

        def on_event(method: str, p: dict[str, Any], sid: str | None) -> None:
            if sid != session:
                return
            if method == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                index = _stream_index(url)
                if index is None or index >= n or p.get("redirectResponse"):
                    return
                row = series.rows[index]
                if not first_ts:
                    first_ts.append(float(p.get("timestamp", 0.0)))
                row.url = url
                row.sent_ms = (float(p.get("timestamp", 0.0)) - first_ts[0]) * 1000
                by_request[p["requestId"]] = row
            elif method == "Network.responseReceived":
                found = by_request.get(p.get("requestId", ""))
                if found is None or found.opened_ms is not None:
                    return
                row = found
                response = p.get("response", {})
                row.opened_ms = (float(p.get("timestamp", 0.0)) - (first_ts[0] if first_ts else 0.0)) * 1000
                row.protocol = response.get("protocol")
                conn = response.get("connectionId")
                row.connection = int(conn) if isinstance(conn, (int, float)) else None
                row.after_close = closed_one
                if closed_one:
                    series.released += 1
                if on_row is not None:
                    on_row(row)
                changed.set()
            elif method == "Network.eventSourceMessageReceived" and holding:
                series.held_messages += 1

        cdp.listen(on_event)
        try:
            await cdp.send("Network.enable", session=session)
            await cdp.send("Page.enable", session=session)
            answer = await cdp.send("Page.navigate", {"url": page_url(origin, n, kind)}, session=session)
            if answer.get("errorText"):
                raise CDPError(f"Chromium could not open the experiment's page on {origin}: {answer['errorText']}.")
            deadline = time.monotonic() + timeout
            await _settle(series, changed, settle_s, deadline, lambda: sum(r.opened_ms is not None for r in series.rows))
            if hold_s > 0:
                holding = True
                if on_hold is not None:
                    on_hold(True)
                await asyncio.sleep(hold_s)  # the measured window itself, not a wait for a condition
                holding = False
                if on_hold is not None:
                    on_hold(False)
            if any(r.opened_ms is None for r in series.rows) and series.opened:
                closed_one = True  # one stream closes: over HTTP/1.1 its connection goes to a pending one
                first_open = min(series.opened, key=lambda r: r.opened_ms or 0.0).index
                await cdp.send("Runtime.evaluate", {"expression": f"window.duplexStreams[{first_open}].close()"},
                               session=session)
                await _settle(series, changed, settle_s, deadline, lambda: series.released, until=1)
        finally:
            with contextlib.suppress(CDPError):
                await cdp.send("Target.closeTarget", {"targetId": target})
            cdp.unlisten(on_event)
        return series


async def _settle(series: Series, changed: asyncio.Event, settle_s: float, deadline: float,
                  count: Callable[[], int], until: int | None = None) -> None:
    """Wait until every stream opened (or ``count()`` reached ``until``), or nothing changed for ``settle_s``."""
    goal = until if until is not None else len(series.rows)
    while count() < goal:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), min(settle_s, left))
        except TimeoutError:
            return  # quiet for settle_s: the rest are pending


def _stream_index(url: str) -> int | None:
    query = urlsplit(url).query
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "stream" and value.isdigit():
            return int(value)
    return None
