"""The Server-Sent Events client: a browser's ``EventSource``, observable.

Built on aiohttp and the sans-I/O parser in :mod:`transport.sse`. It follows
the WHATWG processing model: a 200 response with ``Content-Type:
text/event-stream`` opens the stream; when the stream ends or the connection
drops it waits the reconnection time (the server's last valid ``retry``,
kept across reconnects, or the default) and reconnects with
``Last-Event-ID``; while the server is down the wait grows (backoff). A 204
stops reconnecting for good; any other status, or another content type,
fails the connection without retrying. Redirects are followed.

Beyond a browser it sends extra headers, shows comments, ``retry`` changes,
the request and the response with their headers and timing, and warns
about responses that make streams misbehave (no ``Cache-Control:
no-cache``, compression, bursts that suggest a buffering proxy). Streams
have no total timeout, and lines of any length up to ``max_event_size``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import aiohttp

from ..backoff import Policy, event_source_delay
from ..browser import VirtualBrowser
from ..errors import (BadStatus, DuplexError, InvalidURL, MessageTooBig, ServerStopped, WrongResponse, explain,
                      human_size)
from ..envelope import envelope_fields
from ..events import Event, EventSink, now_ns
from ..ledger import gap_sentence
from ..wirestats import WireStats
from ..sse import Comment, EventStreamParser, EventTooLarge, Retry, ServerSentEvent
from .base import ClientBase, where
from .http import WireCounter, count_response, mime_essence, new_session, split_head, validate_http_url

log = logging.getLogger("duplex.sse")

DEFAULT_RETRY_MS = 3000  # what browsers use before a server sets ``retry``


@dataclass(slots=True)
class SSEOptions:
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    # None: EventSource behaviour (the server's retry, backoff while down);
    # a Policy overrides it (to compare policies).
    policy: Policy | None = None
    default_retry_ms: int = DEFAULT_RETRY_MS
    backoff_cap: float = 30.0  # longest wait while the server stays down (s)
    open_timeout: float = 10.0  # connect and response headers
    idle_timeout: float | None = None  # no bytes for this long: treat as dropped (a browser has none)
    max_event_size: int = 16 << 20
    max_failures: int | None = None  # consecutive failed attempts before giving up
    one_way_latency: bool | None = None  # None: when the host is loopback (same clock)
    verify_tls: bool = True
    browser: VirtualBrowser | None = None  # whose cookie jar (and ?sid=) the requests use
    burst_events: int = 20  # this many events in one read…
    burst_silence: float = 1.0  # …after this much silence (s) looks like a buffering proxy


def validate_url(url: str) -> str:
    """Check an http:// or https:// URL; raise InvalidURL with a sentence otherwise."""
    return validate_http_url(url, "an event stream")


class SSEClient(ClientBase):
    transport = "sse"
    options: SSEOptions

    def __init__(self, options: SSEOptions, sink: EventSink) -> None:
        super().__init__(options, sink, log)
        self.parser = EventStreamParser(max_size=options.max_event_size)
        self.requests = 0
        self.counter = WireCounter()
        self.stats = WireStats(self.counter)
        self._resp: aiohttp.ClientResponse | None = None
        self._carry = 0

    # -- public API ------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._resp is not None and self.state == "open"

    @property
    def retry_s(self) -> float:
        ms = self.parser.retry if self.parser.retry is not None else self.options.default_retry_ms
        return ms / 1000.0

    async def run(self) -> DuplexError | None:
        """Connect and keep the stream going until close() or a fatal error."""
        try:
            url = validate_url(self.options.url)
        except InvalidURL as err:
            return self._fail(err)
        o = self.options
        policy_delays = o.policy.delays() if o.policy is not None else None
        failures = 0
        async with new_session(self.counter, o.open_timeout, o.verify_tls, jar=self._jar) as session:
            while not self._closing:
                self._emit.conn += 1
                opened = time.monotonic()
                try:
                    opened_ok = await self._attempt(session, url)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # every failure becomes one sentence (ours pass through)
                    err = explain(exc, where(url), timeout=o.open_timeout)
                    if err.fatal:
                        stopped = isinstance(err, ServerStopped)  # a 204: its close row says it all
                        return self._fail(err, row=not stopped, state="closed" if stopped else "failed")
                    self._error(err)
                    opened_ok = False
                if self._closing:
                    break
                if not opened_ok:  # no stream at all: the server is down or unreachable
                    failures += 1
                    if o.max_failures is not None and failures >= o.max_failures:
                        assert self.last_error is not None
                        return self._fail(self.last_error.restated(
                            f"Giving up after {failures} failed attempts: {self.last_error.sentence}"))
                else:
                    stable = time.monotonic() - opened >= (o.policy.stable_after if o.policy else 0.0)
                    if stable:
                        failures = 0
                        policy_delays = o.policy.delays() if o.policy is not None else None
                    else:
                        failures += 1
                await self._wait(policy_delays, failures)
        self._set_state("closed")
        return None

    async def close(self) -> None:
        self._closing = True
        self._pause.wake()
        resp = self._resp
        if resp is not None:
            resp.close()

    def drop(self) -> bool:
        """Abort the TCP connection now (a network failure mid-stream)."""
        resp = self._resp
        conn = resp.connection if resp is not None else None
        if conn is None or conn.transport is None:
            return False
        self._emit("state", "fault", data="connection dropped (TCP abort)", meta={"fault": "drop"})
        conn.transport.abort()
        return True

    # -- one connection ------------------------------------------------------------
    async def _attempt(self, session: aiohttp.ClientSession, url: str) -> bool:
        """One request and, if it opens, its stream until it ends; True if it opened."""
        o = self.options
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        headers.update(self._request_headers())
        last_id = self.parser.last_event_id
        if last_id:
            headers["Last-Event-ID"] = last_id
        self._set_state("connecting")
        self.requests += 1
        self.stats.requests += 1
        self.counter.mark()  # what a failed attempt left is not this exchange's
        started = now_ns()
        url = self._carried(url)
        self._emit("out", "request", t=started, data=f"GET {url}", meta={
            "headers": headers, "last_event_id": last_id or None, "attempt": self.requests})
        async with asyncio.timeout(o.open_timeout):
            resp = await session.get(url, headers=headers, allow_redirects=True, max_redirects=10)
        try:
            return await self._stream(resp, url, started, bool(last_id))
        finally:
            resp.close()
            self._resp = None

    async def _stream(self, resp: aiohttp.ClientResponse, url: str, started: int, resumed: bool) -> bool:
        o = self.options
        got = now_ns()
        ttfb = (got - started) / 1e6
        ctype = resp.headers.get("Content-Type")
        self._note_epoch(resp.headers)
        sent, received = self.counter.mark()
        head, self._carry = split_head(resp, received)  # the carry is the first read's
        heads, cookies = count_response(self.stats, resp)
        self._emit("in", "response", t=got, wire=sent + head,
                   data=f"{resp.status} {resp.reason or ''}".strip(), meta={
                       "status": resp.status, "headers": dict(resp.headers), "ttfb_ms": round(ttfb, 2),
                       "heads": heads, "cookies": cookies,
                       "url": str(resp.url),
                       "redirects": [f"{r.status} → {r.headers.get('Location', '')}" for r in resp.history],
                       "request_headers": dict(resp.request_info.headers)})
        peer = where(url)
        if resp.status == 204:
            self._emit("state", "close", data="the server answered 204 No Content: not reconnecting",
                       meta={"status": 204, "by": "server"})
            raise ServerStopped(f"{peer} answered 204 No Content: the server asks the client to stop "
                                "reconnecting, so it stops (as a browser's EventSource does).")
        if resp.status != 200:
            body = await _peek(resp)
            err = BadStatus(f"{peer} answered HTTP {resp.status} {resp.reason or ''}".rstrip()
                            + f" instead of 200: the connection fails and is not retried{body}.", resp.status)
            err.fatal = True  # any status but 200 and 204 fails an EventSource for good
            raise err
        if mime_essence(ctype) != "text/event-stream":
            shown = ctype if ctype else "no Content-Type at all"
            raise WrongResponse(f"{peer} answered with {shown!r}, not text/event-stream: it is not an "
                                "event stream, so the connection fails and is not retried.")
        self._check_headers(resp)
        self._resp = resp
        if resumed:
            self._resuming = True
            self.ledger.replay_started()
        self._set_state("open")
        self._emit("state", "open", data=str(resp.url), meta={"status": resp.status, "ttfb_ms": round(ttfb, 2)})
        try:
            await self._read(resp, started)
        except EventTooLarge as exc:
            raise MessageTooBig(
                f"An event from {peer} grew past the {human_size(exc.limit)} limit: the connection is closed "
                "and not retried (the same event would come again). Raise the maximum event size to read it."
            ) from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionError, TimeoutError) as exc:
            self.parser.end()
            if not self._closing:
                reason = f"no bytes for {o.idle_timeout:g} s" if isinstance(exc, TimeoutError) else \
                    (str(exc) or type(exc).__name__)
                self._emit("state", "close", data=f"connection lost mid-stream: {reason}",
                           meta={"by": "network", "error": str(exc)})
                self.ledger.connection_lost()
            return True
        self.parser.end()
        if not self._closing:
            self._emit("state", "close", data="the server ended the stream", meta={"by": "server"})
            self.ledger.connection_lost()
        return True

    async def _read(self, resp: aiohttp.ClientResponse, started: int) -> None:
        """Feed the parser until the stream ends; emit what each read completed."""
        o = self.options
        parser, emit = self.parser, self._emit
        loop = asyncio.get_running_loop()
        owed = 0  # bytes read that completed no item yet
        last_read = time.monotonic()
        burst_warned = False
        first = True
        async with asyncio.timeout(None) as idle:
            while True:
                if o.idle_timeout:
                    idle.reschedule(loop.time() + o.idle_timeout)
                chunk = await resp.content.readany()
                if not chunk:
                    return
                now = time.monotonic()
                silence, last_read = now - last_read, now
                items = parser.feed(chunk)
                owed += self.counter.mark()[1] + self._carry  # bytes read on the socket, framing included
                self._carry = 0
                if not items:
                    continue
                if first:
                    first = False
                    since = (now_ns() - started) / 1e6
                    emit("state", "first_event", data=f"first item {since:.1f} ms after the request",
                         meta={"from_request_ms": round(since, 2)})
                share, extra = divmod(owed, len(items))
                owed = 0
                received = now_ns()
                n = 0
                for i, item in enumerate(items):
                    wire = share + (extra if i == 0 else 0)
                    if type(item) is ServerSentEvent:
                        n += 1
                        self._on_event(item, received, wire)
                    elif type(item) is Comment:
                        emit("in", "comment", t=received, size=len(item.text), wire=wire, data=item.text)
                    elif type(item) is Retry:
                        emit("in", "retry", t=received, wire=wire, data=f"retry: {item.ms} ms",
                             meta={"retry_ms": item.ms})
                if not burst_warned and n >= o.burst_events and silence >= o.burst_silence:
                    burst_warned = True
                    self._warn("buffering", f"{n} events arrived in one read after {silence:.1f} s of silence: "
                               "a proxy or the server may be buffering the stream (flush after each event; "
                               "nginx: X-Accel-Buffering: no).")

    def _on_event(self, ev: ServerSentEvent, received: int, wire: int) -> None:
        data = ev.data
        size = len(data) if data.isascii() else len(data.encode())
        latency = None
        meta = {"type": ev.type, "last_event_id": ev.last_event_id}
        seq, ts, _topic, obj = envelope_fields(data)
        if obj is not None and ev.type in ("gap", "live") and self._on_control(ev.type, obj, data, size, wire,
                                                                               received):
            return
        if seq is not None:
            verdict = self.ledger.record(seq)
            if verdict != "new":
                meta["ledger"] = verdict
            if self._one_way and ts is not None:
                lat = (received - ts) / 1e6
                if 0 <= lat < 3_600_000:
                    latency = lat
        self.stats.messages += 1
        self.stats.payload += size
        # built directly (positional): this is the per-event hot path
        self._sink(Event("sse", "in", "message", received, self._emit.conn, seq, size, wire, latency, data, meta))

    def _on_control(self, kind: str, obj: dict, data: str, size: int, wire: int, t: int) -> bool:
        """The lab's ``gap`` and ``live`` events; False if ``obj`` is not one (a remote's own event)."""
        if kind == "gap" and isinstance(obj.get("after"), int) and isinstance(obj.get("first_available"), int):
            after, first, reset = obj["after"], obj["first_available"], obj.get("reset") is True
            self.ledger.gap(after, first, reset)
            self._emit("state", "gap", t=t, size=size, wire=wire, data=data, meta={
                "type": kind, "after": after, "first_available": first, "missing": obj.get("missing"),
                "reset": reset, "sentence": gap_sentence(after, first, obj.get("missing", "?"), reset)})
            return True
        if kind == "live" and set(obj) == {"seq"}:
            if self._resuming:
                self.ledger.replay_finished()
                self._resuming = False
            self._emit("state", "live", t=t, size=size, wire=wire, data=data, meta={"type": kind, "seq": obj["seq"]})
            return True
        return False

    def _check_headers(self, resp: aiohttp.ClientResponse) -> None:
        cache = resp.headers.get("Cache-Control", "").lower()
        if "no-cache" not in cache and "no-store" not in cache:
            said = f"Cache-Control: {cache}" if cache else "no Cache-Control header"
            self._warn("cache-control", f"The response has {said}: without 'no-cache' a proxy or the browser "
                       "may cache or buffer the stream.")
        encoding = resp.headers.get("Content-Encoding", "").lower()
        if encoding and encoding != "identity":
            self._warn("compression", f"The stream is compressed (Content-Encoding: {encoding}): many proxies "
                       "and clients buffer compressed streams, so events can arrive late and in bursts.")

    async def _wait(self, policy_delays, failures: int) -> None:
        if policy_delays is not None:
            delay, basis = next(policy_delays), self.options.policy.describe()  # type: ignore[union-attr]
        else:
            delay = event_source_delay(self.retry_s, failures, cap=self.options.backoff_cap)
            basis = "server retry" if self.parser.retry is not None else "default retry"
            basis += f" {self.retry_s * 1000:g} ms" + (f", backoff after {failures} failed" if failures else "")
        last_id = self.parser.last_event_id
        await self._wait_to_reconnect(delay, failures + 1, basis + (f", Last-Event-ID: {last_id}" if last_id else ""),
                                      basis=basis, last_event_id=last_id or None)

    # -- reporting ----------------------------------------------------------------------
    def _warn(self, check: str, sentence: str) -> None:
        log.info("%s", sentence)
        self._emit("state", "warning", data=sentence, meta={"check": check})


async def _peek(resp: aiohttp.ClientResponse, limit: int = 200) -> str:
    """The start of an error body, for the message (bounded read)."""
    try:
        async with asyncio.timeout(2):
            raw = await resp.content.read(limit)
    except Exception:  # the body is a courtesy: never fail on it
        return ""
    text = " ".join(raw.decode("utf-8", "replace").split())
    return f" (body: {text[:120]}{'…' if len(text) > 120 else ''})" if text else ""
