"""The timeline model: batched inserts, one trim at the cap, filter, pause."""

from __future__ import annotations

from PySide6.QtCore import Qt

from transport.events import Event
from ui.models.timeline_model import TimelineModel


def msgs(start: int, n: int, kind: str = "message") -> list[Event]:
    return [Event("websocket", "in", kind, seq=i, size=10, data=f'{{"seq":{i},"topic":"price"}}')
            for i in range(start, start + n)]


def test_qmodeltester_accepts_the_model(qtmodeltester):
    model = TimelineModel(cap=50)
    model.append_events(msgs(1, 30))
    qtmodeltester.check(model)
    model.append_events(msgs(31, 40))  # crosses the cap
    model.set_filter("1")
    qtmodeltester.check(model)


def test_one_insert_per_batch_and_one_removal_at_the_cap(qtbot):
    model = TimelineModel(cap=100)
    inserted, removed = [], []
    model.rowsInserted.connect(lambda _p, a, b: inserted.append((a, b)))
    model.rowsRemoved.connect(lambda _p, a, b: removed.append((a, b)))
    model.append_events(msgs(1, 60))
    model.append_events(msgs(61, 60))
    assert inserted == [(0, 59), (40, 99)]
    assert removed == [(0, 19)]
    assert model.rowCount() == 100 and model.captured == 120
    assert model.event_at(0).seq == 21 and model.event_at(99).seq == 120


def test_filter_matches_payload_kind_and_survives_trimming():
    model = TimelineModel(cap=10)
    model.append_events(msgs(1, 5) + [Event("websocket", "state", "error", data="Connection refused")])
    model.set_filter("REFUSED")
    assert model.rowCount() == 1 and model.event_at(0).kind == "error"
    model.append_events(msgs(6, 20))  # the error row falls off the cap
    assert model.rowCount() == 0
    model.append_events([Event("websocket", "state", "error", data="refused again")])
    assert model.rowCount() == 1
    model.set_filter("")
    assert model.rowCount() == 10


def test_pause_keeps_capturing_and_counts_what_waits():
    model = TimelineModel()
    model.append_events(msgs(1, 3))
    model.set_paused(True)
    model.append_events(msgs(4, 5))
    assert model.rowCount() == 3 and model.waiting == 5 and model.captured == 8
    model.set_paused(False)
    assert model.rowCount() == 8 and model.waiting == 0


def test_display_columns_show_the_record():
    model = TimelineModel()
    e = Event("websocket", "in", "message", seq=7, size=42, wire=44, latency_ms=1.234, data="x\ny")
    model.append_events([e])
    row = [model.data(model.index(0, c), Qt.ItemDataRole.DisplayRole) for c in range(8)]
    assert row[1:] == ["← in", "message", "7", "42", "44", "1.23", "x⏎y"]
    assert len(row[0]) == len("12:00:00.000")
