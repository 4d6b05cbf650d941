"""A row's context menu (copy three ways, resend, filter by its topic, event, kind or connection), the
Event column, the column chooser, and the tooltip that shows cut text whole."""

import json

from PySide6.QtCore import QEvent
from PySide6.QtGui import QGuiApplication, QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from transport.core.events import Event
from ui.models.timeline_model import COLUMNS, EVENT, KIND, PAYLOAD, TOPIC
from ui.widgets.timeline import TimelineWidget

BODY = {"from": "ana", "text": "a long message " * 20}
ENVELOPE = json.dumps({"seq": 4, "ts": 1, "topic": "chat", "body": BODY}, separators=(",", ":"))


def make(qtbot) -> TimelineWidget:
    w = TimelineWidget(1000)
    qtbot.addWidget(w)
    w.resize(900, 500)
    w.show()
    qtbot.waitExposed(w)
    w.append_events([
        Event("websocket", "in", "message", 1, 3, 4, len(ENVELOPE), len(ENVELOPE) + 4, None, ENVELOPE,
              {"topic": "chat"}),
        Event("websocket", "out", "send", 2, 3, None, 5, 11, None, "hello", {}),
        Event("websocket", "in", "message", 3, 5, 5, 2, 4, None, '{"seq":5,"ts":1,"topic":"price","body":1}',
              {"topic": "price"}),
    ])
    return w


def action(menu, prefix: str):
    found = [a for a in menu.actions() if a.text().startswith(prefix)]
    assert found, [a.text() for a in menu.actions()]
    return found[0]


def test_copy_payload_pretty_json_and_the_row_as_a_json_line(qtbot):
    w = make(qtbot)
    menu = w.row_menu(0)
    clipboard = QGuiApplication.clipboard()
    action(menu, "Copy payload").trigger()
    assert clipboard.text() == ENVELOPE
    action(menu, "Copy as pretty JSON").trigger()
    assert json.loads(clipboard.text())["body"] == BODY and "\n  " in clipboard.text()
    action(menu, "Copy row as JSON line").trigger()
    line = json.loads(clipboard.text())
    assert (line["seq"], line["kind"], line["data"], line["meta"]["topic"]) == (4, "message", ENVELOPE, "chat")


def test_filter_by_topic_kind_and_connection_from_a_row(qtbot):
    w = make(qtbot)
    action(w.row_menu(0), "Filter by topic").trigger()
    assert w.filter_edit.text() == "topic:chat" and w.model.rowCount() == 1
    w.filter_edit.clear()
    action(w.row_menu(2), "Filter by connection").trigger()
    assert w.filter_edit.text() == "conn:5" and w.model.rowCount() == 1
    action(w.row_menu(0), "Filter by kind").trigger()  # narrows further
    assert w.filter_edit.text() == "conn:5 kind:message" and w.model.rowCount() == 1
    action(w.row_menu(0), "Filter by connection").trigger()  # one of a kind: it replaces its like
    assert w.filter_edit.text() == "kind:message conn:5"


def test_resend_is_offered_on_outgoing_rows_of_a_tab_that_can_send(qtbot):
    w = make(qtbot)
    assert not [a for a in w.row_menu(1).actions() if a.text() == "Resend"]  # this timeline cannot send
    w.can_resend = True
    assert not [a for a in w.row_menu(0).actions() if a.text() == "Resend"]  # incoming: nothing to resend
    with qtbot.waitSignal(w.resendRequested, timeout=1000) as sent:
        action(w.row_menu(1), "Resend").trigger()
    assert sent.args[0].data == "hello"


def socketio_rows() -> list[Event]:
    return [Event("socketio", "in", "message", 1, 1, 7, 30, 40, None, '{"seq":7,"topic":"price","body":1}',
                  {"event": "price", "topic": "price"}),
            Event("socketio", "in", "message", 2, 1, 8, 30, 40, None, '{"seq":8,"topic":"chat","body":"hi"}',
                  {"event": "chat", "topic": "chat"}),
            Event("socketio", "in", "ack", 3, 1, None, 9, 12, None, '[{"ok":true}]', {}),
            Event("socketio", "in", "message", 4, 1, None, 10, 12, None, '["hi"]', {"event": "hello there"})]


def test_the_event_column_names_each_event_and_filters_by_it(qtbot):
    w = TimelineWidget(1000, event_names=True)
    qtbot.addWidget(w)
    w.append_events(socketio_rows())
    assert not w.table.isColumnHidden(EVENT)
    assert [w.model.data(w.model.index(r, EVENT)) for r in range(4)] == ["price", "chat", "", "hello there"]
    assert not [a for a in w.row_menu(3).actions() if a.text().startswith("Filter by event")]  # a space
    action(w.row_menu(1), "Filter by event “chat”").trigger()
    assert w.filter_edit.text() == "event:chat" and w.model.rowCount() == 1
    w.filter_edit.setText("hello")  # free text finds an event's name too
    assert w.model.rowCount() == 1 and w.model.event_at(0).seq is None


def test_the_column_chooser_hides_and_shows_columns(qtbot):
    w = make(qtbot)
    menu = w.columns_menu()
    # Payload always stays; Event is not offered where no row can have a name (a WebSocket timeline)
    assert [a.text() for a in menu.actions()] == [c for c in COLUMNS[:-1] if c not in ("Event", "Conn")]
    assert w.table.isColumnHidden(EVENT)
    with qtbot.waitSignal(w.columnsChanged, timeout=1000) as changed:
        action(menu, "Topic").trigger()
    assert w.table.isColumnHidden(TOPIC) and changed.args[0] == ["Topic"]
    w.set_hidden_columns([])
    assert not w.table.isColumnHidden(TOPIC) and w.table.isColumnHidden(EVENT)


def test_a_hidden_event_column_stays_hidden_through_a_timeline_without_one(qtbot):
    plain, named = make(qtbot), TimelineWidget(1000, event_names=True)
    qtbot.addWidget(named)
    assert "Event" in [a.text() for a in named.columns_menu().actions()]
    for w in (plain, named):
        w.set_hidden_columns(["Event"])
    assert named.table.isColumnHidden(EVENT)
    with qtbot.waitSignal(plain.columnsChanged, timeout=1000) as changed:
        action(plain.columns_menu(), "Seq").trigger()
    assert changed.args[0] == ["Event", "Seq"]  # the choice made elsewhere is kept


def test_cut_text_shows_whole_as_its_tooltip(qtbot):
    w = make(qtbot)
    w.table.setColumnWidth(PAYLOAD, 80)
    rect = w.table.visualRect(w.model.index(0, PAYLOAD))
    pos = rect.center()
    event = QHelpEvent(QEvent.Type.ToolTip, pos, w.table.viewport().mapToGlobal(pos))
    QApplication.sendEvent(w.table.viewport(), event)
    assert QToolTip.text() == ENVELOPE  # the whole message, its seq and ts included
    short = w.table.visualRect(w.model.index(2, TOPIC)).center()  # "price" fits: no tooltip of it
    QApplication.sendEvent(w.table.viewport(),
                           QHelpEvent(QEvent.Type.ToolTip, short, w.table.viewport().mapToGlobal(short)))
    assert QToolTip.text() != "price"


def test_right_click_opens_the_row_menu(qtbot):
    w = make(qtbot)
    pos = w.table.visualRect(w.model.index(0, KIND)).center()
    w.table.customContextMenuRequested.emit(pos)
    menus = [m for m in w.findChildren(type(w.row_menu(0))) if m.isVisible()]
    assert menus and menus[0].actions()[0].text() == "Copy payload"
    menus[0].close()
