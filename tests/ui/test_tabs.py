"""Every transport tab against a fake client: no lab process, no socket; what a user sees and clicks."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QWidget

from tests.helpers import wait_until
from tests.ui.fakes import FakeClient, fake_controller
from ui.tabs.ajax_tab import AjaxTab
from ui.tabs.feed_tabs import LongPollTab, ShortPollTab, StreamTab
from ui.tabs.sse_tab import SSETab
from ui.tabs.websocket_tab import WebSocketTab

FEED_TABS = [WebSocketTab, SSETab, ShortPollTab, LongPollTab, StreamTab]
URLS = {"websocket": "ws://127.0.0.1:9/ws", "sse": "http://127.0.0.1:9/sse", "short_poll": "http://127.0.0.1:9/p",
        "long_poll": "http://127.0.0.1:9/lp", "stream": "http://127.0.0.1:9/s", "ajax": "http://127.0.0.1:9"}


@pytest.fixture
async def make_tab(qtbot):
    made = []

    def make(cls):
        holder = QWidget()
        controller, _bridge = fake_controller(cls.transport, holder)
        tab = cls(controller._sink, parent=holder, controller=controller)
        tab.bar.url.setCurrentText(URLS[cls.transport])
        said: list[str] = []
        controller.statusMessage.connect(said.append)
        made.append((holder, tab))
        return tab, said

    yield make
    for holder, tab in made:
        await tab.controller.shutdown()
        holder.deleteLater()


def rows(tab, kind):
    return [e for e in tab.timeline.model.events() if e.kind == kind]


@pytest.mark.parametrize("cls", FEED_TABS)
async def test_connect_shows_the_state_the_rows_and_the_ledger(make_tab, cls):
    tab, _said = make_tab(cls)
    tab.bar.connect_button.click()
    await wait_until(lambda: "open" in tab.bar.light.text() and rows(tab, "open"), 5, "open")
    client = FakeClient.made[-1]
    assert client.options.url == URLS[cls.transport]
    assert tab.bar.connect_button.text() == "Disconnect"
    client.deliver(1, 2, 3, 5)
    await wait_until(lambda: len(rows(tab, "message")) == 4, 5, "four rows")
    assert "1 lost" in tab.ledger.verdict.text()  # seq 4 never came
    client.deliver(4)
    await wait_until(lambda: "0 lost, 0 duplicated" in tab.ledger.verdict.text(), 5, "the late one fills the hole")
    tab.bar.connect_button.click()  # Disconnect
    await wait_until(lambda: "closed" in tab.bar.light.text() and tab.controller.client is None, 5, "closed")
    assert tab.bar.connect_button.text() == "Connect"


@pytest.mark.parametrize("cls", FEED_TABS)
async def test_drop_is_marked_and_says_so_when_nothing_is_open(make_tab, cls):
    tab, said = make_tab(cls)
    tab.controller.drop()
    assert said[-1] == f"Nothing to drop: the {tab.title} connection is not open."
    tab.bar.connect_button.click()
    await wait_until(lambda: "open" in tab.bar.light.text(), 5, "open")
    tab.bar.drop_button.click()
    await wait_until(lambda: rows(tab, "fault"), 5, "the drop's row")
    assert FakeClient.made[-1].dropped == 1
    await wait_until(lambda: tab.faults.plot.fault_count == 1, 5, "the drop on the reconnect plot")


async def test_a_bad_header_is_one_sentence_and_no_connection(make_tab):
    tab, said = make_tab(WebSocketTab)
    tab.bar.headers.setText("not a header")
    tab.bar.connect_button.click()
    assert said == ["Header 'not a header' is not of the form 'Name: value'."]
    assert tab.controller.client is None


async def test_network_faults_need_the_route_and_server_faults_need_the_lab(make_tab):
    tab, said = make_tab(SSETab)
    panel = tab.faults
    panel.form.fault.setCurrentIndex(panel.form.fault.findData("latency"))
    panel.apply_button.click()
    await wait_until(lambda: said, 5, "a sentence")
    assert said[-1] == "Route this tab through a fault proxy first (tick the box above)."
    tab.bar.restart_button.setEnabled(True)
    tab.bar.restart_button.click()
    assert said[-1] == "The lab server is not running."
    said.clear()
    panel.route.setChecked(True)  # no lab to host the proxy: said, and the box unticks
    await wait_until(lambda: said, 5, "the route refused")
    assert said == ["The lab server is not running: it hosts the fault proxies."]
    assert not panel.route.isChecked() and "not routed" in panel.route_info.text()


async def test_a_fault_form_that_makes_no_sense_is_refused_with_a_sentence(make_tab):
    tab, said = make_tab(WebSocketTab)
    form = tab.faults.form
    form.fault.setCurrentIndex(form.fault.findData("close_websockets"))
    form.value.setValue(1006)  # a code only the network may report
    tab.faults.apply_button.click()
    assert "1006 is not a close code a server may send" in said[-1]
    assert not tab.controller.faults.running


async def test_the_websocket_send_box_sends_through_the_client(make_tab):
    tab, said = make_tab(WebSocketTab)
    box = tab.send_box
    box.payload.setText("hello")
    box.send_button.click()
    assert said[-1] == "Not connected: connect first, then send."
    tab.bar.connect_button.click()
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 5, "open")
    box.send_button.click()
    await wait_until(lambda: FakeClient.made[-1].sent == ["hello"], 5, "sent")
    await wait_until(lambda: [e.data for e in tab.timeline.model.events() if e.direction == "out"] == ["hello"],
                     5, "the out row")


async def test_sse_learns_event_types_for_its_filter(make_tab):
    tab, _said = make_tab(SSETab)
    tab.bar.connect_button.click()
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 5, "open")
    FakeClient.made[-1].receiver.text('{"seq":1}', 1, meta={"type": "price", "last_event_id": "1"})
    await wait_until(lambda: tab.timeline.type_filter.findData("price") >= 0, 5, "the type offered")


async def test_the_storm_and_the_race_build_their_clients_like_the_tab(make_tab):
    tab, said = make_tab(ShortPollTab)
    tab.interval.setValue(2.5)
    tab.bar.connect_button.click()
    await wait_until(lambda: tab.controller.client is not None, 5, "open")
    before = len(FakeClient.made)
    tab.faults.storm_n.setValue(3)
    tab.faults.storm_button.setChecked(True)
    storm = FakeClient.made[before:]
    assert len(storm) == 3 and all(c.options.interval == 2.5 for c in storm)
    tab.faults.storm_button.setChecked(False)
    tab.faults.race_button.setChecked(True)
    racers = FakeClient.made[before + 3:]
    assert [c.options.policy.describe() for c in racers] == ["fixed 1 s", "exponential 1–5 s ×2 ±50%"]
    tab.faults.race_button.setChecked(False)
    await wait_until(lambda: len(rows(tab, "fault")) == 4, 5, "storm and race started and stopped, marked")


async def test_ajax_tab_connects_without_a_ledger(make_tab):
    tab, _said = make_tab(AjaxTab)
    tab.bar.connect_button.click()
    await wait_until(lambda: "open" in tab.bar.light.text(), 5, "ready")
    assert tab.ledger.isHidden() and tab.faults.race_button.isHidden()


@pytest.mark.parametrize("cls", FEED_TABS)
async def test_enter_in_the_url_box_connects_and_a_new_url_is_a_new_connection(make_tab, qtbot, cls):
    from PySide6.QtCore import Qt

    tab, _said = make_tab(cls)
    edit = tab.bar.url.lineEdit()
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    await wait_until(lambda: "open" in tab.bar.light.text(), 5, "connected by Enter")
    first = FakeClient.made[-1]
    first.deliver(1, 2, 3)
    await wait_until(lambda: len(rows(tab, "message")) == 3, 5, "three rows")
    qtbot.keyClick(edit, Qt.Key.Key_Return)  # the same URL: nothing new
    assert FakeClient.made[-1] is first
    other = URLS[cls.transport].replace(":9/", ":10/").replace(":9", ":10")
    edit.setText(other)
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    await wait_until(lambda: FakeClient.made[-1] is not first and "open" in tab.bar.light.text(), 5,
                     "the new connection")
    assert first.state == "closed" and FakeClient.made[-1].options.url == other
    await wait_until(lambda: rows(tab, "separator"), 5, "the separator row")
    separator = rows(tab, "separator")[0]
    assert other in separator.data and separator.meta["previous"] == URLS[cls.transport]
    assert tab.controller.client.ledger.received == 0  # counters start again with the new connection


async def test_each_tab_says_its_own_sentences_on_its_own_line(make_tab):
    ws, _ = make_tab(WebSocketTab)
    poll, _ = make_tab(ShortPollTab)
    ws.controller.report("WebSocket: something about the WebSocket")
    poll.controller.report("Short polling: connection refused")
    assert ws.status.text().endswith("WebSocket: something about the WebSocket")
    assert poll.status.text().endswith("Short polling: connection refused")
    ws.controller.report("WebSocket: a second sentence")
    assert "something about the WebSocket" in ws.status.toolTip()  # the recent ones stay reachable
