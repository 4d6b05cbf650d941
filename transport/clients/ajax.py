"""AJAX calls and full-page postbacks: the half-duplex request/response world.

``run()`` holds a session (cookies, pooled connections) until ``close()``;
each operation is one request/response exchange, one at a time, with its
bytes counted on the socket. ``compare`` keeps the last AJAX change and the
last postback side by side: for the same change, what each cost.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from transport.core.backoff import Policy
from transport.clients.virtual_browser import VirtualBrowser
from transport.core.errors import BadStatus, DuplexError, InvalidURL, NotConnected, explain
from transport.core.events import EventSink, now_ns
from transport.core.wirestats import WireStats
from transport.core.urls import where
from transport.clients.base import ClientBase
from transport.core.errors import snippet
from transport.clients.http import SessionOwner, WireCounter, count_response, new_session, read_body, validate_http_url

log = logging.getLogger("duplex.ajax")

_STATE = re.compile(r'<input[^>]*name="state"[^>]*value="([^"]*)"')


@dataclass(slots=True)
class AjaxOptions:
    url: str  # the server's base URL; the endpoints are appended
    headers: list[tuple[str, str]] = field(default_factory=list)
    open_timeout: float = 10.0
    body_timeout: float = 10.0
    max_body: int = 16 << 20
    verify_tls: bool = True  # False: the insecure switch (every row says so)
    ca_file: str | None = None  # trust this CA (PEM) and nothing else
    one_way_latency: bool | None = None
    browser: VirtualBrowser | None = None  # whose cookie jar (and ?sid=) the requests use
    # nothing reconnects here, but failed requests are counted as every client counts them:
    # this many in a row (with no healthy stretch between) end the client
    policy: Policy = field(default_factory=lambda: Policy("exponential", 1.0, 5.0))
    max_failures: int | None = None


@dataclass(slots=True)
class Exchange:
    op: str
    method: str
    url: str
    status: int
    sent: int  # bytes on the socket, request
    received: int  # bytes on the socket, response
    ms: float
    body: bytes = b""

    @property
    def wire(self) -> int:
        return self.sent + self.received


def validate_url(url: str) -> str:
    return validate_http_url(url, "the server")


def base_url(url: str) -> str:
    parts = urlsplit(validate_url(url))
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


class AjaxClient(ClientBase, SessionOwner):
    transport = "ajax"
    options: AjaxOptions

    def __init__(self, options: AjaxOptions, sink: EventSink) -> None:
        self.counter = WireCounter()
        super().__init__(options, sink, log, stats=WireStats(self.counter))
        self._gave_up: DuplexError | None = None
        self.compare: dict[str, Exchange] = {}
        self.form_state: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self._done = asyncio.Event()
        self._base = ""

    @property
    def connected(self) -> bool:
        return self.state == "open"

    async def run(self) -> DuplexError | None:
        try:
            self._base = base_url(self.options.url)
        except InvalidURL as err:
            return self._fail(err)
        self._set_state("open")
        self._emit("state", "open", data=f"ready: requests go to {self._base}", meta={"base": self._base})
        try:
            await self._done.wait()
        finally:
            await self._discard_session()
        if self._gave_up is not None:
            return self._fail(self._gave_up)
        self._set_state("closed")
        return None

    async def send(self, payload: str | bytes) -> None:
        await self.post_message(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))

    async def close(self) -> None:
        self._closing = True
        self._done.set()

    def drop(self) -> bool:
        """Close the pooled keep-alive connections (the next request opens a new one)."""
        if self._session is None or self.state != "open":
            return False
        self._emit("state", "fault", data="connection dropped (the keep-alive connection is closed)",
                   meta={"fault": "drop"})
        session, self._session = self._session, None
        asyncio.ensure_future(session.close())
        return True

    # -- operations ------------------------------------------------------------------
    async def post_message(self, text: str) -> Exchange:
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise DuplexError(f"Not valid JSON: {exc}.") from exc
        ex = await self._exchange("message", "POST", "/api/messages", json_body=body)
        self.stats.messages += 1
        return ex

    async def get_value(self) -> Exchange:
        return await self._exchange("get value", "GET", "/api/session-value")

    async def set_value(self, value: str) -> Exchange:
        ex = await self._exchange("set value (AJAX)", "POST", "/api/session-value", json_body={"value": value})
        self.compare["ajax"] = ex
        return ex

    async def load_form(self) -> Exchange:
        ex = await self._exchange("load page", "GET", "/form")
        self._keep_state(ex)
        self.compare["load"] = ex
        return ex

    async def postback(self, value: str) -> Exchange:
        if self.form_state is None:
            await self.load_form()
        ex = await self._exchange("postback", "POST", "/form",
                                  form={"state": self.form_state or "", "value": value, "action": "save"})
        self._keep_state(ex)
        self.compare["postback"] = ex
        return ex

    # -- internals -------------------------------------------------------------------------
    def _keep_state(self, ex: Exchange) -> None:
        found = _STATE.search(ex.body.decode("utf-8", "replace"))
        self.form_state = html.unescape(found.group(1)) if found else None

    async def _exchange(self, op: str, method: str, path: str, json_body: object = None,
                        form: dict[str, str] | None = None) -> Exchange:
        if self.state != "open":
            raise NotConnected("Not connected: connect first, then send.")
        async with self._lock:
            if self._session is None:
                self._session = new_session(self.counter, self.options.open_timeout, self.options.verify_tls,
                                            jar=self._jar, ca_file=self.options.ca_file)
            url = self._carried(self._base + path)
            peer = where(url)
            self.counter.mark()
            self.stats.requests += 1
            started = now_ns()
            t0 = time.perf_counter()
            self._emit("out", "request", t=started, data=f"{method} {url}", meta={"op": op})
            try:
                async with asyncio.timeout(self.options.open_timeout):
                    resp = await self._session.request(method, url, headers=self.options.headers,
                                                       json=json_body, data=form)
                try:
                    body = await read_body(resp, self.options.max_body, self.options.body_timeout, peer)
                finally:
                    resp.release()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                err = explain(exc, peer, timeout=self.options.open_timeout)
                self._error(err)
                self._failed(err)
                raise err from exc
            ms = (time.perf_counter() - t0) * 1000
            sent, received = self.counter.mark()
            heads, _cookies = count_response(self.stats, resp)
            self.stats.payload += len(body)
            self.stats.rtt_ms.add(ms)
            self._emit("in", "response", wire=sent + received, size=len(body),
                       data=body.decode("utf-8", "replace"), meta={
                           "op": op, "status": resp.status, "sent": sent, "received": received,
                           "heads": heads, "ms": round(ms, 2), "headers": dict(resp.headers)})
            ex = Exchange(op, method, url, resp.status, sent, received, ms, body)
            if resp.status >= 400:
                err = BadStatus(f"{peer} answered HTTP {resp.status} {resp.reason or ''}".rstrip()
                                + f" to {method} {path} ({snippet(body)}).", resp.status)
                self._error(err)
                self._failed(err)
                raise err
            self.reconnect.polled(1, ms / 1000, None)  # an answer: the stretch of good requests goes on
            return ex

    def _failed(self, err: DuplexError) -> None:
        """A failed request counts as a failed attempt; too many in a row end the client."""
        decision = self.reconnect.failed(err.sentence)
        if decision.give_up:
            self._gave_up = err.restated(decision.why)
            self._done.set()
