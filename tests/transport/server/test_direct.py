"""The broadcast's fast lane: an idle subscriber's messages written at once, in one write per publish,
framed as its transport frames them; a busy or slow one queues them, in order."""

from __future__ import annotations

from transport.server.direct import DIRECT_BUFFER, SSELane, WebSocketLane
from transport.server.feed import Feed
from transport.server.sse import encode
from transport.core.wsframes import MORE, split


class Socket:
    """Just what a lane reads of an asyncio transport."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.waiting = 0  # bytes the kernel has not taken
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return self.waiting

    def is_closing(self) -> bool:
        return self.closing


class WS:
    compress = 0
    closed = False


class Stream:
    compression = False
    chunked = True


def frames(data: bytes) -> list[str]:
    out: list = []
    pos, other = split(data, 0, None, out)
    assert (pos, other) == (len(data), MORE)
    return [text for text, _size, _wire in out]


def chunks(data: bytes) -> str:
    text, rest = "", data
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        text += rest[:n].decode()
        assert rest[n:n + 2] == b"\r\n"
        rest = rest[n + 2:]
    return text


def test_an_idle_websocket_gets_a_tick_in_one_write_of_plain_frames():
    feed, sock = Feed(), Socket()
    sub = feed.subscribe(100)
    sub.direct = WebSocketLane(WS(), sock, 0).direct  # type: ignore[arg-type]
    msgs = feed.publish_many([("price", i) for i in range(5)])
    assert len(sock.writes) == 1 and frames(sock.writes[0]) == [m.text for m in msgs]
    assert sub.queued == 0


def test_an_idle_sse_stream_gets_a_tick_as_one_chunk_of_events():
    feed, sock = Feed(), Socket()
    sub = feed.subscribe(100)
    sub.direct = SSELane(Stream(), sock, 0, encode).direct  # type: ignore[arg-type]
    msgs = feed.publish_many([("likes", i) for i in range(3)])
    one = feed.publish("chat", "hi")
    assert [chunks(w) for w in sock.writes] == ["".join(map(encode, msgs)), encode(one)]


async def test_a_client_not_taking_its_bytes_gets_its_messages_queued_in_order():
    feed, sock = Feed(), Socket()
    sub = feed.subscribe(100)
    sub.direct = WebSocketLane(WS(), sock, 0).direct  # type: ignore[arg-type]
    first = feed.publish("price", 1)
    sock.waiting = DIRECT_BUFFER + 1
    later = feed.publish_many([("price", i) for i in range(2, 5)])
    assert frames(sock.writes[0]) == [first.text] and len(sock.writes) == 1
    assert [m.seq for m in await sub.get_batch()] == [m.seq for m in later]


def test_what_the_replay_sent_is_not_sent_again():
    feed, sock = Feed(), Socket()
    feed.publish_many([("price", i) for i in range(3)])  # before the subscriber: its replay sent seq 1..3
    sub = feed.subscribe(100)
    lane = WebSocketLane(WS(), sock, 2)  # the replay reached seq 2 only... then 3 came through the lane
    sub.direct = lane.direct
    msgs = feed.publish_many([("price", i) for i in range(3, 6)])
    assert frames(sock.writes[0]) == [m.text for m in msgs] and lane.last == msgs[-1].seq
    assert feed.publish("x", 0).seq == 7 and lane([m for m in msgs][0]) is True  # an old one: nothing written
    assert len(sock.writes) == 2


def test_a_closing_connection_or_a_compressed_one_has_no_lane():
    sock = Socket()
    ws = WS()
    ws.compress = 15  # permessage-deflate: frames must go through aiohttp's writer
    assert WebSocketLane(ws, sock, 0).direct is None  # type: ignore[arg-type]
    lane = WebSocketLane(WS(), sock, 0)  # type: ignore[arg-type]
    sock.closing = True
    feed = Feed()
    sub = feed.subscribe(100)
    sub.direct = lane.direct
    feed.publish("price", 1)
    assert sock.writes == [] and sub.queued == 1
