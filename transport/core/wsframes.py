"""Splitting a server's WebSocket byte stream into frames, for the client's fast path. Sans-I/O.

websockets parses each frame with a generator over its stream reader (about
2.7 µs a frame here, more than everything Duplex does with the message). The
common frame from a feed is simple: one whole, unmasked text or binary frame
with no extension bits. :func:`split` cuts those out of a buffer in one loop
and hands every other frame — control frames, fragments, anything with RSV
bits, a masked frame, one over the size limit — back whole, so websockets'
protocol still judges (and fails) everything that is not plain data. It never
hands websockets part of a frame, so websockets' parser is always at a frame
boundary when it gets one.
"""

from __future__ import annotations

TEXT_FIN = 0x81  # FIN, no RSV bits, opcode 1
BINARY_FIN = 0x82  # FIN, no RSV bits, opcode 2

MORE = -1  # the next frame is not complete yet
GIVE_UP = -2  # hand the rest of the stream to websockets from here on (over the size limit)


Frame = tuple[str | bytes, int, int]  # payload (text decoded), its bytes, its bytes on the wire


def frame_overhead(size: int, masked: bool) -> int:
    """Bytes of framing around one frame of ``size`` payload bytes (RFC 6455 §5.2: a 2-byte head, then a
    2- or 8-byte extended length; a client's frames add a 4-byte mask)."""
    head = 2 if size < 126 else 4 if size < 65536 else 10
    return head + (4 if masked else 0)


def split(buf: bytes | bytearray, pos: int, max_size: int | None, out: list[Frame], plain: bool = True
          ) -> tuple[int, int]:
    """Scan ``buf`` from ``pos``: append ``(payload, size, wire)`` for each simple data frame
    (text decoded; a text frame that is not UTF-8 is not simple). Returns ``(pos, other)``:
    ``pos`` where scanning stopped; ``other`` the end of the frame that starts there when it is
    complete but not simple, or :data:`MORE` / :data:`GIVE_UP`. ``plain`` False: no frame is
    simple (a fragmented message is in progress, so websockets must see every frame)."""
    n = len(buf)
    limit = max_size if max_size is not None else 1 << 62
    while n - pos >= 2:
        b0 = buf[pos]
        ln = buf[pos + 1]
        masked = ln & 0x80
        ln &= 0x7F
        start = pos + 2
        if ln == 126:
            if n - pos < 4:
                return pos, MORE
            ln = (buf[pos + 2] << 8) | buf[pos + 3]
            start = pos + 4
        elif ln == 127:
            if n - pos < 10:
                return pos, MORE
            ln = int.from_bytes(buf[pos + 2:pos + 10], "big")
            start = pos + 10
        if masked:
            start += 4
        if ln > limit:
            return pos, GIVE_UP
        end = start + ln
        if end > n:
            return pos, MORE
        if masked or not plain or (b0 != TEXT_FIN and b0 != BINARY_FIN):
            return pos, end
        if b0 == TEXT_FIN:
            try:
                out.append((buf[start:end].decode(), ln, end - pos))
            except UnicodeDecodeError:
                return pos, end  # websockets' path fails the connection with 1007
        else:
            out.append((bytes(buf[start:end]), ln, end - pos))
        pos = end
    return pos, MORE
