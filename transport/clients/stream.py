"""HTTP streaming: one long chunked response of newline-delimited JSON envelopes.

Every HTTP chunk is a row (its wire bytes include the chunk framing, counted
on the socket), then the lines it completed: envelopes, the lab's control
lines, bare newlines as heartbeats. Lines are split here, not by aiohttp's
``readline`` (which fails above 512 KiB); a line over ``max_body`` is a clear
error. When the stream breaks, the client resumes with ``after``.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp

from transport.clients.tls import tls_words
from transport.core.errors import MessageTooBig, WrongResponse, human_size, lost_mid_stream
from transport.core.events import now_ns
from transport.core.urls import where
from transport.clients.feed_http import HttpFeedClient
from transport.clients.http import mime_essence, read_body, split_head

NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines",
                "application/json", "application/json-seq", "text/plain")


class StreamClient(HttpFeedClient):
    transport = "stream"

    async def _exchanges_until_end(self, session: aiohttp.ClientSession, url: str) -> str | None:
        """One stream, until it ends."""
        o = self.options
        target = self._carried(self._resume_url(url))
        self._busy = True
        posts = o.method.upper() != "GET"
        headers = self._request_headers()
        data = o.body.encode() if posts and o.body is not None else None
        if data is not None:
            headers.append(("Content-Type", o.content_type))
        started = self._request(target, headers=headers, **({"body": (o.body or "")[:2000]} if posts else {}))
        peer = where(url)
        async with asyncio.timeout(o.open_timeout):
            resp = await session.request(o.method.upper(), target, headers=headers, data=data)
        try:
            how = await self._read(resp, started, peer)
        finally:
            resp.close()
            self._busy = False
        if posts and not o.retry_post:
            self._closing = True  # a POST is not idempotent: its answer is not asked for again by itself
        return how

    async def _read(self, resp: aiohttp.ClientResponse, started: int, peer: str) -> str:
        o = self.options
        if resp.status >= 300:
            self._check_status(resp, await read_body(resp, 4096, 2, peer), peer)
        ctype = mime_essence(resp.headers.get("Content-Type"))
        if o.method.upper() != "GET" and ctype == "application/json":  # one answer to a POST, not a stream
            body = await read_body(resp, o.max_body, o.body_timeout, peer)
            sent, received = self.counter.mark()
            t = now_ns()
            self._response_row(resp, t, started, sent + received, sent=sent, received=received,
                               ttfb_ms=round((t - started) / 1e6, 2))
            self._emit("in", "message", t=t, size=len(body), data=body.decode("utf-8", "replace"),
                       meta={"single": True, "content_type": ctype})
            return "a single answer"
        if ctype == "text/event-stream":  # an SSE stream (a chat completion's): the SSE tab and client read it
            err = WrongResponse(f"{peer} answered an event stream (text/event-stream), not newline-delimited "
                                "JSON: the SSE tab reads it (Open in the SSE tab).")
            err.read_by = "sse"
            raise err
        if ctype not in NDJSON_TYPES:
            raise WrongResponse(f"{peer} answered {ctype or 'no content type'}, not newline-delimited JSON "
                                "(application/x-ndjson): it is not a stream of messages.")
        sent, received = self.counter.mark()
        head, carry = split_head(resp, received)  # the carry is the first chunk's
        t = now_ns()
        chunked = resp.headers.get("Transfer-Encoding", "").lower() == "chunked"
        self._response_row(resp, t, started, sent + head, sent=sent, received=head,
                           ttfb_ms=round((t - started) / 1e6, 2), chunked=chunked)
        self._set_state("open")
        self._opened()
        tls = self.counter.tls  # what the connection's handshake negotiated (clients/http.py sets it)
        self._emit("state", "open", t=t, data=str(resp.url) + tls_words(tls), meta={"status": resp.status, **tls})
        self.receiver.resume_started()
        pending: list[bytes] = []
        pending_len = 0
        chunk_parts: list[bytes] = []
        chunk_len = 0
        try:
            async for data, end_of_chunk in resp.content.iter_chunks():
                chunk_parts.append(data)
                chunk_len += len(data)
                if chunked and not end_of_chunk:
                    if chunk_len > o.max_body:
                        raise MessageTooBig(f"{peer} sent an HTTP chunk over the {human_size(o.max_body)} limit: "
                                            "the stream is closed and not retried.")
                    continue
                chunk = b"".join(chunk_parts) if len(chunk_parts) > 1 else chunk_parts[0]
                chunk_parts.clear()
                chunk_len = 0
                _, wire = self.counter.mark()
                wire, carry = wire + carry, 0
                t = now_ns()
                self.stats.chunks += 1
                if b"\n" not in chunk:
                    lines = []
                    pending.append(chunk)
                    pending_len += len(chunk)
                else:
                    lines = chunk.split(b"\n")
                    if pending:
                        lines[0] = b"".join(pending) + lines[0]
                        pending.clear()
                    tail = lines.pop()
                    if tail:
                        pending.append(tail)
                    pending_len = len(tail)
                if pending_len > o.max_body:
                    raise MessageTooBig(f"{peer} sent a line over the {human_size(o.max_body)} limit: "
                                        "the stream is closed and not retried.")
                with self._outbox.batch():  # the chunk's row and its lines' rows: one hand-over
                    self._emit("in", "chunk", t=t, size=len(chunk), wire=wire,
                               data=f"HTTP chunk of {len(chunk)} bytes, {len(lines)} line(s)",
                               meta={"chunk": self.stats.chunks, "lines": len(lines)})
                    texts = [raw.decode("utf-8", "replace").rstrip("\r") for raw in lines]
                    self.receiver.texts([(x, len(x) if x.isascii() else len(x.encode()), None) for x in texts], t,
                                        other=lambda i: self._line(lines[i], t, peer))
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionError) as exc:
            reason = lost_mid_stream(exc)
            self._emit("state", "close", data=f"connection lost mid-stream: {reason}",
                       meta={"by": "network", "error": str(exc)})
            self.receiver.connection_lost()
            return f"connection lost mid-stream: {reason}"
        self._emit("state", "close", data="the server ended the stream", meta={"by": "server"})
        self.receiver.connection_lost()
        return "the server ended the stream"

    def _line(self, raw: bytes, t: int, peer: str) -> None:
        """A line that is not the lab's envelope: a heartbeat, JSON of another shape, or not JSON."""
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if not text.strip():
            self.stats.empty += 1
            self._emit("in", "heartbeat", t=t, size=len(raw), data="(empty line)")
            return
        try:
            value = json.loads(text)
        except ValueError:
            self._emit("state", "error", t=t, size=len(raw), data=f"{peer} sent a line that is not JSON: "
                       f"{text[:80]!r} (skipped)", meta={"error": "WrongResponse", "fatal": False})
            return
        self.receiver.value(text, value, t)
