"""The fast path's frame splitter: plain data frames out, everything else handed back whole."""

from __future__ import annotations

import struct

from hypothesis import given, strategies as st

from transport.core.wsframes import GIVE_UP, MORE, split


def frame(payload: bytes, first: int = 0x81, mask: bytes | None = None) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes([first, n | (0x80 if mask else 0)])
    elif n < 65536:
        head = bytes([first, 126 | (0x80 if mask else 0)]) + struct.pack("!H", n)
    else:
        head = bytes([first, 127 | (0x80 if mask else 0)]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def test_text_and_binary_frames_of_every_length_form_come_out_with_their_sizes():
    frames = [frame(b"a" * 5), frame(b"b" * 300), frame(b"\x00\xff", 0x82), frame("é".encode() * 40000)]
    out: list = []
    pos, other = split(b"".join(frames), 0, None, out)
    assert other == MORE and pos == sum(map(len, frames))
    assert out == [("a" * 5, 5, 7), ("b" * 300, 300, 304), (b"\x00\xff", 2, 4), ("é" * 40000, 80000, 80010)]


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=6), st.data())
def test_any_cut_of_the_stream_gives_the_same_messages(payloads, data):
    stream = b"".join(frame(p, 0x82) for p in payloads)
    cut = data.draw(st.integers(0, len(stream)))
    out: list = []
    buf = stream[:cut]
    pos, other = split(buf, 0, None, out)
    assert other == MORE
    rest = stream[pos:]
    pos2, other2 = split(rest, 0, None, out)
    assert other2 == MORE and pos2 == len(rest)
    assert [p for p, _, _ in out] == payloads


def test_control_fragmented_reserved_and_masked_frames_are_handed_back_whole():
    ping = frame(b"hi", 0x89)
    first_fragment = frame(b"par", 0x01)
    rsv1 = frame(b"x", 0xC1)
    masked = frame(b"boo", 0x81, mask=b"\x01\x02\x03\x04")
    for odd in (ping, first_fragment, rsv1, masked):
        out: list = []
        stream = frame(b"before") + odd + frame(b"after")
        pos, other = split(stream, 0, None, out)
        assert out == [("before", 6, 8)]
        assert (pos, other) == (8, 8 + len(odd))


def test_text_that_is_not_utf8_goes_to_websockets_to_fail_the_connection():
    out: list = []
    bad = frame(b"\xc3\x28")
    assert split(bad, 0, None, out) == (0, len(bad)) and out == []


def test_while_a_fragmented_message_is_open_no_frame_is_plain():
    out: list = []
    stream = frame(b"whole")
    assert split(stream, 0, None, out, plain=False) == (0, len(stream)) and out == []


def test_a_frame_over_the_limit_is_refused_from_its_header():
    out: list = []
    head = frame(b"z" * 2000)[:4]  # only the header has arrived
    assert split(head, 0, 1000, out) == (0, GIVE_UP)
