"""websockets' client connection, with the feed's messages handed over in batches as they are read.

A subclass through ``connect(create_connection=...)``, websockets' own hook for
customising connection handling. websockets keeps the handshake, sending,
pings, the closing handshake and every judgement on the protocol; only the
delivery of data messages changes:

- each read's whole, unmasked, unfragmented text and binary frames are cut out
  by :func:`transport.core.wsframes.split` and handed to the client as one list with
  one arrival time (no ``recv()`` per message, no queue in between);
- every other frame goes whole through websockets' protocol; its data frames
  (fragments, compressed messages) come back through :meth:`process_event`,
  in stream order, and a text message that is not UTF-8 fails the connection
  with 1007 as websockets' ``recv()`` would.

Messages read before the client attaches wait in a bounded list (reading
pauses when it is full).
"""

from __future__ import annotations

import functools
import logging
from typing import Callable

from websockets.asyncio import messages as _ws_messages
from websockets.asyncio.client import ClientConnection
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State

from transport.core.events import now_ns
from transport.core.wsframes import GIVE_UP, MORE, frame_overhead, split
from transport.core.wsframes import Frame as Message

log = logging.getLogger("duplex.ws")

FrameSink = Callable[[list[Message], int], None]

EARLY_LIMIT = 4096  # messages held before the client attaches; reading pauses beyond
# one message in more pieces than websockets' own recv() takes (4 096, or WEBSOCKETS_MAX_FRAGMENTS) is
# refused with 1009, as websockets refuses it: its own constant, so the two can never disagree
MAX_FRAGMENTS: int = _ws_messages.MAX_FRAGMENTS


class FeedConnection(ClientConnection):
    def __init__(self, *args, max_size: int | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)  # websockets' own arguments
        self._max_size = max_size  # the same limit websockets' protocol was given
        self._sink: FrameSink | None = None
        self._early: list[tuple[list[Message], int]] = []
        self._early_count = 0
        self._paused = False
        self._fast = True
        self._tail = b""  # the last bytes of the handshake response read so far
        self._rest = bytearray()  # the start of a frame not complete yet
        self._fragments: list[bytes] = []
        self._fragment_text = False
        self._fragment_wire = 0
        self.sink_error: BaseException | None = None  # what the client's sink raised (the connection is aborted)
        # when the handshake's answer was read: the open row's time, never after the first message read with it
        self.opened_ns: int | None = None

    @classmethod
    def factory(cls, max_size: int | None) -> Callable[..., FeedConnection]:
        """What ``connect(create_connection=...)`` takes: connections that know the message size limit."""
        return functools.partial(cls, max_size=max_size)

    def attach(self, sink: FrameSink) -> None:
        """Start handing messages to ``sink(messages, arrival_ns)``; what came before goes first."""
        self._sink = sink
        early, self._early = self._early, []
        self._early_count = 0
        for messages, t in early:
            self._deliver(messages, t)
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    # -- reading --------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if not self._fast:
            super().data_received(data)
            return
        if self.response is None:  # websockets reads the handshake response, not one byte more
            seen = self._tail + data
            i = seen.find(b"\r\n\r\n")
            if i < 0:
                self._tail = seen[-3:]
                super().data_received(data)
                return
            cut = i + 4 - len(self._tail)
            super().data_received(data[:cut])
            self.opened_ns = now_ns()
            data = data[cut:]
            if self.protocol.state is not State.OPEN:
                self._fast = False
                if data:
                    super().data_received(data)
                return
            if not data:
                return
        if self.protocol.state is not State.OPEN:  # closing: websockets reads the rest
            self._give_up(self._rest + data)
            return
        rest = self._rest
        if rest:
            rest += data
            buf: bytes | bytearray = rest
        else:
            buf = data
        pos = 0
        out: list[Message] = []
        proto = self.protocol
        while True:
            pos, other = split(buf, pos, self._max_size, out, plain=not self._fragments)
            if out:
                self._deliver(out, now_ns())
                out = []
            if other == MORE:
                break
            if other == GIVE_UP:  # websockets refuses the frame (1009) from its header
                self._give_up(buf[pos:])
                return
            super().data_received(bytes(buf[pos:other]))  # one whole frame, judged by websockets
            pos = other
            if proto.state is not State.OPEN:
                self._give_up(buf[pos:])
                return
        if rest:
            del rest[:pos]
        elif pos < len(buf):
            self._rest = bytearray(buf[pos:])

    def _give_up(self, remainder: bytes | bytearray) -> None:
        """From here on websockets reads everything (the connection is closing)."""
        self._fast = False
        self._rest = bytearray()
        if remainder:
            super().data_received(bytes(remainder))

    def eof_received(self) -> None:
        if self._rest:  # a frame cut short: websockets says how the stream ended
            self._give_up(self._rest)
        super().eof_received()

    def process_event(self, event: object) -> None:
        if not isinstance(event, Frame) or self.response is None or event.opcode not in (
                Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            super().process_event(event)  # type: ignore[arg-type]  # the handshake response, control frames
            return
        data = bytes(event.data)
        if event.opcode is not Opcode.CONT:
            self._fragment_text = event.opcode is Opcode.TEXT
            self._fragment_wire = 0
        self._fragments.append(data)
        self._fragment_wire += len(data) + frame_overhead(len(data), masked=False)
        if len(self._fragments) > MAX_FRAGMENTS:  # the first frame and MAX_FRAGMENTS - 1 continuations, no more
            self._fail(CloseCode.MESSAGE_TOO_BIG, "too many fragments")
            return
        if not event.fin:
            return
        payload = b"".join(self._fragments)
        self._fragments = []
        wire = self._fragment_wire
        if self._fragment_text:
            try:
                text = payload.decode()
            except UnicodeDecodeError as exc:
                self._fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                return
            self._deliver([(text, len(payload), wire)], now_ns())
        else:
            self._deliver([(payload, len(payload), wire)], now_ns())

    def _fail(self, code: CloseCode, reason: str) -> None:
        self._fragments = []
        self.protocol.fail(code, reason)
        self.send_data()

    def _deliver(self, messages: list[Message], t: int) -> None:
        sink = self._sink
        if sink is None:
            self._early.append((messages, t))
            self._early_count += len(messages)
            if self._early_count > EARLY_LIMIT and not self._paused and self.transport is not None:
                self._paused = True
                self.transport.pause_reading()
            return
        try:
            sink(messages, t)
        except Exception as exc:  # the client's own failure: end the connection, the client re-raises it
            log.exception("the WebSocket client failed on a message")
            self.sink_error = exc
            self._sink = lambda messages, t: None
            if self.transport is not None:
                self.transport.abort()
