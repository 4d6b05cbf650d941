"""The Socket.IO tab in the window with the real lab: connect, the upgrade, events by name, emit with an ack."""

from __future__ import annotations

from tests.helpers import wait_until
from ui.models.timeline_model import EVENT, KIND
from ui.tabs.socketio_tab import parse_args


def test_composer_arguments():
    assert parse_args("") == [] and parse_args('{"a": 1}') == [{"a": 1}] and parse_args('["x", 2]') == ["x", 2]


async def test_connects_upgrades_shows_events_by_name_and_emits_with_an_ack(window):
    tab = window.socketio_tab
    window.tabs.setCurrentWidget(tab)
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "connected")
    await wait_until(lambda: tab.controller.client.via == "websocket", 10, "the upgrade")
    model = tab.timeline.model
    await wait_until(lambda: any(e.kind == "message" for e in model.events()), 10, "feed events")
    rows = model.events()
    row = next(i for i, e in enumerate(rows) if e.kind == "message")
    assert model.data(model.index(row, KIND)) == "message"
    assert model.data(model.index(row, EVENT)) == rows[row].meta["event"] != ""  # the Event column names it
    assert not tab.timeline.table.isColumnHidden(EVENT)
    assert any(e.kind == "upgrade" for e in rows) and any(e.kind == "handshake" for e in rows)
    tab.event.setText("chat")
    tab.args.setText('{"text": "hello from the tab"}')
    tab.emit_button.click()
    await wait_until(lambda: "acknowledged" in tab.status.text(), 10, "the ack")
    assert '"ok": true' in tab.status.text()
    await wait_until(lambda: any(e.kind == "ack" for e in model.events()), 5, "the ack row")
    tab.args.setText("{not json")
    tab.emit_button.click()
    assert "not JSON" in tab.status.text()
