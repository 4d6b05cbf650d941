"""The transports' messages found in bytes, byte for byte: what the message toxic acts on."""

from __future__ import annotations

import json

from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from transport.core.message_units import (
    LineSplitter, SseSplitter, WsSplitter, corrupt, eio_packets, join_items, json_items, seq_of, ws_frame)


def feed_bytewise(splitter, data: bytes):
    out = []
    for i in range(len(data)):
        out += splitter.feed(data[i:i + 1])
    return out


def test_websocket_fragments_are_one_message_and_a_ping_between_them_passes_first():
    first = Frame(Opcode.TEXT, b'{"seq":1', fin=False).serialize(mask=True, extensions=[])
    ping = Frame(Opcode.PING, b"hi").serialize(mask=True, extensions=[])
    last = Frame(Opcode.CONT, b"}", fin=True).serialize(mask=True, extensions=[])
    units = feed_bytewise(WsSplitter(masked=True), first + ping + last)
    assert [u.message for u in units] == [False, True]
    assert units[0].raw == ping and units[1].raw == first + last  # the ping does not wait for the message
    assert units[1].text == '{"seq":1}' and seq_of(units[1]) == 1


def test_a_corrupted_masked_text_frame_is_a_valid_frame_of_invalid_utf8():
    unit = WsSplitter(masked=True).feed(ws_frame(1, b'{"seq":7}', masked=True))[0]
    data, how = corrupt(unit)
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=True)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    assert how == "invalid UTF-8" and frame.opcode is Opcode.TEXT and frame.data.startswith(b"\xff")


def test_sse_blocks_any_line_ending_and_only_data_blocks_are_messages():
    stream = b": hi\r\n\r\nretry: 10\r\rid: 4\ndata: {\"a\":1}\ndata: x\n\nevent: e\ndata: two\r\n\r\n"
    units = feed_bytewise(SseSplitter(), stream)
    assert b"".join(u.raw for u in units) == stream
    assert [u.text for u in units if u.message] == ['{"a":1}\nx', "two"]
    assert seq_of([u for u in units if u.message][0]) == 4  # the id that is a number


def test_ndjson_lines_and_heartbeats_and_a_line_too_long_gives_up():
    units = LineSplitter().feed(b'{"seq":1}\n\n{"seq":2}\r\n{"se')
    assert [seq_of(u) for u in units if u.message] == [1, 2] and sum(not u.message for u in units) == 1
    big = LineSplitter(max_size=10)
    assert big.feed(b"x" * 20)[0].raw == b"x" * 20 and big.gave_up


def test_poll_items_keep_their_bytes_and_socketio_events_are_the_only_messages():
    units = json_items(b'[ {"seq":1} , {"seq":2}]')
    assert [u.text for u in units] == ['{"seq":1}', '{"seq":2}'] and join_items(units) == b'[{"seq":1},{"seq":2}]'
    assert json_items(b'{"not": "a list"}') is None
    packets = eio_packets(b'2\x1e42["feed",{"seq":9}]\x1e40')
    assert [u.message for u in packets] == [False, True, False] and seq_of(packets[1]) == 9


def test_corrupted_json_fails_every_parser():
    for unit in LineSplitter().feed(b'{"seq":1,"body":{}}\n') + json_items(b'[[1,2]]'):
        data, how = corrupt(unit)
        try:
            json.loads(data)
        except ValueError:
            continue
        raise AssertionError(f"{data!r} still parses")
