"""The Engine.IO / Socket.IO codec against packets python-engineio and python-socketio encode, both ways."""

from __future__ import annotations

import engineio.packet as ep
import engineio.payload as epl
import pytest
import socketio.packet as sp
from hypothesis import given, strategies as st

from transport.core.socketio_codec import (ACK, BINARY_EVENT, CONNECT, CONNECT_ERROR, DISCONNECT, EVENT, MESSAGE,
                                      PING, CodecError, EioPacket, SioDecoder, eio_decode, eio_encode, open_info,
                                      payload_decode, payload_encode, sio_encode)

json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**31, 2**31) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=4), max_leaves=12)


@pytest.mark.parametrize("kind", range(7))
def test_engineio_packets_read_what_python_engineio_writes(kind):
    data = "probe" if kind in (2, 3) else ""
    theirs = ep.Packet(kind, data).encode()
    assert eio_decode(theirs) == EioPacket(kind, data)
    assert eio_encode(EioPacket(kind, data)) == theirs


def test_binary_engineio_messages_both_ways():
    theirs = ep.Packet(ep.MESSAGE, b"\x00\xffdata")
    assert eio_decode(theirs.encode(b64=True)) == EioPacket(MESSAGE, b"\x00\xffdata")
    assert eio_encode(EioPacket(MESSAGE, b"\x00\xffdata"), b64=True) == ep.Packet(ep.MESSAGE, b"\x00\xffdata").encode(b64=True)
    assert eio_encode(EioPacket(MESSAGE, b"\x01")) == b"\x01"  # a WebSocket frame stays bytes


def test_polling_payloads_both_ways_and_past_python_engineios_16_packets():
    ours = [EioPacket(MESSAGE, f'2["price",{i}]') for i in range(40)] + [EioPacket(PING), EioPacket(MESSAGE, b"\x02")]
    text = payload_encode(ours)
    assert payload_decode(text) == ours
    small = ours[:10] + ours[-2:]
    theirs = epl.Payload(encoded_payload=payload_encode(small)).packets  # it refuses more than 16
    assert [(p.packet_type, p.data if p.binary or not isinstance(p.data, str) else p.data) for p in theirs][-1] == (4, b"\x02")
    assert payload_decode(epl.Payload([ep.Packet(ep.MESSAGE, "2[\"a\"]"), ep.Packet(ep.NOOP)]).encode()) == [
        EioPacket(MESSAGE, '2["a"]'), EioPacket(6)]


def test_the_handshake():
    info = open_info(eio_decode('0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,'
                                '"maxPayload":1000000}'))
    assert info["sid"] == "abc" and info["upgrades"] == ["websocket"]
    with pytest.raises(CodecError):
        open_info(EioPacket(MESSAGE, "x"))


@pytest.mark.parametrize("bad", ["", "7x", "x", "b!!!"])
def test_what_is_not_an_engineio_packet_is_one_sentence(bad):
    with pytest.raises(CodecError) as err:
        eio_decode(bad)
    assert err.value.sentence.endswith(".")


@given(json_values, st.sampled_from(["/", "/chat", "/a-b"]), st.none() | st.integers(0, 10**6),
       st.text(min_size=1, max_size=10))
def test_socketio_events_round_trip_with_python_socketio(value, namespace, ack, name):
    ours = sio_encode(EVENT, [name, value], namespace, ack)
    theirs = sp.Packet(sp.EVENT, [name, value], namespace=None if namespace == "/" else namespace, id=ack).encode()
    assert ours == [theirs]
    got = SioDecoder().feed(theirs)
    assert (got.type, got.namespace, got.ack, got.event, got.args) == (EVENT, namespace, ack, name, [value])


def test_every_socketio_packet_type():
    d = SioDecoder()
    assert d.feed(sp.Packet(sp.CONNECT, {"token": "t"}, namespace="/chat").encode()).namespace == "/chat"
    assert d.feed('0{"sid":"x","pid":"p"}').data == {"sid": "x", "pid": "p"}
    assert d.feed(sp.Packet(sp.DISCONNECT, namespace="/chat").encode()).type == DISCONNECT
    ack = d.feed(sp.Packet(sp.ACK, ["ok", 1], namespace="/", id=7).encode())
    assert (ack.type, ack.ack, ack.args) == (ACK, 7, ["ok", 1])
    err = d.feed(sp.Packet(sp.CONNECT_ERROR, {"message": "no"}, namespace="/x").encode())
    assert (err.type, err.data) == (CONNECT_ERROR, {"message": "no"})
    assert CONNECT == 0


def test_binary_events_wait_for_their_attachments_both_ways():
    theirs = sp.Packet(sp.EVENT, ["file", b"\x00\x01", {"n": b"\x02"}], namespace="/up", id=3).encode()
    assert isinstance(theirs, list) and len(theirs) == 3
    d = SioDecoder()
    assert d.feed(theirs[0]) is None and d.feed(theirs[1]) is None
    got = d.feed(theirs[2])
    assert (got.type, got.event, got.args, got.ack, got.binary) == (BINARY_EVENT, "file", [b"\x00\x01", {"n": b"\x02"}],
                                                                     3, True)
    assert sio_encode(EVENT, ["file", b"\x00\x01", {"n": b"\x02"}], "/up", 3) == theirs
    with pytest.raises(CodecError):
        SioDecoder().feed(b"\x00")  # an attachment nobody waits for


def test_a_packet_announcing_too_many_attachments_is_refused():
    with pytest.raises(CodecError):
        SioDecoder(max_attachments=2).feed('53-["f",{"_placeholder":true,"num":0}]')


def test_text_is_not_a_socketio_packet():
    with pytest.raises(CodecError):
        SioDecoder().feed("hello")


def test_the_packet_types_are_python_socketios():
    from socketio import packet

    from transport.core import socketio_codec as codec

    assert (codec.CONNECT, codec.DISCONNECT, codec.EVENT, codec.ACK, codec.CONNECT_ERROR, codec.BINARY_EVENT,
            codec.BINARY_ACK) == (packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK, packet.CONNECT_ERROR,
                                  packet.BINARY_EVENT, packet.BINARY_ACK)


@given(st.sampled_from([sp.CONNECT, sp.DISCONNECT, sp.EVENT, sp.ACK, sp.CONNECT_ERROR]), json_values,
       st.sampled_from([None, "/chat", "/a-b", "/x?token=1"]), st.none() | st.integers(0, 10**12),
       st.lists(st.binary(max_size=6), max_size=3))
def test_every_packet_python_socketio_writes_reads_the_same_here(kind, value, namespace, ack, blobs):
    """The codec is written here, not imported (the launch's GUI thread paid ~0.2 s for python-socketio's
    package): what it reads and writes must stay python-socketio's, byte for byte."""
    data = [value, *blobs] if kind in (sp.EVENT, sp.ACK) else value if kind != sp.DISCONNECT else None
    if kind in (sp.EVENT, sp.ACK):
        data = ["ev", *data] if kind == sp.EVENT else data
    theirs = sp.Packet(kind, data, namespace=namespace, id=ack if kind in (sp.EVENT, sp.ACK) else None).encode()
    parts = theirs if isinstance(theirs, list) else [theirs]
    ns = (namespace or "/").split("?")[0]
    if namespace is None or "?" not in namespace:  # a query is read, never written back
        assert sio_encode(kind, data, ns, ack if kind in (sp.EVENT, sp.ACK) else None) == parts
    d = SioDecoder()
    got = None
    for part in parts:
        got = d.feed(part)
    ref = sp.Packet(encoded_packet=parts[0])
    for blob in parts[1:]:
        ref.add_attachment(blob)
    assert got is not None
    assert (got.type, got.namespace, got.ack, got.data, got.binary) == \
        (ref.packet_type, ref.namespace or "/", ref.id, ref.data, len(parts) > 1)


@pytest.mark.parametrize("text", ["2", "2/chat", "2/chat,", "21", "2123[\"a\"]", "3/x,9[1]", "51-[{\"_placeholder\":true,\"num\":0}]",
                                  "2" + "1" * 101 + "[]", "211-x", "2[\"a\"", "9", "2{", "212345678901-[]", "0/a?b=1,{}"])
def test_odd_packets_are_refused_or_read_as_python_socketio_does(text):
    try:
        ref = sp.Packet(encoded_packet=text)
        theirs = (ref.packet_type, ref.namespace or "/", ref.id, ref.data, ref.attachment_count)
    except (ValueError, IndexError, TypeError):
        theirs = None
    d = SioDecoder()
    try:
        got = d.feed(text)
        ours = (got.type, got.namespace, got.ack, got.data, 0) if got is not None else \
            (d._waiting.type, d._waiting.namespace, d._waiting.ack, d._waiting.data, d._waiting.count)
    except CodecError:
        ours = None
    if theirs is not None and not 0 <= theirs[0] <= 6:
        theirs = None  # python-socketio reads a type 7-9; the protocol has none: refused here
    assert ours == theirs
