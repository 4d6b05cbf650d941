"""Short polling and long polling: ``GET …?after=N`` → a JSON list of envelopes.

Short polling asks every ``interval`` seconds (start to start) and is late by
design: a message waits on average half an interval (its staleness, receive
time − publish time, is the latency column). Long polling asks with
``timeout=S``; the server holds the request until there is something to say,
and the client asks again at once: the hold time and the re-arm gap are
measured per request. A full answer (``limit`` items) is followed at once.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from transport.core.envelope import split_json_list
from transport.core.errors import WrongResponse
from transport.core.events import EventSink, now_ns
from transport.core.urls import where, with_query
from transport.core.wire import POLL_DEFAULT_LIMIT
from transport.clients.feed_http import FeedOptions, HttpFeedClient
from transport.core.errors import snippet
from transport.clients.http import mime_essence, read_body

JSON_TYPES = ("application/json", "text/json")


SLICE = 1000  # items of an answer handed over per turn of the event loop (a 10 000-item answer is ~40 ms)
# Messages per answer asked of a Duplex lab: twice its default, so a poll that fell behind a fast feed
# catches up in fewer requests, yet each answer is parsed in a few milliseconds (one 10 000-message
# answer, the lab's most, holds the GUI loop ~25 ms just to be split).
LAB_ANSWER = 2 * POLL_DEFAULT_LIMIT


class PollClient(HttpFeedClient):
    """Polling: ``long`` False asks every ``options.interval`` (short polling), True holds (long polling)."""

    long = False

    def __init__(self, options: FeedOptions, sink: EventSink) -> None:
        super().__init__(options, sink)
        self._started = 0.0
        self._full = False
        self._items = 0  # items (messages and control items) in the last answer
        self._prefix: str | None = None
        self._prefix_limit: tuple[int | None, bool] | None = None
        self._peer = ""  # where(url), with the prefix
        self._etag: tuple[str, str] | None = None  # (URL, ETag) of the last answer, for a conditional poll

    def _pace(self) -> float:
        if self.long or self._full:
            return 0.0
        return max(0.0, self._started + self.options.interval - time.monotonic())

    async def _exchanges_until_end(self, session: aiohttp.ClientSession, url: str) -> str | None:
        """Poll after poll, paced, until one fails (raises) or a drop or close cancels it.

        It also stops by itself on close: on 3.11 ``wait_for`` can swallow a
        cancel that lands as its wait ends (the pause woken by close)."""
        hold = self.options.hold if self.long else None
        while not self._closing:
            self._busy = True
            try:
                await self._cycle(session, url)
            finally:
                self._busy = False
            decision = self.reconnect.polled(self._new_since_mark(), time.monotonic() - self._started, hold,
                                             empty=not self._items)
            if decision is not None:
                self._last_end = None  # the wait is the policy's, not a re-arm gap
                await self._wait_to_reconnect(decision, verb="polling again")
                continue
            wait = self._pace()
            if wait > 0:
                await self._pause.sleep(wait)
        return None

    async def _cycle(self, session: aiohttp.ClientSession, url: str) -> None:
        o = self.options
        limit = self._limit()
        lab = self.receiver.lab
        if self._prefix is None or self._prefix_limit != (limit, lab):  # the URL without after=, built once
            params: dict[str, object] = {"after": None}
            if self.long and lab:
                params["timeout"] = f"{o.hold:g}"
            if limit is not None:
                params["limit"] = limit
            self._prefix_limit = (limit, lab)
            self._prefix = with_query(url, **params) if lab else url
            self._prefix += "&" if "?" in self._prefix else "?"
            self._peer = where(url)
        after = self.after
        if not lab:  # another server: the user's URL, changed only by a query:NAME resume rule
            target = self.receiver.resume_rule.url(url, after)
        elif after is not None:
            target = f"{self._prefix}after={after}"
        else:
            target = self._prefix.rstrip("?&")
        self._started = time.monotonic()
        rearm = (now_ns() - self._last_end) / 1e6 if self.long and self._last_end is not None else None
        target = self._carried(target)
        headers = self._request_headers()  # once: the row shows what the request carries
        conditional = o.conditional and not self.long and self._etag is not None and self._etag[0] == target
        if conditional:
            assert self._etag is not None
            headers.append(("If-None-Match", self._etag[1]))  # as a browser revalidates the URL it has cached
        started = self._request(target, f"  · re-armed after {rearm:.2f} ms" if rearm is not None else "",
                                headers=headers, rearm_ms=None if rearm is None else round(rearm, 3))
        if rearm is not None:
            self.stats.rearm_ms.add(rearm)
        peer = self._peer
        async with asyncio.timeout(o.open_timeout + (o.hold if self.long else 0)):
            resp = await session.get(target, headers=headers)
        try:
            head_t = now_ns()
            body = await read_body(resp, o.max_body, o.body_timeout, peer)
        finally:
            resp.release()
        sent, received = self.counter.mark()
        if resp.status == 304 and conditional:
            self._not_modified(resp, started, sent, received)
            return
        self._check_status(resp, body, peer)
        items = self._parse(resp, body, peer)
        tag = resp.headers.get("ETag")
        self._etag = (target, tag) if o.conditional and tag else None
        hold = (head_t - started) / 1e6
        if self.long:
            self.stats.hold_ms.add(hold)
        t = now_ns()
        messages = sum(1 for _, v in items if not (isinstance(v, dict) and "control" in v))
        note = f"  · held {hold:,.0f} ms" if self.long else ""
        note += f"  · {messages} message{'s' if messages != 1 else ''}, {sent + received:,} B"
        self._response_row(resp, t, started, sent + received, note, sent=sent, received=received,
                           items=len(items), messages=messages, hold_ms=round(hold, 2))
        self._set_state("open")
        receiver = self.receiver
        receiver.resume_started()
        found = 0
        for k in range(0, len(items), SLICE):  # a big answer in slices, the loop running between them
            if k:
                await asyncio.sleep(0)  # a turn of the event loop, not a wait
            found += self._deliver(items[k:k + SLICE], t)
        if not found:
            self.stats.empty += 1
            self.stats.idle_wire += sent + received
        receiver.resume_finished()
        self._full = found >= (self._limit() or POLL_DEFAULT_LIMIT)
        self._items = len(items)
        self._last_end = now_ns()

    def _not_modified(self, resp: aiohttp.ClientResponse, started: int, sent: int, received: int) -> None:
        """A 304 to a conditional poll: nothing new since the answer whose ETag it sent. A row of its own, its
        bytes counted as an idle poll's."""
        t = now_ns()
        self._response_row(resp, t, started, sent + received, f"  · nothing new, {sent + received:,} B (no body)",
                           sent=sent, received=received, items=0, messages=0, not_modified=True)
        self._set_state("open")
        self.stats.empty += 1
        self.stats.not_modified += 1
        self.stats.idle_wire += sent + received
        self._full = False
        self._items = 0
        self._last_end = t

    def _limit(self) -> int | None:
        """Messages per answer to ask the lab for (``?limit=`` is its protocol): the user's ``limit``, else
        LAB_ANSWER; another server is asked nothing (its own default)."""
        if not self.receiver.lab:
            return None
        if self.options.limit is not None:
            return int(self.options.limit)
        return LAB_ANSWER

    def _deliver(self, items: list[tuple[str, object]], t: int) -> int:
        """Items of an answer to the receiver as one list; how many were messages (not control items)."""
        receiver = self.receiver
        others = 0

        def other(i: int) -> None:  # not a lab envelope: the parsed value decides
            nonlocal others
            if receiver.value(items[i][0], items[i][1], t) is not None:
                others += 1
        sized = [(text, len(text) if text.isascii() else len(text.encode()), None) for text, _ in items]
        return receiver.texts(sized, t, other=other) + others

    def _parse(self, resp: aiohttp.ClientResponse, body: bytes, peer: str) -> list[tuple[str, object]]:
        if resp.status == 204 or (not body and resp.status < 300):
            return []  # "nothing new", a common convention
        ctype = mime_essence(resp.headers.get("Content-Type"))
        if ctype not in JSON_TYPES and not ctype.endswith("+json"):
            raise WrongResponse(f"{peer} answered {ctype or 'no content type'}, not JSON: {snippet(body)!r}. "
                                "A poll endpoint answers a JSON list of messages.")
        try:
            return split_json_list(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise WrongResponse(f"{peer} answered JSON that is not UTF-8.") from None
        except ValueError as exc:
            raise WrongResponse(f"{peer} answered JSON that is not a list of messages ({exc}): "
                                f"{snippet(body)!r}.") from None


class ShortPollClient(PollClient):
    transport = "short_poll"


class LongPollClient(PollClient):
    transport = "long_poll"
    long = True
