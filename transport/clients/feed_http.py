"""What the HTTP feed clients (short poll, long poll, NDJSON stream) share.

One exchange or stream at a time runs as an inner task, so **Drop
connection** can cancel it mid-flight (the connection closes under it, as a
network failure would) and the pooled connection is thrown away. Failures
retry as the reconnect controller says; 4xx, a body of the wrong type or
shape, and oversized bodies end the client with one sentence. Each client
resumes from the highest seq its feed receiver has (``after``); the ledger
proves what came back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from transport.core.backoff import Policy
from transport.clients.virtual_browser import VirtualBrowser
from transport.core.errors import BadStatus
from transport.core.events import EventSink, now_ns
from transport.core.wirestats import WireStats
from transport.clients.base import ClientBase
from transport.core.errors import snippet
from transport.clients.http import SessionOwner, WireCounter, count_response, new_session, validate_http_url
from transport.core.wire import served_by, served_note

log = logging.getLogger("duplex.http")


@dataclass(slots=True)
class FeedOptions:
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    policy: Policy = field(default_factory=lambda: Policy("exponential", 1.0, 5.0))
    interval: float = 1.0  # short poll: between the starts of two polls
    hold: float = 25.0  # long poll: how long the server may hold a request (?timeout=)
    limit: int | None = None  # polls: at most this many messages per answer (?limit=)
    conditional: bool = False  # short poll: ask again with If-None-Match (the last answer's ETag): 304 if nothing new
    open_timeout: float = 10.0  # connect and response headers (plus the hold)
    body_timeout: float = 10.0  # a poll body must end this soon after its headers
    max_body: int = 16 << 20  # a poll response body, or one stream line
    max_failures: int | None = None
    one_way_latency: bool | None = None
    verify_tls: bool = True  # False: the insecure switch (every row says so)
    ca_file: str | None = None  # trust this CA (PEM) and nothing else
    browser: VirtualBrowser | None = None  # whose cookie jar (and ?sid=) the requests use
    # another server: how its messages are numbered and how a request asks it to resume (query:NAME),
    # transport/core/sequence.py; with the lab, ?after= (and ?timeout=, ?limit=) as its protocol says
    seq_rule: str = "auto"
    resume_rule: str = "auto"
    # the stream only: a request with a body (an NDJSON answer to a POST); not sent again by itself
    method: str = "GET"
    body: str | None = None
    content_type: str = "application/json"
    retry_post: bool = False


def validate_url(url: str) -> str:
    return validate_http_url(url, "a poll or stream endpoint")


def start_after(url: str) -> int | None:
    """An ``after=N`` the user put in the URL: where to start."""
    for k, v in parse_qsl(urlsplit(url).query):
        if k == "after" and v.isdigit():
            return int(v)
    return None


class HttpFeedClient(ClientBase, SessionOwner):
    """Drop, errors and the exchange loop; subclasses do one exchange (a poll) or one stream."""

    options: FeedOptions

    def __init__(self, options: FeedOptions, sink: EventSink) -> None:
        self.counter = WireCounter()
        super().__init__(options, sink, log, stats=WireStats(self.counter), after=start_after(options.url))
        self._session: aiohttp.ClientSession | None = None
        self._inflight: asyncio.Task | None = None
        self._busy = False  # an exchange is on the wire
        self._idle_drop = False  # the last drop found nothing in flight
        self._last_end: int | None = None  # when the last answer was read (re-arm gaps start there)
        self._exchanges = 0

    @property
    def after(self) -> int | None:
        """The resume point: the next request asks for what came after it."""
        return self.receiver.after

    def drop(self) -> bool:
        """Cut the connection now: an in-flight request fails, pooled connections go."""
        task = self._inflight
        if self.state != "open" or task is None:
            return False
        # a drop with nothing in flight loses nothing: a row, not a loss episode (the next request
        # would have fetched the same messages anyway, so they are not "replayed")
        self._idle_drop = not self._busy
        self._emit("state", "fault", data="connection dropped (closed under the request)" if self._busy
                   else "connection dropped (the idle keep-alive connection is closed): nothing was in flight, "
                        "nothing can be lost; the next request opens a new connection",
                   meta={"fault": "drop", "in_flight": self._busy})
        task.cancel()
        return True

    # -- the I/O ------------------------------------------------------------------------
    def _validate(self, url: str) -> str:
        return validate_url(url)

    async def _close_connection(self) -> None:
        task = self._inflight
        if task is not None:
            task.cancel()

    async def _finish(self) -> None:
        await self._discard_session()

    async def _connection(self, url: str) -> str | None:
        """Exchanges in an inner task, so a drop can cancel one mid-flight (the connection closes
        under it, as a network failure would) and the pooled connection is thrown away."""
        o = self.options
        if self._session is None:
            self._session = new_session(self.counter, o.open_timeout, o.verify_tls, jar=self._jar, ca_file=o.ca_file)
        self._set_state("connecting")
        self._inflight = task = asyncio.ensure_future(self._exchanges_until_end(self._session, url))
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        finally:
            self._inflight = None
        self._last_end = None  # a retry's wait is not a re-arm gap
        if task.cancelled():  # dropped (or closed): the connection closed under it
            idle, self._idle_drop = self._idle_drop, False
            if not self._closing and not idle:
                self.receiver.connection_lost()
            await self._discard_session()
            return "the connection was dropped"
        exc = task.exception()
        if exc is not None:
            self.receiver.connection_lost()
            await self._discard_session()
            raise exc
        return task.result()

    async def _exchanges_until_end(self, session: aiohttp.ClientSession, url: str) -> str | None:
        """Polls, paced, until one fails; or one stream until it ends."""
        raise NotImplementedError

    # -- for subclasses ----------------------------------------------------------------
    def _request(self, url: str, note: str = "", headers: list[tuple[str, str]] | None = None, **meta: Any) -> int:
        """The request row (``headers``: the request's own, if the caller has them); returns its time.
        Bytes left from a failed exchange are not ours."""
        self.counter.mark()
        self.stats.requests += 1
        self._exchanges += 1
        t = now_ns()
        shown = dict(self._request_headers() if headers is None else headers)
        method = getattr(self.options, "method", "GET").upper()
        self._emit("out", "request", t=t, data=f"{method} {url}{note}", meta={
            "headers": shown, "after": self.after, "exchange": self._exchanges, **meta})
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
        self.receiver.note_epoch(resp.headers)
        meta.update(self.counter.tls)  # what TLS negotiated (the connections of one client are alike)
        self._emit("in", "response", t=t, wire=wire,
                   data=f"{resp.status} {resp.reason or ''}".strip() + note + served_note(resp.headers), meta={
                       "status": resp.status, "headers": dict(resp.headers), "heads": heads, "cookies": cookies,
                       "ms": round((t - started) / 1e6, 2), **served_by(resp.headers), **meta})
