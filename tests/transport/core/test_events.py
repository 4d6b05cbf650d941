import json

import pytest

from transport.core.events import Event


def test_event_is_frozen_and_slotted():
    e = Event("websocket", "in", "message", seq=3, size=10, data="hello")
    with pytest.raises(AttributeError):
        e.seq = 4  # type: ignore[misc]
    assert not hasattr(e, "__dict__")


def test_event_rejects_unknown_transport_and_direction():
    with pytest.raises(ValueError):
        Event("carrier-pigeon", "in", "message")
    with pytest.raises(ValueError):
        Event("websocket", "sideways", "message")


def test_json_line_carries_every_field_and_hex_for_binary():
    e = Event("websocket", "out", "message", conn=2, size=3, wire=9, data=b"\xde\xad\xbe", meta={"k": 1})
    d = json.loads(e.to_json())
    assert set(d) >= {"t", "transport", "conn", "direction", "kind", "seq", "size", "wire",
                      "latency_ms", "data", "meta"}
    assert d["data"] == "deadbe"
    assert d["meta"] == {"k": 1, "binary": True}


def test_str_is_short_and_readable():
    e = Event("websocket", "in", "message", conn=1, seq=42, size=80, latency_ms=0.5, data="x" * 500)
    s = str(e)
    assert s.startswith("websocket#1 in message seq=42 80B 0.5ms")
    assert len(s) < 120
