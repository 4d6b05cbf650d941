"""What the HTTP feed clients (short poll, long poll, NDJSON stream) share.

One exchange or stream at a time runs as an inner task, so **Drop
connection** can cancel it mid-flight (the connection closes under it, as a
network failure would) and the pooled connection is thrown away. Failures
retry by the reconnect policy; 4xx, a body of the wrong type or shape, and
oversized bodies end the client with one sentence. Each client resumes from
the highest seq it has (``after``); the ledger proves what came back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from ..backoff import Policy
from ..browser import VirtualBrowser
from ..errors import BadStatus, DuplexError, InvalidURL, explain
from ..events import Event, EventSink, now_ns
from ..ledger import gap_sentence
from ..wirestats import WireStats
from .base import ClientBase, where
from .http import SessionOwner, WireCounter, count_response, new_session, snippet, validate_http_url

log = logging.getLogger("duplex.http")


@dataclass(slots=True)
class FeedOptions:
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    policy: Policy = field(default_factory=lambda: Policy("exponential", 1.0, 5.0))
    interval: float = 1.0  # short poll: between the starts of two polls
    hold: float = 25.0  # long poll: how long the server may hold a request (?timeout=)
    limit: int | None = None  # polls: at most this many messages per answer (?limit=)
    open_timeout: float = 10.0  # connect and response headers (plus the hold)
    body_timeout: float = 10.0  # a poll body must end this soon after its headers
    max_body: int = 16 << 20  # a poll response body, or one stream line
    max_failures: int | None = None
    one_way_latency: bool | None = None
    verify_tls: bool = True
    browser: VirtualBrowser | None = None  # whose cookie jar (and ?sid=) the requests use


def validate_url(url: str) -> str:
    return validate_http_url(url, "a poll or stream endpoint")


def start_after(url: str) -> int | None:
    """An ``after=N`` the user put in the URL: where to start."""
    for k, v in parse_qsl(urlsplit(url).query):
        if k == "after" and v.isdigit():
            return int(v)
    return None


class HttpFeedClient(ClientBase, SessionOwner):
    """The run loop, drop, errors and message handling; subclasses do one cycle."""

    options: FeedOptions

    def __init__(self, options: FeedOptions, sink: EventSink) -> None:
        super().__init__(options, sink, log)
        self.counter = WireCounter()
        self.stats = WireStats(self.counter)
        self.after: int | None = start_after(options.url)
        self._session: aiohttp.ClientSession | None = None
        self._inflight: asyncio.Task | None = None
        self._busy = False  # an exchange is on the wire
        self._last_end: int | None = None  # when the last answer was read (re-arm gaps start there)
        self._succeeded = False
        self._exchanges = 0

    # -- public API ------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.state == "open"

    async def run(self) -> DuplexError | None:
        try:
            url = validate_url(self.options.url)
        except InvalidURL as err:
            return self._fail(err)
        o = self.options
        delays = o.policy.delays()
        failures = 0
        self._set_state("connecting")
        try:
            while not self._closing:
                if self._session is None:
                    self._emit.conn += 1  # a new session: new connections
                    self._session = new_session(self.counter, o.open_timeout, o.verify_tls, jar=self._jar)
                self._inflight = task = asyncio.ensure_future(self._cycles(self._session, url))
                try:
                    await asyncio.wait({task})
                except asyncio.CancelledError:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    raise
                finally:
                    self._inflight = None
                if self._succeeded:  # it worked for a while: back off from the start
                    self._succeeded = False
                    failures = 0
                    delays = o.policy.delays()
                if self._closing:
                    break
                self._last_end = None  # a retry's wait is not a re-arm gap
                if task.cancelled():  # dropped: the connection closed under it
                    self.ledger.connection_lost()
                    await self._discard_session()
                    wait = self._pace()  # a short poll keeps its rhythm
                    if wait > 0:
                        await self._pause.sleep(wait)
                    continue
                exc = task.exception()
                assert exc is not None  # _cycles only ends by an error or by being cancelled
                err = explain(exc, where(url), timeout=o.open_timeout)
                if err.fatal:
                    return self._fail(err)
                self._error(err)
                self.ledger.connection_lost()
                failures += 1
                if o.max_failures is not None and failures >= o.max_failures:
                    return self._fail(err.restated(f"Giving up after {failures} failed attempts: {err.sentence}"))
                await self._discard_session()
                delay = next(delays)
                await self._wait_to_reconnect(delay, failures + 1, f"attempt {failures + 1}", verb="retrying",
                                              policy=o.policy.describe())
        finally:
            await self._discard_session()
        self._set_state("closed")
        return None

    async def close(self) -> None:
        self._closing = True
        task = self._inflight
        if task is not None:
            task.cancel()
        self._pause.wake()

    def drop(self) -> bool:
        """Cut the connection now: an in-flight request fails, pooled connections go."""
        task = self._inflight
        if self.state != "open" or task is None:
            return False
        self._emit("state", "fault", data="connection dropped (closed under the request)" if self._busy
                   else "connection dropped (the idle keep-alive connection is closed)", meta={"fault": "drop"})
        task.cancel()
        return True

    async def _cycles(self, session: aiohttp.ClientSession, url: str) -> None:
        """Cycle after cycle, paced, until one fails (raises) or a drop or close cancels it.

        It also stops by itself on close: on 3.11 ``wait_for`` can swallow a
        cancel that lands as its wait ends (the pause woken by close)."""
        while not self._closing:
            self._busy = True
            try:
                await self._cycle(session, url)
            finally:
                self._busy = False
            self._succeeded = True
            wait = self._pace()
            if wait > 0:
                await self._pause.sleep(wait)

    # -- for subclasses ----------------------------------------------------------------
    async def _cycle(self, session: aiohttp.ClientSession, url: str) -> None:
        """One exchange (a poll) or one stream, until it ends."""
        raise NotImplementedError

    def _pace(self) -> float:
        """Seconds to wait after a successful cycle before the next one."""
        return 0.0

    def _request(self, url: str, note: str = "", **meta: Any) -> int:
        """The request row; returns its time. Bytes left from a failed exchange are not ours."""
        self.counter.mark()
        self.stats.requests += 1
        self._exchanges += 1
        t = now_ns()
        headers = dict(self._request_headers())
        self._emit("out", "request", t=t, data=f"GET {url}{note}", meta={
            "headers": headers, "after": self.after, "exchange": self._exchanges, **meta})
        return t

    def _check_status(self, resp: aiohttp.ClientResponse, body: bytes | None, peer: str) -> None:
        if resp.status < 300:
            return
        said = f" ({snippet(body)})" if body else ""
        raise BadStatus(f"{peer} answered HTTP {resp.status} {resp.reason or ''}".rstrip() + said + ".",
                        resp.status)

    def _response_row(self, resp: aiohttp.ClientResponse, t: int, started: int, wire: int, note: str = "",
                      **meta: Any) -> None:
        heads, cookies = count_response(self.stats, resp)
        self._note_epoch(resp.headers)
        self._emit("in", "response", t=t, wire=wire, data=f"{resp.status} {resp.reason or ''}".strip() + note, meta={
            "status": resp.status, "headers": dict(resp.headers), "heads": heads, "cookies": cookies,
            "ms": round((t - started) / 1e6, 2), **meta})

    def _resume_started(self) -> None:
        ep = self.ledger.episodes[-1] if self.ledger.episodes else None
        if ep is not None and not ep.recovered:
            self._resuming = True
            self.ledger.replay_started()

    def _resume_finished(self) -> None:
        if self._resuming:
            self._resuming = False
            self.ledger.replay_finished()

    def _item(self, text: str, value: Any, t: int) -> bool:
        """One item of the feed (envelope or control); True if it was a feed message."""
        size = len(text) if text.isascii() else len(text.encode())
        if isinstance(value, dict) and "control" in value:
            self._control(value, text, size, t)
            return False
        seq = value.get("seq") if isinstance(value, dict) else None
        seq = seq if type(seq) is int else None
        row_meta: dict[str, Any] = {}
        latency = None
        if seq is not None:
            verdict = self.ledger.record(seq)
            if verdict != "new":
                row_meta["ledger"] = verdict
            if self.after is None or seq > self.after:
                self.after = seq
            topic = value.get("topic")
            if isinstance(topic, str):
                row_meta["topic"] = topic
            ts = value.get("ts")
            if self._one_way and type(ts) is int:
                lat = (t - ts) / 1e6
                if 0 <= lat < 3_600_000:
                    latency = lat
                    self.stats.staleness_ms.add(lat)
        self.stats.messages += 1
        self.stats.payload += size
        self._sink(Event(self.transport, "in", "message", t, self._emit.conn, seq, size, None, latency, text,
                         row_meta))
        return True

    def _control(self, value: dict, text: str, size: int, t: int) -> None:
        kind = value.get("control")
        if kind == "gap" and type(value.get("after")) is int and type(value.get("first_available")) is int:
            after, first, reset = value["after"], value["first_available"], value.get("reset") is True
            self.ledger.gap(after, first, reset)
            if reset:  # the server numbers from 1 again: resume in its numbering
                self.after = first - 1
            self._emit("state", "gap", t=t, size=size, data=text, meta={
                "after": after, "first_available": first, "missing": value.get("missing"), "reset": reset,
                "sentence": gap_sentence(after, first, value.get("missing", "?"), reset)})
        elif kind == "live":
            seq = value.get("seq")
            if type(seq) is int and (self.after is None or seq > self.after):
                self.after = seq
            self._resume_finished()
            self._emit("state", "live", t=t, size=size, data=text, meta={"seq": seq})
        else:
            self._emit("in", "control", t=t, size=size, data=text)
