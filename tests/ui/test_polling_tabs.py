"""The polling family's tabs and the AJAX / postback tab with the real lab process."""

from __future__ import annotations

import pytest

from tests.helpers import drop_then_restart, press, wait_until

TABS = {"short_poll": ("short_poll_tab", "/api/poll"), "long_poll": ("long_poll_tab", "/api/longpoll"),
        "stream": ("stream_tab", "/api/stream")}


def received(tab) -> int:
    return tab.controller.client.ledger.received if tab.controller.client is not None else 0


@pytest.mark.parametrize("transport", list(TABS))
async def test_tab_follows_the_lab_feed_and_shows_bytes_on_the_wire(window, transport):
    name, path = TABS[transport]
    tab = getattr(window, name)
    assert tab.bar.url_text() == window.lab.url + path
    shown = lambda: [e for e in tab.timeline.model.events() if e.kind == "message"]  # noqa: E731
    await wait_until(lambda: len(shown()) >= 5, 15, "message rows")
    rows = tab.timeline.model.events()
    assert {"request", "response", "message"} <= {e.kind for e in rows}
    stats = tab.controller.client.stats
    labels = tab.wire.labels
    assert int(labels["messages"].text().replace(",", "")) >= 5  # updated with the rows
    assert "B" in labels["bytes"].text() and stats.overhead > 0 and stats.payload > 0
    assert "overhead" in labels["per_message"].text()
    if transport == "stream":
        assert any(e.kind == "chunk" for e in rows) and labels["timing"].text() != "—"
    else:
        assert all(e.wire and e.meta["status"] == 200 for e in rows if e.kind == "response")


@pytest.mark.parametrize("transport", list(TABS))
async def test_drop_and_restart_lose_nothing(window, transport):
    tab = getattr(window, TABS[transport][0])
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected and received(tab) >= 5, 15, "open")
    # down longer than a short poll's interval: a shorter outage can fall between two polls unseen
    await drop_then_restart(tab, down_s=3 if transport == "short_poll" else 1)
    led = tab.controller.client.ledger
    assert (led.lost, led.duplicated) == (0, 0) and tab.ledger.verdict.text() == "✔ 0 lost, 0 duplicated"


async def test_a_server_that_answers_something_else_gets_one_sentence(window):
    tab = window.short_poll_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    await press(tab, "Disconnect")
    await wait_until(lambda: tab.controller.client is None, 10, "disconnect")
    tab.bar.url.setCurrentText(window.lab.url + "/")  # a JSON object, not a list
    tab.bar.connect_button.click()
    await wait_until(lambda: "not a list of messages" in tab.status.text(), 10, "the sentence")
    assert "failed" in tab.bar.light.text()


async def test_ajax_change_against_postback_and_a_broadcast_message(window):
    tab = window.ajax_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "ready")
    assert tab.bar.url_text() == window.lab.url and not tab.bar.policy.isVisible()
    tab.value.setText("green")
    tab.both_button.click()
    await wait_until(lambda: "The same change" in tab.status.text(), 10, "the comparison")
    table = tab.compare
    assert [table.item(r, 1).text() for r in range(3)] == ["1", "1", "1"]
    ajax_total = int(table.item(0, 4).text().split()[0].replace(",", ""))
    postback_total = int(table.item(1, 4).text().split()[0].replace(",", ""))
    assert postback_total > 3 * ajax_total
    assert tab.fragment.text().startswith('<span id="session-value"') and ">green<" in tab.fragment.text()
    tab.message.setText('{"topic": "chat", "body": "ajax says hi"}')
    tab.post_button.click()
    ws = window.ws_tab  # broadcast to every transport
    await wait_until(lambda: any("ajax says hi" in e.text() for e in ws.timeline.model.events()), 10,
                     "the message on the WebSocket tab")
    tab.message.setText("{broken")
    tab.post_button.click()
    await wait_until(lambda: "Not valid JSON" in tab.status.text(), 5, "the JSON error")


async def test_the_stream_tab_answered_by_an_event_stream_says_the_sse_tab_reads_it_and_opens_it_there(window):
    tab = window.stream_tab
    window.tabs.setCurrentWidget(tab)
    tab.method.setCurrentText("POST")
    tab.body.setText('{"stream": true, "pace_ms": 1, "tokens": 5}')
    tab.bar.url.setCurrentText(window.lab.url + "/api/chat")
    tab.bar.urlEntered.emit()
    await wait_until(lambda: "the SSE tab reads it" in tab.status.text(), 15, "one sentence",
                     state=lambda: tab.status.text())
    await wait_until(lambda: tab.open_in_sse.isVisibleTo(tab), 5, "the button (one bridge flush behind)")
    tab.open_in_sse.click()
    sse = window.sse_tab
    assert window.tabs.currentWidget() is sse and sse.method.currentText() == "POST"
    assert sse.bar.url_text() == window.lab.url + "/api/chat" and '"tokens": 5' in sse.body.text()
    await wait_until(lambda: any(e.kind == "done" for e in sse.timeline.model.events()), 15, "the answer in the SSE tab")
