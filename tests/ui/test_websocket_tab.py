"""The window with its real lab process: the WebSocket tab as a user drives it."""

from __future__ import annotations

import json


from tests.helpers import drop_then_restart, press, wait_until
from ui.models.timeline_model import SEQ, TOPIC


def incoming(tab):
    return [e for e in tab.timeline.model.events() if e.direction == "in"]


async def test_opens_with_the_lab_running_and_the_feed_flowing(window):
    assert window.lab_label.text() == f"Lab server: {window.lab.url}"
    assert window.lab.url.startswith("http://127.0.0.1:")
    tab = window.ws_tab
    assert tab.bar.url_text() == window.lab.url.replace("http://", "ws://") + "/ws"
    await wait_until(lambda: len(incoming(tab)) >= 5, 15, "live rows")
    assert "open" in tab.bar.light.text()
    model = tab.timeline.model
    first = incoming(tab)[0]
    row = model.events().index(first)
    assert model.data(model.index(row, SEQ)) == str(first.seq)
    assert model.data(model.index(row, TOPIC)) == first.meta["topic"]
    # selecting a row shows pretty JSON, raw text and hex
    tab.timeline.table.selectRow(row)
    assert json.loads(tab.timeline.detail.pretty.toPlainText())["seq"] == first.seq
    assert "\n  " in tab.timeline.detail.pretty.toPlainText()
    assert tab.timeline.detail.hex.toPlainText().startswith("00000000  7b")


async def test_send_text_json_and_binary_appear_as_out_rows(window):
    tab = window.ws_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    box = tab.send_box
    for kind, text in (("text", "hello"), ("json", '{"topic": "chat", "body": "hi"}'), ("binary", "de ad")):
        box.kind.setCurrentIndex(box.kind.findData(kind))
        box.payload.setText(text)
        box.send_button.click()
        await wait_until(lambda: any(e.direction == "out" and e.data in (text, b"\xde\xad")
                                     for e in tab.timeline.model.events()), 5, f"{kind} out row")
    outs = [e.data for e in tab.timeline.model.events() if e.direction == "out"]
    assert outs == ["hello", '{"topic": "chat", "body": "hi"}', b"\xde\xad"]
    # a bad hex string is refused with a sentence, nothing sent
    box.kind.setCurrentIndex(box.kind.findData("binary"))
    box.payload.setText("zz")
    box.send_button.click()
    assert "hex" in tab.status.text()


async def test_filter_and_pause_view(window):
    tab = window.ws_tab
    tl = tab.timeline
    await wait_until(lambda: len(incoming(tab)) >= 4, 15, "rows")
    tl.filter_edit.setText("likes")
    assert tl.model.rowCount() > 0
    assert all("likes" in tl.model.event_at(r).text() for r in range(tl.model.rowCount()))
    tl.filter_edit.setText("")
    tl.pause_button.click()
    shown = tl.model.rowCount()
    await wait_until(lambda: tl.model.waiting >= 3, 10, "waiting rows")
    assert tl.model.rowCount() == shown and "waiting" in tl.counts.text()
    tl.pause_button.click()
    assert tl.model.rowCount() >= shown + 3 and tl.model.waiting == 0


async def test_drop_and_restart_buttons_recover_with_nothing_lost(window):
    tab = window.ws_tab
    led = lambda: tab.controller.client.ledger  # noqa: E731
    tab.bar.policy.setCurrentIndex(tab.bar.policy.findData("fixed"))
    tab.bar.interval.setValue(0.1)
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    # the policy applies from the next connection: reconnect with it
    await press(tab, "Disconnect")
    await wait_until(lambda: tab.controller.client is None, 10, "disconnect")
    tab.bar.connect_button.click()
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected and led().received >= 10, 15, "open")
    await drop_then_restart(tab)
    assert led().lost == 0 and led().duplicated == 0
    panel = tab.ledger
    assert panel.verdict.text() == "✔ 0 lost, 0 duplicated"
    assert panel.values["episodes"].text() == "2"
    assert panel.episodes.rowCount() == 2
    kinds = [e.kind for e in tab.timeline.model.events() if e.direction == "state"]
    assert "fault" in kinds and "reconnect" in kinds and kinds.count("open") >= 3


async def test_invalid_url_gives_one_sentence_and_the_app_stays_usable(window):
    tab = window.ws_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.bar.connect_button.click()  # disconnect
    await wait_until(lambda: tab.controller.client is None, 10, "disconnect")
    tab.bar.url.setCurrentText("http://example.invalid/ws")
    tab.bar.connect_button.click()
    await wait_until(lambda: "Invalid URL" in tab.status.text(), 5, "status message")
    errors = lambda: [e for e in tab.timeline.model.events() if e.kind == "error"]  # noqa: E731
    await wait_until(lambda: errors(), 5, "the error row")
    assert "ws:// or wss://" in errors()[-1].data
    assert "failed" in tab.bar.light.text()
    tab.bar.url.setCurrentText(window.lab.url.replace("http://", "ws://") + "/ws")
    tab.bar.connect_button.click()
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "usable again")


async def test_bad_header_is_refused_before_connecting(window):
    tab = window.ws_tab
    await wait_until(lambda: tab.controller.client is not None, 15, "client")
    tab.bar.connect_button.click()
    await wait_until(lambda: tab.controller.client is None, 10, "disconnect")
    tab.bar.headers.setText("not a header")
    tab.bar.connect_button.click()
    assert tab.controller.client is None
    assert "is not of the form 'Name: value'" in tab.status.text()


async def test_recent_urls_persist_except_the_lab_of_this_launch(window):
    tab = window.ws_tab
    tab.bar.remember_url("ws://127.0.0.1:8000/my-own-server")
    window.save_settings()
    saved = window.settings.value("websocket/recent_urls")
    saved = [saved] if isinstance(saved, str) else saved
    assert "ws://127.0.0.1:8000/my-own-server" in saved
    assert window.lab.url.replace("http://", "ws://") + "/ws" not in saved
