"""The bridge: one batch per tab per flush, handed out one tab per turn of the loop, nothing lost or reordered."""

from PySide6.QtCore import QObject

from transport.core.events import Event
from ui.bridge import EventBridge


def ev(transport: str, seq: int) -> Event:
    return Event(transport, "in", "message", seq, 1, seq, 1, 1, None, "x", {})


def test_a_timed_flush_hands_each_tab_its_batch_on_its_own_turn(qtbot):
    owner = QObject()
    bridge = EventBridge(interval_ms=1, parent=owner)
    got: list[tuple[str, list[int]]] = []
    bridge.delivered.connect(lambda t, batch: got.append((t, [e.seq for e in batch])))
    for seq in range(6):
        bridge.push(ev(("websocket", "sse", "socketio")[seq % 3], seq))
    with qtbot.waitSignal(bridge.delivered, timeout=1000):
        pass
    assert got == [("websocket", [0, 3])]  # one tab's insert, then the loop runs again
    qtbot.waitUntil(lambda: len(got) == 3, timeout=1000)
    assert got == [("websocket", [0, 3]), ("sse", [1, 4]), ("socketio", [2, 5])]


def test_flush_delivers_everything_at_once_in_order(qtbot):
    owner = QObject()
    bridge = EventBridge(interval_ms=1, parent=owner)
    got: list[tuple[str, list[int]]] = []
    bridge.delivered.connect(lambda t, batch: got.append((t, [e.seq for e in batch])))
    bridge.many([ev("websocket", 1), ev("websocket", 2)])
    bridge.push(ev("sse", 3))
    with qtbot.waitSignal(bridge.delivered, timeout=1000):
        pass  # the timed flush: the WebSocket batch now, SSE's on the next turn
    bridge.push(ev("sse", 4))  # arrives before SSE's first batch was handed over
    bridge.flush()
    assert got == [("websocket", [1, 2]), ("sse", [3]), ("sse", [4])]
