"""Finding each transport's messages in the bytes between a client and a server, byte for byte. Sans-I/O.

The fault proxy's ``message`` toxic acts on a transport's own unit, not on TCP chunks. The splitters
here cut a byte stream into :class:`Unit` s that keep the exact bytes that came (so what no toxic touches
leaves as it arrived) and say which of them are messages:

- a WebSocket data message (after the 101): a whole frame, or a fragmented message's frames together
  (the client's masked frames unmasked to be read); control frames are not messages and pass at once,
  even from the middle of a fragmented message (RFC 6455 §5.4 lets them in between);
- an SSE event: a block up to its blank line that has a ``data`` field (comments, ``retry``-only and
  ``id``-only blocks are not messages);
- an NDJSON line (an empty line is a heartbeat, not a message);
- an item of a JSON array (a poll's answer), or a packet of an Engine.IO polling payload;
- over Socket.IO (either carrier), an EVENT packet (``42…``); Engine.IO pings, Socket.IO connects and
  acks are not messages.

Each splitter is bounded: a message larger than ``max_size`` makes it give up and pass every byte from
there on as it comes (``gave_up`` says so). :func:`corrupt` changes a message so that a client must notice.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from transport.core.envelope import envelope_fields, split_json_list

MAX_MESSAGE = 16 * 1024 * 1024

# what a unit is (how it is rebuilt when it is changed)
WS_TEXT, WS_BINARY, SSE, LINE, ITEM, EIO = "ws-text", "ws-binary", "sse", "line", "item", "eio"


@dataclass(slots=True)
class Unit:
    """Bytes as they came; ``text`` the message's text, or None when they are not a message."""

    raw: bytes
    text: str | None = None
    kind: str = ""
    event_id: str | None = None  # SSE: the block's ``id`` field
    masked: bool = False  # WebSocket: a client's frame (rebuilt masked)
    socketio: bool = False  # a Socket.IO packet (``42…``)

    @property
    def message(self) -> bool:
        return self.text is not None


def is_sio_event(text: str) -> bool:
    """An Engine.IO message carrying a Socket.IO EVENT (``42…``, any namespace)."""
    return text.startswith("42")


# -- WebSocket --------------------------------------------------------------------------------------
def ws_frame(opcode: int, payload: bytes, masked: bool) -> bytes:
    """One final frame (RFC 6455 §5.2), masked with a fresh key when it goes to a server."""
    size = len(payload)
    head = bytearray([0x80 | opcode])
    bit = 0x80 if masked else 0
    if size < 126:
        head.append(bit | size)
    elif size < 65536:
        head.append(bit | 126)
        head += size.to_bytes(2, "big")
    else:
        head.append(bit | 127)
        head += size.to_bytes(8, "big")
    if masked:
        key = os.urandom(4)
        head += key
        payload = _unmask(payload, key)
    return bytes(head) + payload


def _unmask(payload: bytes | bytearray, key: bytes) -> bytes:
    if not payload:
        return b""
    n = len(payload)
    mask = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ mask).to_bytes(n, "big")


class WsSplitter:
    """One direction of a WebSocket connection, frame by frame (``masked``: the client's side)."""

    def __init__(self, masked: bool, socketio: bool = False, max_size: int = MAX_MESSAGE) -> None:
        self.masked, self.socketio, self.max_size = masked, socketio, max_size
        self.gave_up = False
        self._buf = bytearray()
        self._frames: list[bytes] = []  # a fragmented message's frames so far
        self._payload = bytearray()
        self._opcode = 0

    def feed(self, data: bytes) -> list[Unit]:
        if self.gave_up:
            return [Unit(data)] if data else []
        buf = self._buf
        buf += data
        out: list[Unit] = []
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, ln = buf[pos], buf[pos + 1]
            masked = ln & 0x80
            ln &= 0x7F
            start = pos + 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln, start = int.from_bytes(buf[pos + 2:pos + 4], "big"), pos + 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln, start = int.from_bytes(buf[pos + 2:pos + 10], "big"), pos + 10
            key = bytes(buf[start:start + 4]) if masked else b""
            start += 4 if masked else 0
            if ln + len(self._payload) > self.max_size:
                return out + self._give_up(pos)
            end = start + ln
            if end > n:
                break
            raw = bytes(buf[pos:end])
            payload = _unmask(buf[start:end], key) if masked else bytes(buf[start:end])
            opcode, fin = b0 & 0x0F, b0 & 0x80
            pos = end
            if opcode >= 8 or b0 & 0x70:  # control frames; frames an extension changed: not read
                out.append(Unit(raw))
            elif opcode in (1, 2) and not self._frames:
                if fin:
                    out.append(self._unit(raw, opcode, payload))
                else:
                    self._frames, self._payload, self._opcode = [raw], bytearray(payload), opcode
            elif opcode == 0 and self._frames:
                self._frames.append(raw)
                self._payload += payload
                if fin:
                    joined = b"".join(self._frames)
                    out.append(self._unit(joined, self._opcode, bytes(self._payload)))
                    self._frames, self._payload = [], bytearray()
            else:  # out of order: the endpoint fails the connection; the proxy only passes it on
                out.extend(Unit(f) for f in self._frames)
                self._frames, self._payload = [], bytearray()
                out.append(Unit(raw))
        del buf[:pos]
        return out

    def _unit(self, raw: bytes, opcode: int, payload: bytes) -> Unit:
        if opcode == 1:
            text = payload.decode("utf-8", "replace")
            sio = self.socketio
            if sio and not is_sio_event(text):
                return Unit(raw)
            return Unit(raw, text, WS_TEXT, masked=self.masked, socketio=sio)
        if self.socketio:  # a binary attachment: part of a packet, not a message of its own
            return Unit(raw)
        return Unit(raw, payload.decode("latin-1"), WS_BINARY, masked=self.masked)

    def _give_up(self, pos: int) -> list[Unit]:
        self.gave_up = True
        rest = b"".join(self._frames) + bytes(self._buf[pos:])
        self._frames, self._payload, self._buf = [], bytearray(), bytearray()
        return [Unit(rest)] if rest else []

    def end(self) -> list[Unit]:
        """The stream ended: what is left passes as it is."""
        rest = b"".join(self._frames) + bytes(self._buf)
        self._frames, self._buf = [], bytearray()
        return [Unit(rest)] if rest else []


# -- text streams: SSE, NDJSON ---------------------------------------------------------------------------
class _TextStream:
    """A streamed body cut into units by ``_cut``; past ``max_size`` unfinished, every byte passes as it is."""

    def __init__(self, max_size: int = MAX_MESSAGE) -> None:
        self.max_size = max_size
        self.gave_up = False
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Unit]:
        if self.gave_up:
            return [Unit(data)] if data else []
        self._buf += data
        out = self._cut(self._buf)
        if len(self._buf) > self.max_size:
            self.gave_up = True
            rest, self._buf = bytes(self._buf), bytearray()
            out.append(Unit(rest))
        return out

    def _cut(self, buf: bytearray) -> list[Unit]:
        """The complete units at the start of ``buf``, removed from it."""
        raise NotImplementedError

    def end(self) -> list[Unit]:
        """The stream ended: an unfinished unit passes as it is."""
        rest, self._buf = bytes(self._buf), bytearray()
        return [Unit(rest)] if rest else []


_EOL = re.compile(rb"\r\n|\n|\r")


class SseSplitter(_TextStream):
    """An event stream, block by block (a block ends with a blank line; CRLF, LF or CR)."""

    def __init__(self, max_size: int = MAX_MESSAGE) -> None:
        super().__init__(max_size)
        self._scanned = 0  # where the next line starts (within the current block)
        self._first = True

    def _cut(self, buf: bytearray) -> list[Unit]:
        out: list[Unit] = []
        start = 0
        line = self._scanned
        for m in _EOL.finditer(buf, line):
            if m.group() == b"\r" and m.end() == len(buf):
                break  # a CR at the end: an LF may follow in the next chunk
            if m.start() == line:  # an empty line: the block from start ends here (alone, a block too)
                out.append(self._block(bytes(buf[start:m.end()])))
                start = m.end()
            line = m.end()
        self._scanned = line - start
        del buf[:start]
        return out

    def _block(self, raw: bytes) -> Unit:
        text = raw.decode("utf-8", "replace")
        if self._first:
            self._first = False
            text = text.removeprefix("\ufeff")
        data: list[str] = []
        event_id: str | None = None
        for line in text.splitlines():
            if not line or line.startswith(":"):
                continue
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "id" and "\0" not in value:
                event_id = value
        if not data:
            return Unit(raw)
        return Unit(raw, "\n".join(data), SSE, event_id=event_id)


# -- NDJSON ------------------------------------------------------------------------------------------
class LineSplitter(_TextStream):
    """NDJSON: one message per line; an empty line (a heartbeat) is not one."""

    def _cut(self, buf: bytearray) -> list[Unit]:
        out: list[Unit] = []
        start = 0
        for _ in range(len(buf)):  # at most a line per byte
            i = buf.find(b"\n", start)
            if i < 0:
                break
            out.append(_line(bytes(buf[start:i + 1])))
            start = i + 1
        del buf[:start]
        return out

    def end(self) -> list[Unit]:
        return [_line(u.raw) for u in super().end()]


def _line(raw: bytes) -> Unit:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    return Unit(raw, text, LINE) if text.strip() else Unit(raw)


# -- whole bodies: a poll's JSON array, an Engine.IO polling payload --------------------------------------
def json_items(body: bytes) -> list[Unit] | None:
    """The items of a JSON array answer (None when the body is not one: it passes unchanged)."""
    try:
        items = split_json_list(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is one
        return None
    return [Unit(text.encode(), text, ITEM) for text, _ in items]


def join_items(units: list[Unit]) -> bytes:
    return b"[" + b",".join(u.raw for u in units) + b"]"


def eio_packets(body: bytes) -> list[Unit] | None:
    """The packets of an Engine.IO v4 polling payload (record separator between them)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return [Unit(p.encode(), p, EIO, socketio=True) if is_sio_event(p) else Unit(p.encode())
            for p in text.split("\x1e")]


def join_eio(units: list[Unit]) -> bytes:
    return b"\x1e".join(u.raw for u in units)


# -- what a message says --------------------------------------------------------------------------------
def seq_of(unit: Unit) -> int | None:
    """The message's sequence number as a reader would find it: an SSE ``id`` that is a number, the lab
    envelope's ``seq``, a JSON object's ``seq`` or ``id``, the first such object among a Socket.IO event's
    arguments. None when it has none."""
    if unit.event_id is not None and unit.event_id.isdigit():
        return int(unit.event_id)
    text = unit.text
    if text is None:
        return None
    if unit.socketio:
        body = text[2:]
        if body.startswith("/"):
            body = body.partition(",")[2]
        body = body.lstrip("0123456789")  # an ack id
        try:
            args = json.loads(body)
        except ValueError:
            return None
        for arg in args if isinstance(args, list) else []:
            if isinstance(arg, dict):
                found = _seq_in(arg)
                if found is not None:
                    return found
        return None
    seq, _, _, obj = envelope_fields(text)
    if seq is not None:
        return seq
    return _seq_in(obj) if obj is not None else None


def _seq_in(obj: dict) -> int | None:
    for key in ("seq", "id"):
        value = obj.get(key)
        if type(value) is int:
            return value
    return None


def broken_json(text: str) -> str:
    """JSON that no parser takes and no fast path mistakes for the original: a stray ``{`` in front (an
    unbalanced bracket whatever follows; the end, which fast readers look at, stays as it was)."""
    return "{" + text


def corrupt(unit: Unit) -> tuple[bytes, str]:
    """The message changed so that its reader must notice; returns the bytes and how (for the marker)."""
    text = unit.text or ""
    if unit.kind == WS_TEXT:
        if unit.socketio:
            return ws_frame(1, ("42" + broken_json(text[2:])).encode(), unit.masked), \
                "a Socket.IO packet that does not decode"
        payload = text.encode()
        return ws_frame(1, b"\xff" + payload[1:], unit.masked), "invalid UTF-8"
    if unit.kind == WS_BINARY:
        payload = text.encode("latin-1")
        return ws_frame(2, bytes(b ^ 0xFF for b in payload[:16]) + payload[16:], unit.masked), \
            "its first bytes inverted"
    if unit.kind == SSE:
        lines = []
        broken = False
        for line in unit.raw.decode("utf-8", "replace").splitlines():
            if not line:
                continue
            if line.startswith("data") and not broken:
                lines.append("data: " + broken_json(text).replace("\n", "\ndata: "))
                broken = True
            elif not line.startswith("data"):
                lines.append(line)
        return ("\n".join(lines) + "\n\n").encode(), "broken JSON"
    if unit.kind == LINE:
        return (broken_json(text) + "\n").encode(), "broken JSON"
    if unit.kind == EIO:
        return ("42" + broken_json(text[2:])).encode(), "a Socket.IO packet that does not decode"
    return broken_json(text).encode(), "broken JSON"
