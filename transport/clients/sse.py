"""The Server-Sent Events client: a browser's ``EventSource``, observable.

Built on aiohttp and the sans-I/O parser in :mod:`transport.core.sse`. It follows
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
import json
import logging
import time
from typing import Any
from dataclasses import dataclass, field

import aiohttp

from transport.clients.tls import tls_words
from transport.core.backoff import Policy
from transport.clients.virtual_browser import VirtualBrowser
from transport.core.errors import BadStatus, MessageTooBig, ServerStopped, StreamError, WrongResponse, human_size, lost_mid_stream
from transport.core.envelope import CONTROL_KINDS
from transport.core.events import EventSink, now_ns
from transport.core.reconnect import ReconnectController
from transport.core.wirestats import WireStats
from transport.core.sse import Comment, EventStreamParser, EventTooLarge, Retry, ServerSentEvent
from transport.core.urls import where
from transport.clients.base import ClientBase
from transport.clients.http import (SessionOwner, WireCounter, count_response, mime_essence, new_session, read_body, split_head,
                   validate_http_url)
from transport.core.wire import served_by, served_note

CONTROL_TYPES = CONTROL_KINDS  # the lab's control events, by their SSE event type

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
    one_way_latency: bool | None = None  # None: for a Duplex lab on this machine (receiver.one_way)
    verify_tls: bool = True  # False: the insecure switch (every row says so)
    ca_file: str | None = None  # trust this CA (PEM) and nothing else
    browser: VirtualBrowser | None = None  # whose cookie jar (and ?sid=) the requests use
    # another server: its messages numbered by their integer event ids (auto), and Last-Event-ID sent on
    # every reconnect as a browser does (auto; "none" sends none); transport/core/sequence.py
    seq_rule: str = "auto"
    resume_rule: str = "auto"
    burst_events: int = 20  # this many events in one read…
    burst_silence: float = 1.0  # …after this much silence (s) looks like a buffering proxy
    # A stream that answers a request with a body (OpenAI-style chat completions, MCP streamable HTTP),
    # which an EventSource cannot send: not retried by itself (a POST is not idempotent) unless asked.
    method: str = "GET"
    body: str | None = None
    content_type: str = "application/json"
    retry_post: bool = False
    max_body: int = 16 << 20  # a POST answered with one JSON document instead of a stream: read up to this

    @property
    def posts(self) -> bool:
        return self.method.upper() != "GET"


def stream_error(data: str) -> str | None:
    """The message of an ``{"error": …}`` chunk (how OpenAI-style APIs report a failure mid-stream; the
    ``openai`` package raises on it), else None."""
    if not data.startswith("{") or '"error"' not in data:
        return None
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not obj.get("error"):
        return None
    error = obj["error"]
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:500] if message else "an error occurred during streaming"


def openai_delta(data: str) -> str | None:
    """The text an OpenAI-style ``chat.completion.chunk`` adds (``choices[0].delta.content``), else None."""
    if not data.startswith("{") or '"choices"' not in data:
        return None
    try:
        obj = json.loads(data)
        content = obj["choices"][0]["delta"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def sendable_header(value: str) -> bool:
    """Whether HTTP can carry ``value`` as a header value (no control characters, Latin-1)."""
    return all(31 < ord(c) < 256 and ord(c) != 127 or c == "\t" for c in value)


def validate_url(url: str) -> str:
    """Check an http:// or https:// URL; raise InvalidURL with a sentence otherwise."""
    return validate_http_url(url, "an event stream")


class SSEClient(ClientBase, SessionOwner):
    transport = "sse"
    options: SSEOptions

    def __init__(self, options: SSEOptions, sink: EventSink) -> None:
        self.counter = WireCounter()
        super().__init__(options, sink, log, stats=WireStats(self.counter))
        self.parser = EventStreamParser(max_size=options.max_event_size)
        self.requests = 0
        self._done = False  # the stream said [DONE] (an OpenAI-style stream's end)
        self._last_event_ns: int | None = None  # a POST stream's previous event: the gap between tokens
        self.text = ""  # an OpenAI-style stream's choices[0].delta.content, accumulated
        self._session: aiohttp.ClientSession | None = None
        self._resp: aiohttp.ClientResponse | None = None
        self._carry = 0
        self._prev_id: str | None = None  # the previous event's id on this connection: an event without
        # an ``id:`` line keeps it (WHATWG), so only a changed id (or the first after a connect) numbers one

    # -- public API ------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._resp is not None and self.state == "open"

    @property
    def retry_s(self) -> float:
        ms = self.parser.retry if self.parser.retry is not None else self.options.default_retry_ms
        return ms / 1000.0

    def drop(self) -> bool:
        """Abort the TCP connection now (a network failure mid-stream)."""
        resp = self._resp
        conn = resp.connection if resp is not None else None
        if conn is None or conn.transport is None:
            return False
        self._emit("state", "fault", data="connection dropped (TCP abort)", meta={"fault": "drop"})
        conn.transport.abort()
        return True

    # -- the I/O ----------------------------------------------------------------------------
    def _make_reconnect(self) -> ReconnectController:
        o = self.options
        return ReconnectController(o.policy, max_failures=o.max_failures, retry=lambda: self.retry_s,
                                   backoff_cap=o.backoff_cap)

    def _validate(self, url: str) -> str:
        return validate_url(url)

    def _reconnect_basis(self) -> tuple[str, dict[str, object]]:
        return (self.reconnect.basis(server_said=self.parser.retry is not None),
                {"last_event_id": self.parser.last_event_id or None})

    async def _close_connection(self) -> None:
        resp = self._resp
        if resp is not None:
            resp.close()

    async def _finish(self) -> None:
        await self._discard_session()

    # -- one connection ------------------------------------------------------------
    async def _connection(self, url: str) -> str | None:
        """One request and, if it opens, its stream until it ends; how it ended."""
        o = self.options
        if self._session is None:
            self._session = new_session(self.counter, o.open_timeout, o.verify_tls, jar=self._jar, ca_file=o.ca_file)
        session = self._session
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        headers.update(self._request_headers())
        last_id = self.parser.last_event_id if self.receiver.resume_rule.kind != "none" or self.receiver.lab else ""
        if not self.receiver.lab:
            url = self.receiver.resume_rule.url(url, self.receiver.after)
        if last_id and sendable_header(last_id):
            headers["Last-Event-ID"] = last_id
        elif last_id:  # kept as the last event ID (WHATWG), but HTTP cannot carry it: said, not fatal
            self._emit("state", "note", data=f"the last event ID {last_id!r} holds characters an HTTP header "
                       "cannot carry: reconnecting without Last-Event-ID (the server cannot resume from it)",
                       meta={"last_event_id": last_id})
            last_id = ""
        self._set_state("connecting")
        self._done, self._last_event_ns = False, None
        self.requests += 1
        self.stats.requests += 1
        self.counter.mark()  # what a failed attempt left is not this exchange's
        started = now_ns()
        url = self._carried(url)
        method = o.method.upper()
        data = o.body.encode() if o.body is not None and o.posts else None
        if data is not None:
            headers["Content-Type"] = o.content_type
        self._emit("out", "request", t=started, data=f"{method} {url}", meta={
            "headers": headers, "last_event_id": last_id or None, "attempt": self.requests,
            **({"body": o.body[:2000] if o.body else "", "body_bytes": len(data)} if data is not None else {})})
        async with asyncio.timeout(o.open_timeout):
            resp = await session.request(method, url, headers=headers, data=data, allow_redirects=True,
                                         max_redirects=10)
        try:
            return await self._stream(resp, url, started, bool(last_id))
        finally:
            resp.close()
            self._resp = None

    async def _stream(self, resp: aiohttp.ClientResponse, url: str, started: int, resumed: bool) -> str:
        o = self.options
        got = now_ns()
        ttfb = (got - started) / 1e6
        ctype = resp.headers.get("Content-Type")
        self.receiver.note_epoch(resp.headers, ok=resp.status < 400)  # a 502 on the way un-marks no lab
        sent, received = self.counter.mark()
        head, self._carry = split_head(resp, received)  # the carry is the first read's
        heads, cookies = count_response(self.stats, resp)
        self._emit("in", "response", t=got, wire=sent + head,
                   data=f"{resp.status} {resp.reason or ''}".strip() + served_note(resp.headers), meta={
                       **served_by(resp.headers),
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
        if o.posts and mime_essence(ctype) != "text/event-stream":
            return await self._single_answer(resp, got, peer)
        if mime_essence(ctype) != "text/event-stream":
            shown = ctype if ctype else "no Content-Type at all"
            raise WrongResponse(f"{peer} answered with {shown!r}, not text/event-stream: it is not an "
                                "event stream, so the connection fails and is not retried.")
        self._check_headers(resp)
        self._resp = resp
        if resumed:
            self.receiver.resume_started()
        self._prev_id = None
        self._set_state("open")
        self._opened()
        tls = self.counter.tls  # what the connection's handshake negotiated (clients/http.py sets it)
        self._emit("state", "open", data=str(resp.url) + tls_words(tls),
                   meta={"status": resp.status, "ttfb_ms": round(ttfb, 2), **tls})
        try:
            await self._read(resp, started)
        except EventTooLarge as exc:
            raise MessageTooBig(
                f"An event from {peer} grew past the {human_size(exc.limit)} limit: the connection is closed "
                "and not retried (the same event would come again). Raise the maximum event size to read it."
            ) from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionError, TimeoutError) as exc:
            self.parser.end()
            reason = f"no bytes for {o.idle_timeout:g} s" if isinstance(exc, TimeoutError) else \
                lost_mid_stream(exc)
            if not self._closing:
                self._emit("state", "close", data=f"connection lost mid-stream: {reason}",
                           meta={"by": "network", "error": str(exc)})
                self.receiver.connection_lost()
            return f"connection lost mid-stream: {reason}"
        self.parser.end()
        if self._done:
            self._emit("state", "close", data="the stream said [DONE]: it is complete", meta={"by": "server"})
            return self._post_ended("the stream said [DONE]")
        if not self._closing:
            self._emit("state", "close", data="the server ended the stream", meta={"by": "server"})
            if o.posts and not o.retry_post:
                return self._post_ended("the server ended the stream")
            self.receiver.connection_lost()
        return "the server ended the stream"

    def _post_ended(self, how: str) -> str:
        """A POST's answer is complete: the client stops (sending it again would ask again), unless the
        user asked for a retry."""
        if self.options.posts and not self.options.retry_post:
            self._closing = True
        return how

    async def _single_answer(self, resp: aiohttp.ClientResponse, got: int, peer: str) -> str:
        """A POST answered with one document (JSON, as MCP's streamable HTTP may answer): shown as one
        message, not an error; the exchange is complete."""
        body = await read_body(resp, self.options.max_body, self.options.open_timeout, peer)
        text = body.decode("utf-8", "replace")
        _sent, received = self.counter.mark()
        self._emit("in", "message", t=now_ns(), size=len(body), wire=received, data=text, meta={
            "type": "response", "content_type": resp.headers.get("Content-Type", ""), "single": True})
        self._emit("state", "close", data=f"a single {mime_essence(resp.headers.get('Content-Type')) or 'body'} "
                   "answer, not a stream: the exchange is complete", meta={"by": "server"})
        self._closing = True
        return "a single answer"

    async def _read(self, resp: aiohttp.ClientResponse, started: int) -> None:
        """Feed the parser until the stream ends; emit what each read completed."""
        o = self.options
        parser, emit = self.parser, self._emit
        loop = asyncio.get_running_loop()
        owed = 0  # bytes read that completed no item yet
        posts = o.posts
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
                shared = owed if len(items) > 1 and owed else 0  # several rows share this read's bytes
                total, owed = owed, 0
                received = now_ns()
                n = 0
                with self._outbox.batch():  # the read's rows: one hand-over
                    run: list[tuple[str, int, int]] = []  # events in a row, for the receiver at once
                    metas: list[dict[str, Any]] = []
                    ids: list[str | None] = []
                    for i, item in enumerate(items):
                        wire = share + (extra if i == 0 else 0)
                        if posts and type(item) is ServerSentEvent:  # a POST's stream: each event on its own
                            n += 1
                            self._post_event(item, received, wire, total if shared else 0)
                            continue
                        if type(item) is ServerSentEvent and item.type not in CONTROL_TYPES:
                            n += 1
                            data = item.data
                            run.append((data, len(data) if data.isascii() else len(data.encode()), wire))
                            ids.append(self._own_id(item))
                            metas.append({"type": item.type, "last_event_id": item.last_event_id,
                                          "wire_read": total} if shared else
                                         {"type": item.type, "last_event_id": item.last_event_id})
                            continue
                        if run:
                            self.receiver.texts(run, received, metas=metas, event_ids=ids)
                            run, metas, ids = [], [], []
                        if type(item) is ServerSentEvent:
                            n += 1
                            self._on_event(item, received, wire, shared)
                        elif type(item) is Comment:
                            emit("in", "comment", t=received, size=len(item.text), wire=wire, data=item.text,
                                 meta={"wire_read": total} if shared else None)
                        elif type(item) is Retry:
                            emit("in", "retry", t=received, wire=wire, data=f"retry: {item.ms} ms",
                                 meta={"retry_ms": item.ms, "wire_read": total} if shared else
                                 {"retry_ms": item.ms})
                    if run:
                        self.receiver.texts(run, received, metas=metas, event_ids=ids)
                if self._done:
                    return  # [DONE]: what follows is not the answer
                if not burst_warned and n >= o.burst_events and silence >= o.burst_silence:
                    burst_warned = True
                    self._warn("buffering", f"{n} events arrived in one read after {silence:.1f} s of silence: "
                               "a proxy or the server may be buffering the stream (flush after each event; "
                               "nginx: X-Accel-Buffering: no).")

    def _post_event(self, ev: ServerSentEvent, received: int, wire: int, shared: int) -> None:
        """One event of a POST's stream: ``[DONE]`` ends it; others carry the gap since the one before
        and, in an OpenAI-style chunk, the text it adds (``choices[0].delta.content``)."""
        if ev.data == "[DONE]":
            self._done = True
            self._emit("in", "done", t=received, size=6, wire=wire, data="[DONE]",
                       meta={"wire_read": shared} if shared else None)
            return
        meta: dict[str, Any] = {"type": ev.type, "last_event_id": ev.last_event_id}
        if shared:
            meta["wire_read"] = shared
        if self._last_event_ns is not None:
            meta["gap_ms"] = round((received - self._last_event_ns) / 1e6, 2)
        self._last_event_ns = received
        error = stream_error(ev.data)
        if error is not None:  # the server failed mid-answer: what the openai package raises on
            err = StreamError(f"The stream reported an error: {error}")
            self._error(err)
            raise err
        delta = openai_delta(ev.data)
        if delta is not None:
            meta["delta"] = delta
            self.text += delta
        self.receiver.text(ev.data, received, wire, meta, event_id=self._own_id(ev))

    def _on_event(self, ev: ServerSentEvent, received: int, wire: int, shared: int = 0) -> None:
        """One event the fast path did not take; ``shared``: the total of the read whose bytes it shares."""
        control = ev.type if ev.type in CONTROL_TYPES else None
        meta: dict[str, Any] = {"type": ev.type, "last_event_id": ev.last_event_id}
        if shared:
            meta["wire_read"] = shared
        self.receiver.text(ev.data, received, wire, meta, control=control, event_id=self._own_id(ev))

    def _own_id(self, ev: ServerSentEvent) -> str | None:
        """The event's own id, or None when it carried none (it kept the previous event's)."""
        eid = ev.last_event_id
        if eid == self._prev_id or not eid:
            return None
        self._prev_id = eid
        return eid

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
