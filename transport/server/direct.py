"""The broadcast's fast lane: a message written to an idle subscriber's socket at once.

A stream's reader (the /ws and /sse pumps) waits for its subscription to wake
it. With 10 000 subscribers a broadcast then costs 10 000 task switches and as
many trips through the framework's writer. When a reader is idle (nothing
queued, nothing being written) it lends its subscription a *lane*: publishing
calls it, and it writes the message's bytes — framed once per message for
every subscriber of a kind (a server's WebSocket frames are unmasked; an SSE
event is the same text for all) — straight to the transport, if the
connection is open, not compressed, and its write buffer holds under
``DIRECT_BUFFER`` bytes. Otherwise the lane says no and the message is queued
for the reader as before, so a slow client still meets the subscriber bounds
and the watchdog, and order is kept (the lane is withdrawn while the reader
works).
"""

from __future__ import annotations

import asyncio
from typing import Callable

from aiohttp import web

from transport.server.feed import Message

DIRECT_BUFFER = 64 << 10  # bytes already waiting in a transport: past this, the reader takes over


def _chunk(data: bytes) -> bytes:
    """One piece of a chunked HTTP body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _ws_message(m: Message) -> bytes:
    return _ws_frame(m.text.encode())


def _ws_messages(msgs: list[Message]) -> bytes:
    return b"".join(map(_ws_message, msgs))


def _ws_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


class _Last:
    """One message's bytes, framed once for every subscriber of one kind."""

    __slots__ = ("msg", "data")

    def __init__(self) -> None:
        self.msg: Message | None = None
        self.data = b""


_WS, _SSE = _Last(), _Last()


class Lane:
    """A subscriber's lane (called with a message: written at once, or False), and the highest seq
    its client was sent, shared with its reader. One small object per connection, called directly
    (a closure and its cells, or a bound method, would cost more per connection)."""

    __slots__ = ("last", "transport", "open")

    def __init__(self, last: int, transport: asyncio.Transport | None, open_: bool) -> None:
        self.last = last
        self.transport = transport
        self.open = open_ and transport is not None  # False: this client cannot be written to at once

    @property
    def direct(self) -> Lane | None:
        """What the subscription calls, or None."""
        return self if self.open else None

    def __call__(self, m: Message) -> bool:
        raise NotImplementedError

    def many(self, msgs: list[Message]) -> bool:
        """Several messages in one write (the same bytes for every subscriber of the kind)."""
        raise NotImplementedError

    def _ready(self) -> asyncio.Transport | None:
        t = self.transport
        if t is None or t.is_closing() or t.get_write_buffer_size() > DIRECT_BUFFER:
            return None
        return t


class _Joined:
    """A list of messages' bytes, joined once for every subscriber of one kind."""

    __slots__ = ("msgs", "data")

    def __init__(self) -> None:
        self.msgs: list[Message] | None = None
        self.data = b""

    def get(self, msgs: list[Message], build: Callable[[list[Message]], bytes]) -> bytes:
        if self.msgs is not msgs:
            self.msgs, self.data = msgs, build(msgs)
        return self.data


_WS_MANY, _SSE_MANY = _Joined(), _Joined()


class WebSocketLane(Lane):
    __slots__ = ("ws",)

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None, last: int) -> None:
        super().__init__(last, transport, not ws.compress)
        self.ws = ws

    def __call__(self, m: Message) -> bool:
        if m.seq <= self.last:
            return True
        t = self._ready()
        if t is None or self.ws.closed:
            return False
        if _WS.msg is not m:
            _WS.msg, _WS.data = m, _ws_message(m)
        t.write(_WS.data)
        self.last = m.seq
        return True

    def many(self, msgs: list[Message]) -> bool:
        t = self._ready()
        if t is None or self.ws.closed:
            return False
        if msgs[0].seq > self.last:
            t.write(_WS_MANY.get(msgs, _ws_messages))
        else:  # some were sent already (just after the replay): these bytes are this client's own
            t.write(_ws_messages([m for m in msgs if m.seq > self.last]))
        self.last = max(self.last, msgs[-1].seq)
        return True


class SSELane(Lane):
    __slots__ = ("encode",)

    def __init__(self, resp: web.StreamResponse, transport: asyncio.Transport | None, last: int,
                 encode: Callable[[Message], str]) -> None:
        super().__init__(last, transport, not resp.compression and resp.chunked)
        self.encode = encode

    def __call__(self, m: Message) -> bool:
        if m.seq <= self.last:
            return True
        t = self._ready()
        if t is None:
            return False
        if _SSE.msg is not m:
            _SSE.msg, _SSE.data = m, _chunk(self.encode(m).encode())
        t.write(_SSE.data)
        self.last = m.seq
        return True

    def many(self, msgs: list[Message]) -> bool:
        t = self._ready()
        if t is None:
            return False
        encode = self.encode

        def events(batch: list[Message]) -> bytes:  # one chunk for all of them
            return _chunk("".join(map(encode, batch)).encode())
        if msgs[0].seq > self.last:
            t.write(_SSE_MANY.get(msgs, events))
        else:  # some were sent already (just after the replay): these bytes are this client's own
            fresh = [m for m in msgs if m.seq > self.last]
            if fresh:
                t.write(events(fresh))
        self.last = max(self.last, msgs[-1].seq)
        return True
