"""The feed: one seq-numbered message source for every transport.

Messages are JSON envelopes ``{"seq", "ts", "topic", "body"}``; ``seq`` grows
by one per message, server-wide. A ring buffer keeps recent history so any
client can resume "after seq N"; when N has fallen out of history the caller
is told explicitly (a gap), never silently.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from transport.core.envelope import GAP, LIVE, control_json

from transport.server.journal import Journal

log = logging.getLogger("duplex.server.feed")


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    ts: int
    topic: str
    text: str  # the envelope, serialised once for every subscriber (the only copy of the body kept)
    size: int  # bytes of ``text`` in UTF-8

    @property
    def body(self) -> Any:
        """The body, parsed again from the envelope (history keeps only the text: half the memory)."""
        return json.loads(self.text)["body"]


class MessageTooLarge(ValueError):
    """A message over the feed's limit (the endpoints answer 413, or close a WebSocket with 1009)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the message is {size:,} bytes as an envelope, over the {limit:,}-byte limit")
        self.size, self.limit = size, limit


def utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


@dataclass(frozen=True, slots=True)
class Gap:
    after: int  # what the client asked to resume after
    first_available: int  # the oldest seq still in history (or the next one)
    # the client resumes after a seq this server never reached: it was restarted
    # without its history and numbers from 1 again; what is missing is unknowable
    reset: bool = False

    @property
    def missing(self) -> int:
        return 0 if self.reset else max(0, self.first_available - self.after - 1)

    def to_dict(self) -> dict[str, int | bool]:
        """The body of the gap notice every transport sends."""
        body: dict[str, int | bool] = {"after": self.after, "first_available": self.first_available,
                                       "missing": self.missing}
        if self.reset:
            body["reset"] = True
        return body

    def notice(self) -> str:
        """The gap notice as one JSON text (WebSocket, polls, NDJSON stream, Socket.IO)."""
        return control_json(GAP, self.to_dict())


def live_notice(seq: int) -> str:
    """The live marker as one JSON text: the replay ended at ``seq``."""
    return control_json(LIVE, {"seq": seq})


class Direct(Protocol):
    """A reader's lane (transport/server/direct.py): writes messages to its client at once, or says no."""

    def __call__(self, msg: Message, /) -> bool: ...
    def many(self, msgs: list[Message], /) -> bool: ...


class Subscription:
    """A per-connection inbox, bounded by count and by bytes. ``overflowed`` is set when the reader fell
    behind past either bound. A stream's reader says when it is writing (``writing``, ``writes``) and on
    which transport: a client that stops reading is cut — at once when its backlog overflows or the
    server shuts down, and by :meth:`Feed.check_writers` when a write has not drained for too long —
    with the reason logged. No timer per write: one watchdog looks at every writer."""

    __slots__ = ("_items", "_ready", "_waiter", "limit", "limit_bytes", "bytes", "overflowed", "stopped", "writing",
                 "writes", "transport", "what", "_seen", "_stuck", "direct", "on_queue")

    def __init__(self, limit: int, limit_bytes: int = 16 << 20) -> None:
        # a list and a future, not a deque and an asyncio.Event: ~1.5 KB less for every open connection
        self._items: list[Message] = []
        self._ready = False  # woken: a reader's next get_batch returns at once
        self._waiter: asyncio.Future[None] | None = None
        self.limit = limit
        self.limit_bytes = limit_bytes
        self.bytes = 0
        self.overflowed = False
        self.stopped = False  # the server is shutting down
        self.writing = 0  # bytes of the write in progress (0: not writing)
        self.writes = 0  # writes completed
        self.transport: asyncio.Transport | None = None  # the client's connection (a stream's reader sets it)
        self.what = "stream"
        # set by a reader waiting with nothing queued: writes a message to its client at once if it can
        # (True), so a broadcast costs no task switch per subscriber; False: queue it as usual
        self.direct: Direct | None = None
        # called when a message is queued: a reader that runs only while there is a queue starts here
        self.on_queue: Callable[[], None] | None = None
        self._seen = 0
        self._stuck = 0.0

    def stop(self) -> None:
        """The server is going away: a reader blocked in a write to a client that does not read is freed."""
        self.stopped = True
        self._cut(f"{self.what} client not reading while the server shuts down")
        self.wake()

    def _cut(self, why: str) -> None:
        """End the connection of a reader blocked writing to it (the write then fails and the reader ends)."""
        if self.writing and self.transport is not None and not self.transport.is_closing():
            log.info("%s: ending its stream", why)
            self.transport.abort()

    def check(self, interval: float, limit: float) -> None:
        """Every ``interval`` seconds: a write that has not drained for ``limit`` seconds is cut."""
        if not self.writing or self.writes != self._seen:
            self._seen, self._stuck = self.writes, 0.0
            return
        self._stuck += interval
        if self._stuck >= limit:
            self._cut(f"{self.what} client too slow: {self.writing:,} bytes not taken in {limit:g} s")

    def put(self, msg: Message) -> None:
        direct = self.direct
        if direct is not None and not self._items and not self.overflowed and direct(msg):
            return
        if self.overflowed:
            return
        if len(self._items) >= self.limit or self.bytes + msg.size > self.limit_bytes:
            self.overflowed = True
            self._items.clear()
            self.bytes = 0
            self._cut(f"{self.what} client too slow: its backlog passed the subscriber bound")
        else:
            self._items.append(msg)
            self.bytes += msg.size
        self.wake()
        if self.on_queue is not None:
            self.on_queue()

    def put_many(self, msgs: list[Message]) -> None:
        direct = self.direct
        if direct is not None and not self._items and not self.overflowed and direct.many(msgs):
            return
        for msg in msgs:
            self.put(msg)

    @property
    def queued(self) -> int:
        """Messages waiting for the reader."""
        return len(self._items)

    def wake(self) -> None:
        """Wake a reader waiting in get_batch (it gets what is there, possibly nothing)."""
        self._ready = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get_batch(self) -> list[Message]:
        if not self._ready:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        self._ready = False
        items, self._items = self._items, []
        self.bytes = 0
        return items


def new_epoch() -> str:
    return secrets.token_hex(4)


class Feed:
    """``history`` messages at most, and at most ``history_bytes`` of envelopes (the newest message is
    always kept); no envelope over ``max_message`` bytes is published."""

    def __init__(self, history: int = 10_000, clock: Callable[[], int] = time.monotonic_ns,
                 journal: Journal | None = None, history_bytes: int = 64 << 20,
                 max_message: int = (1 << 20) + 1024) -> None:
        if history < 1 or history_bytes < 1 or max_message < 1:
            raise ValueError("history, history_bytes and max_message must be at least 1")
        self._history: deque[Message] = deque()
        self.history_limit = history
        self.history_bytes = history_bytes
        self.max_message = max_message
        self.bytes = 0  # of the envelopes in history
        self._clock = clock
        self._subs: set[Subscription] = set()
        self.last_seq = 0
        self.published = 0
        self.handed = 0  # messages handed to live subscribers (each message once per client it went to)
        self.journal = journal
        self.loaded = 0  # messages taken over from the history file
        # the numbering's identity: a new one unless the history file carries on an old numbering
        self.epoch = new_epoch()
        if journal is not None:
            epoch, items, last = journal.load(self.epoch)
            self.epoch = epoch
            for seq, ts, topic, _body, text in items:
                self._keep(Message(seq, ts, topic, text, utf8_size(text)))
            self.loaded = len(self._history)
            self.last_seq = last

    # -- publishing ----------------------------------------------------------
    def publish(self, topic: str, body: Any) -> Message:
        """Number and keep a message, and hand it to every subscriber. Raises MessageTooLarge (nothing
        published, no seq used) for an envelope over ``max_message`` bytes."""
        msg = self._number(topic, body)
        self._journal()
        for sub in self._subs:
            sub.put(msg)
        self.handed += len(self._subs)
        return msg

    def publish_many(self, items: list[tuple[str, Any]]) -> list[Message]:
        """Publish several messages at once (the ticker's tick, a burst): each numbered and kept as by
        :meth:`publish`, then handed to every subscriber together (one write per client for all of
        them). A message over the limit raises MessageTooLarge after those before it went out."""
        msgs: list[Message] = []
        try:
            for topic, body in items:
                msgs.append(self._number(topic, body))
        finally:
            if msgs:
                self._journal()
                for sub in self._subs:
                    sub.put_many(msgs)
                self.handed += len(msgs) * len(self._subs)
        return msgs

    def accept(self, msgs: list[Message], broadcast: bool = True) -> None:
        """Messages numbered elsewhere (the cluster's stream on Redis: backplane.py), in order: kept, and
        handed to every subscriber unless ``broadcast`` is off (the history read at start)."""
        if not msgs:
            return
        for msg in msgs:
            self._keep(msg)
        self.last_seq = max(self.last_seq, msgs[-1].seq)
        self.published += len(msgs)
        if broadcast:
            for sub in self._subs:
                sub.put_many(msgs)
            self.handed += len(msgs) * len(self._subs)

    def _number(self, topic: str, body: Any) -> Message:
        ts = self._clock()
        text = json.dumps({"seq": self.last_seq + 1, "ts": ts, "topic": topic, "body": body},
                          separators=(",", ":"), allow_nan=False)
        size = utf8_size(text)
        if size > self.max_message:
            raise MessageTooLarge(size, self.max_message)
        self.last_seq += 1
        msg = Message(self.last_seq, ts, topic, text, size)
        self._keep(msg)
        self.published += 1
        if self.journal is not None:
            self.journal.append(msg.seq, text)
        return msg

    def _journal(self) -> None:
        journal = self.journal
        if journal is not None:
            journal.compact((m.text for m in self._history), self._history[0].seq, self.last_seq)

    def _keep(self, msg: Message) -> None:
        """Into history; the oldest go while it holds too many messages or too many bytes."""
        history = self._history
        history.append(msg)
        self.bytes += msg.size
        while len(history) > 1 and (len(history) > self.history_limit or self.bytes > self.history_bytes):
            self.bytes -= history.popleft().size

    # -- reading ---------------------------------------------------------------
    def since(self, after: int, epoch: str | None = None) -> tuple[list[Message], Gap | None]:
        """Messages with seq > after still in history, and a gap if some are gone. ``epoch``: the
        numbering ``after`` belongs to, if the client knows it."""
        after = max(0, after)
        first = self._history[0].seq if self._history else self.last_seq + 1
        if (epoch is not None and epoch != self.epoch) or after > self.last_seq:
            # a resume point from an earlier life of the server, which lost its history
            return list(self._history), Gap(after, first, reset=True)
        if after == self.last_seq:
            return [], None
        gap = Gap(after, first) if first > after + 1 else None
        start = max(0, after + 1 - first)
        return list(itertools.islice(self._history, start, None)), gap

    def resume(self, after: int | None, epoch: str | None = None) -> tuple[Gap | None, list[Message], int]:
        """What a client resuming after ``after`` (of numbering ``epoch``) gets: a gap notice (if any),
        the backlog, and the seq live messages start after. ``after`` None: live from now."""
        if after is None:
            return None, [], self.last_seq
        backlog, gap = self.since(after, epoch)
        return gap, backlog, backlog[-1].seq if backlog else self.last_seq

    def first_available(self) -> int:
        return self._history[0].seq if self._history else self.last_seq + 1

    def renumber(self, epoch: str, last_seq: int = 0) -> None:
        """Another numbering from now on (the cluster's Redis came back without the stream): the history
        goes, and a client resuming from the old numbering gets a declared reset."""
        self.epoch = epoch
        self._history.clear()
        self.bytes = 0
        self.last_seq = last_seq

    def evict(self) -> int:
        """Forget all history (a fault): resume points become unknown."""
        n = len(self._history)
        self._history.clear()
        self.bytes = 0
        if self.journal is not None:
            self.journal.clear(self.last_seq)
        return n

    def __len__(self) -> int:
        return len(self._history)

    # -- subscriptions -------------------------------------------------------------
    def subscribe(self, limit: int = 50_000, limit_bytes: int = 16 << 20) -> Subscription:
        sub = Subscription(limit, limit_bytes)
        self._subs.add(sub)
        return sub

    def stop_all(self) -> None:
        """Shutting down: free every reader blocked on a client that does not read."""
        for sub in self._subs:
            sub.stop()

    def check_writers(self, interval: float, limit: float) -> None:
        """The watchdog's look (every ``interval`` s): cut writers stuck for ``limit`` s."""
        for sub in list(self._subs):
            sub.check(interval, limit)

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)


TOPICS = ("price", "likes", "chat")


def demo_body(topic: str, n: int) -> dict[str, Any]:
    """The classic demo: a price that wanders, a like-counter that grows, a chat line."""
    if topic == "price":
        return {"symbol": "DPX", "price": round(100 + 5 * ((n * 7919) % 200 - 100) / 100, 2)}
    if topic == "chat":
        return {"user": "lab", "text": f"hello #{n}"}
    return {"post": 1, "likes": n}


class Ticker:
    """The demo publisher, whose rate can change while the lab runs (admin action ``rate``)."""

    def __init__(self, feed: Feed, rate: float) -> None:
        self.feed, self.rate = feed, rate
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(run_ticker(self.feed, self.rate))

    def set_rate(self, rate: float) -> float:
        """Publish ``rate`` messages per second from now on; returns the previous rate."""
        previous, self.rate = self.rate, rate
        if self._task is not None:
            self._task.cancel()
        self.start()
        return previous

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


TICK = 0.005  # the ticker wakes at most this often (200/s); what fell due meanwhile is published together


async def run_ticker(feed: Feed, rate: float) -> None:
    """Publish ``rate`` messages per second on schedule (no drift) until cancelled. Above 200/s the
    messages due within one TICK are published together, each stamped when it is (a wake-up per message
    would cost the lab more than the messages, and hand every subscriber one message per write)."""
    if rate <= 0:
        return
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while True:
        now = loop.time()
        due = int((now - start) * rate) + 1  # the first is due at the start
        if due - n > rate:  # fell more than a second behind (suspended machine): do not burst
            start = now - n / rate
            due = n + 1
        if n < due:
            feed.publish_many([(TOPICS[i % len(TOPICS)], demo_body(TOPICS[i % len(TOPICS)], i))
                               for i in range(n + 1, due + 1)])
            n = due
        await asyncio.sleep(max(TICK, start + n / rate - loop.time()))
