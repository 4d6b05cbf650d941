"""Engine.IO v4 and Socket.IO v5 packets, sans-I/O: text and bytes in, packets out, and back.

Socket.IO packets (CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK; namespaces,
ack ids, binary attachments) are written here to the protocol (v5), and held byte for byte to
python-socketio's ``socketio.packet.Packet`` by tests (tests/transport/core/test_socketio_codec.py). Its
package is not imported here: ``socketio/__init__`` imports its whole client and server, engineio, requests
and redis (~0.2 s), which the window's launch paid on the GUI thread at the Socket.IO tab's first packet,
just as the shown tab waited for its first message. Engine.IO packets are written here too, because
python-engineio's classes do not fit a client:

- ``engineio.payload.Payload`` refuses a polling payload of more than 16 packets (a server's guard
  against floods), and a client reading a backlog meets hundreds;
- ``engineio.packet.Packet`` JSON-decodes a message's data when it can (``4{"a":1}`` becomes a dict),
  while a Socket.IO message is text to decode again, and its encode cache ignores the base64 flag (a
  packet encoded for a WebSocket, then for polling, comes out raw).

Every decode is bounded and raises :class:`CodecError` with one sentence.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from transport.core.envelope import CONTROL_KINDS
from transport.core.errors import DuplexError

# Engine.IO packet types
OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = range(7)
EIO_NAMES = ("open", "close", "ping", "pong", "message", "upgrade", "noop")
RECORD_SEPARATOR = "\x1e"  # between the packets of a polling payload
PROBE = "probe"  # the upgrade probe's data (ping "probe", pong "probe")
MAX_PACKETS = 100_000  # packets in one polling payload
MAX_ATTACHMENTS = 1_000  # binary attachments of one Socket.IO packet
LAB_CONTROL_EVENTS = CONTROL_KINDS  # the lab's control items, as events of these names


# Socket.IO packet types (the protocol's numbers; a test holds them equal to python-socketio's)
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)
SIO_NAMES = ("connect", "disconnect", "event", "ack", "connect_error", "binary_event", "binary_ack")


class CodecError(DuplexError):
    """Bytes that are not an Engine.IO or Socket.IO packet."""


@dataclass(frozen=True, slots=True)
class EioPacket:
    type: int
    data: str | bytes = ""

    @property
    def name(self) -> str:
        return EIO_NAMES[self.type]


def eio_encode(pkt: EioPacket, b64: bool = False) -> str | bytes:
    """One packet: for a WebSocket frame (binary stays bytes) or, ``b64``, for a polling payload."""
    if isinstance(pkt.data, bytes):
        if pkt.type != MESSAGE:
            raise CodecError("Only an Engine.IO message can carry binary data.")
        return "b" + base64.b64encode(pkt.data).decode() if b64 else pkt.data
    return f"{pkt.type}{pkt.data}"


def eio_decode(raw: str | bytes) -> EioPacket:
    """One packet from a WebSocket frame or a polling payload's record."""
    if isinstance(raw, (bytes, bytearray)):
        return EioPacket(MESSAGE, bytes(raw))
    if not raw:
        raise CodecError("An empty Engine.IO packet.")
    if raw[0] == "b":
        try:
            return EioPacket(MESSAGE, base64.b64decode(raw[1:], validate=True))
        except (binascii.Error, ValueError):
            raise CodecError("A binary Engine.IO packet whose base64 does not decode.") from None
    if not "0" <= raw[0] <= "6":
        raise CodecError(f"Not an Engine.IO packet: it starts with {raw[:1]!r}, not a type from 0 to 6.")
    return EioPacket(int(raw[0]), raw[1:])


def payload_encode(packets: list[EioPacket]) -> str:
    return RECORD_SEPARATOR.join(str(eio_encode(p, b64=True)) for p in packets)


def payload_decode(text: str, max_packets: int = MAX_PACKETS) -> list[EioPacket]:
    """A polling response's packets (records separated by \\x1e)."""
    if not text:
        return []
    records = text.split(RECORD_SEPARATOR, max_packets)
    if len(records) > max_packets:
        raise CodecError(f"A polling payload of more than {max_packets:,} packets.")
    return [eio_decode(r) for r in records]


def open_info(pkt: EioPacket) -> dict[str, Any]:
    """The handshake's fields (sid, upgrades, pingInterval, pingTimeout, maxPayload)."""
    try:
        info = json.loads(pkt.data) if isinstance(pkt.data, str) else None
    except ValueError:
        info = None
    if pkt.type != OPEN or not isinstance(info, dict) or not isinstance(info.get("sid"), str):
        raise CodecError("The Engine.IO handshake did not start with an open packet carrying a sid.")
    return info


# -- Socket.IO ------------------------------------------------------------------------------------
MAX_ID_DIGITS = 100  # an ack id longer than this is refused (as python-socketio refuses it)


def _has_binary(data: Any) -> bool:
    if isinstance(data, (bytes, bytearray)):
        return True
    if isinstance(data, list):
        return any(_has_binary(item) for item in data)
    if isinstance(data, dict):
        return any(_has_binary(item) for item in data.values())
    return False


def _deconstruct(data: Any, attachments: list[bytes]) -> Any:
    """Binary parts out, ``{"_placeholder": true, "num": N}`` in their place (in order of appearance)."""
    if isinstance(data, (bytes, bytearray)):
        attachments.append(bytes(data))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(data, list):
        return [_deconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        return {key: _deconstruct(value, attachments) for key, value in data.items()}
    return data


def _reconstruct(data: Any, attachments: list[bytes]) -> Any:
    if isinstance(data, list):
        return [_reconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        if data.get("_placeholder") and "num" in data:
            num = data["num"]
            if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num < len(attachments):
                raise CodecError(f"A binary placeholder for attachment {str(num)[:20]} of {len(attachments)}.")
            return attachments[num]
        return {key: _reconstruct(value, attachments) for key, value in data.items()}
    return data


def sio_encode(kind: int, data: Any = None, namespace: str = "/", ack: int | None = None) -> list[str | bytes]:
    """A Socket.IO packet as Engine.IO message payloads: its text, then its binary attachments (an event or
    an ack whose data holds bytes becomes a binary one)."""
    if _has_binary(data):
        if kind == EVENT:
            kind = BINARY_EVENT
        elif kind == ACK:
            kind = BINARY_ACK
        elif kind not in (BINARY_EVENT, BINARY_ACK):
            raise CodecError(f"A Socket.IO {SIO_NAMES[kind]} packet cannot carry binary data.")
    text = str(kind)
    attachments: list[bytes] | None = None
    if kind in (BINARY_EVENT, BINARY_ACK):
        attachments = []
        data = _deconstruct(data, attachments)
        text += f"{len(attachments)}-"
    if namespace and namespace != "/":
        text += namespace + ","
    if ack is not None:
        text += str(ack)
    if data is not None:
        text += json.dumps(data, separators=(",", ":"))
    return [text, *attachments] if attachments is not None else [text]


@dataclass
class _Waiting:
    """A binary packet read, waiting for its attachments."""

    type: int
    namespace: str
    data: Any
    ack: int | None
    count: int
    attachments: list[bytes] = field(default_factory=list)


def _sio_decode(text: str) -> tuple[int, int, str, int | None, Any]:
    """(type, attachments announced, namespace, ack id, data) of one Socket.IO packet's text."""
    if not text or not text[0].isascii() or not text[0].isdigit():
        raise ValueError("it does not start with a packet type")
    kind, rest = int(text[0]), text[1:]
    count = 0
    dash = rest.find("-")
    if dash > 0 and rest[:dash].isascii() and rest[:dash].isdigit():
        if dash > 10:
            raise ValueError("too many attachments")
        count, rest = int(rest[:dash]), rest[dash + 1:]
    namespace = "/"
    if rest.startswith("/"):
        sep = rest.find(",")
        namespace, rest = (rest, "") if sep == -1 else (rest[:sep], rest[sep + 1:])
        q = namespace.find("?")  # a namespace's query (CONNECT) is not its name
        if q != -1:
            namespace = namespace[:q]
    ack = None
    if rest and rest[0].isascii() and rest[0].isdigit():
        i = 1
        while i < len(rest) and i < MAX_ID_DIGITS and rest[i].isascii() and rest[i].isdigit():
            i += 1
        ack, rest = int(rest[:i]), rest[i:]
        if rest and rest[0].isascii() and rest[0].isdigit():
            raise ValueError("id field is too long")
    data = json.loads(rest) if rest else None
    return kind, count, namespace or "/", ack, data


@dataclass
class SioPacket:
    type: int
    namespace: str
    data: Any
    ack: int | None
    binary: bool = False

    @property
    def name(self) -> str:
        return SIO_NAMES[self.type]

    @property
    def event(self) -> str | None:
        """An event's name (the first of its arguments)."""
        if self.type in (EVENT, BINARY_EVENT) and isinstance(self.data, list) and self.data \
                and isinstance(self.data[0], str):
            return self.data[0]
        return None

    @property
    def args(self) -> list[Any]:
        if self.type in (EVENT, BINARY_EVENT) and isinstance(self.data, list):
            return self.data[1:]
        if self.type in (ACK, BINARY_ACK) and isinstance(self.data, list):
            return self.data
        return []


@dataclass
class SioDecoder:
    """Engine.IO message payloads in, whole Socket.IO packets out (a binary packet waits for its attachments)."""

    max_attachments: int = MAX_ATTACHMENTS
    _waiting: _Waiting | None = field(default=None, repr=False)

    @property
    def waiting(self) -> bool:
        """A binary packet waits for its attachments."""
        return self._waiting is not None

    def feed(self, data: str | bytes) -> SioPacket | None:
        if self._waiting is not None:
            if not isinstance(data, bytes):
                self._waiting = None
                raise CodecError("A text message came while a binary Socket.IO packet waited for its attachments.")
            w = self._waiting
            w.attachments.append(data)
            if len(w.attachments) < w.count:
                return None
            self._waiting = None
            return SioPacket(w.type, w.namespace, _reconstruct(w.data, w.attachments), w.ack, True)
        if isinstance(data, bytes):
            raise CodecError("A binary message with no Socket.IO packet waiting for it.")
        try:
            kind, count, namespace, ack, value = _sio_decode(data)
        except ValueError as err:  # json's errors are ValueErrors too
            raise CodecError(f"Not a Socket.IO packet ({err or 'malformed'}): {data[:80]!r}.") from None
        if not 0 <= kind <= 6:
            raise CodecError(f"Not a Socket.IO packet type: {kind}.")
        if count:
            if count > self.max_attachments:
                raise CodecError(f"A Socket.IO packet announcing {count:,} attachments (at most "
                                 f"{self.max_attachments:,}).")
            self._waiting = _Waiting(kind, namespace, value, ack, count)
            return None
        return SioPacket(kind, namespace, value, ack)


def lab_item(name: str, first: Any) -> tuple[str, bool] | None:
    """The lab's feed item an event's first argument is, as JSON text, and whether it is a control item
    (``gap`` / ``live`` under the event of that name) rather than an envelope; None for any other event.
    Only meaningful while the server is marked as the lab."""
    if name in LAB_CONTROL_EVENTS and isinstance(first, dict) and first.get("control") == name:
        return json.dumps(first, separators=(",", ":")), True
    if isinstance(first, dict) and "seq" in first and "topic" in first:
        return json.dumps(first, separators=(",", ":"), ensure_ascii=False), False
    return None

