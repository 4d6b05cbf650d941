"""The timeline model: batched inserts, one trim at the cap, filter, pause."""

from __future__ import annotations

from PySide6.QtCore import Qt

from transport.core.events import Event
from ui.models.timeline_model import PAYLOAD, TOPIC, WIRE, TimelineModel


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
    e = Event("websocket", "in", "message", seq=7, size=42, wire=44, latency_ms=1.234, data="x\ny", conn=2)
    model.append_events([e])
    row = [model.data(model.index(0, c), Qt.ItemDataRole.DisplayRole) for c in range(11)]
    assert row[1:] == ["2", "← in", "message", "", "", "7", "42", "44", "1.23", "x⏎y"]
    assert len(row[0]) == len("12:00:00.000")


def test_an_envelope_shows_its_topic_and_its_body_not_seq_and_ts_again():
    model = TimelineModel()
    text = '{"seq":7,"ts":1,"topic":"chat","body":{"from":"ana","text":"hi"}}'
    model.append_events([Event("websocket", "in", "message", seq=7, size=len(text), data=text,
                               meta={"topic": "chat"})])
    assert model.data(model.index(0, TOPIC)) == "chat"
    assert model.data(model.index(0, PAYLOAD)) == '{"from": "ana", "text": "hi"}'
    assert model.full_text(0, PAYLOAD) == text  # copy and the tooltip give the whole message


def test_every_header_explains_itself():
    model = TimelineModel()
    tips = [model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
            for c in range(model.columnCount())]
    assert all(tips) and len(set(tips)) == len(tips)


def test_a_shared_read_shows_its_share_as_approximate():
    model = TimelineModel()
    meta = {"type": "message", "last_event_id": "3", "wire_read": 301, "topic": "t"}
    model.append_events([Event("sse", "in", "message", seq=3, size=10, wire=100, data="x", meta=meta),
                         Event("sse", "in", "message", seq=4, size=10, wire=100, data="y",
                               meta={"type": "message", "last_event_id": "4", "topic": "t"})])
    assert model.data(model.index(0, WIRE)) == "≈100" and model.data(model.index(1, WIRE)) == "100"
    assert "301 bytes" in model.data(model.index(0, WIRE), Qt.ItemDataRole.ToolTipRole)
    assert model.event_at(0).meta == meta  # the store keeps the read's total


def test_qualifiers_filter_exactly_and_combine_with_text():
    model = TimelineModel()
    rows = [Event("websocket", "in", "message", conn=c, seq=i, data=f"hello {i}", meta={"topic": topic})
            for i, (c, topic) in enumerate([(1, "chat"), (1, "Chat"), (2, "chat"), (2, "price")])]
    rows.append(Event("websocket", "out", "send", conn=2, data="hello out"))
    model.append_events(rows)
    def shown():
        return [model.event_at(r).data for r in range(model.rowCount())]
    model.set_filter("topic:chat")
    assert shown() == ["hello 0", "hello 2"]  # the topic's case counts
    model.set_filter("topic:chat conn:2")
    assert shown() == ["hello 2"]
    model.set_filter("dir:out hello")
    assert shown() == ["hello out"]
    model.set_filter("kind:message 3")
    assert shown() == ["hello 3"]
    model.append_events([Event("websocket", "in", "message", conn=2, seq=9, data="hello 9", meta={"topic": "price"})])
    assert shown() == ["hello 3"]  # rows arriving later pass the same filter
    model.set_filter("")
    assert model.rowCount() == 6


def test_a_pattern_filters_rows_arriving_later_and_a_broken_one_says_why_and_shows_none():
    model = TimelineModel()
    model.append_events([Event("websocket", "in", "message", seq=i, data=f"hello {i}") for i in range(5)])
    def shown():
        return [model.event_at(r).data for r in range(model.rowCount())]
    model.set_filter(r"/HELLO [13]$/")
    assert shown() == ["hello 1", "hello 3"] and model.filter_problem == ""
    model.append_events([Event("websocket", "in", "message", seq=11, data="hello 11"),
                         Event("websocket", "in", "message", seq=13, data="hello 3")])
    assert shown() == ["hello 1", "hello 3", "hello 3"]
    model.set_filter("/hello [/")
    assert model.rowCount() == 0 and model.filter_problem.startswith("Not a regular expression:")
    model.append_events([Event("websocket", "in", "message", seq=14, data="hello [")])
    assert model.rowCount() == 0  # nothing matches what cannot be read, later rows neither
    model.set_filter("")
    assert model.rowCount() == 8 and model.filter_problem == ""


def test_a_url_carrying_the_session_id_is_marked_but_not_engineio_s_own_sid():
    model = TimelineModel()
    model.append_events([
        Event("websocket", "state", "open", data="ws://127.0.0.1:1/ws?sid=abc"),
        Event("socketio", "out", "request", data="GET http://127.0.0.1:1/socket.io/?EIO=4&transport=polling&sid=x"),
    ])
    role = Qt.ItemDataRole.BackgroundRole
    assert model.data(model.index(0, PAYLOAD), role) is not None  # the login session in a URL: logs keep it
    assert "session id" in model.data(model.index(0, PAYLOAD), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(1, PAYLOAD), role) is None  # the protocol's connection id, by design
