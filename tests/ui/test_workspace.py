"""Workspaces: the connections and saved messages of every tab in a versioned JSON file, round trip."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings, Qt

from tests.helpers import wait_until
from ui.main_window import MainWindow
from ui.widgets.send_box import SendBox
from ui.workspace import FORMAT, Connection, SavedMessage, Workspace, WorkspaceError, loads


def make(qtbot, tmp_path, name="duplex.ini", **kw) -> MainWindow:
    settings = QSettings(str(tmp_path / name), QSettings.Format.IniFormat)
    w = MainWindow(rate=5, start_lab=False, settings=settings, **kw)
    qtbot.addWidget(w)
    return w


def test_the_format_round_trips_and_keeps_kinds_it_does_not_know():
    ws = Workspace([Connection("websocket", "ws://127.0.0.1:9000/feed", [("X-Token", "abc")], ["chat"], "fixed", 2.5,
                               False, "query", [SavedMessage("hi", '{"a": 1}', "json")]),
                    Connection("mqtt", unknown={"kind": "mqtt", "url": "mqtt://x/", "topic": "/chat"})])
    text = ws.dumps()
    assert text.endswith("}\n") and json.loads(text)["duplex_workspace"] == FORMAT
    again = loads(text)
    assert again == ws and again.dumps() == text  # stable: an unchanged workspace saves to the same bytes
    assert again.unknown_kinds == ["mqtt"]


@pytest.mark.parametrize("text, says", [
    ("not json", "is not JSON"),
    ('{"connections": []}', "not a Duplex workspace"),
    ('{"duplex_workspace": 99, "connections": []}', "newer Duplex"),
    ('{"duplex_workspace": 1, "connections": [{"kind": "websocket", "headers": "X: y"}]}', '"headers" must be a list'),
    ('{"duplex_workspace": 1, "connections": [{"kind": "sse", "policy": "sometimes"}]}', '"policy" must be one of'),
    ('{"duplex_workspace": 1, "connections": [{"kind": "sse", "interval_s": 1e9}]}', "from 0.1 to 60"),
    ('{"duplex_workspace": 1, "connections": [{"kind": "sse", "resume_rule": "message:{seq}"}]}',
     "needs WebSocket or Socket.IO"),
    ('{"duplex_workspace": 1, "connections": [{"kind": "websocket", "seq_rule": "re:("}]}', "does not compile"),
])
def test_a_bad_workspace_is_one_clear_sentence(text, says):
    with pytest.raises(WorkspaceError) as err:
        loads(text, "w.json")
    assert says in err.value.sentence and err.value.sentence.startswith("w.json")


async def test_save_and_open_a_workspace_round_trip(qtbot, tmp_path):
    first = make(qtbot, tmp_path)
    ws = first.ws_tab
    ws.bar.remember_url("ws://127.0.0.1:9/echo")
    ws.bar.headers.setText("X-Token: abc; X-Other: 2")
    ws.bar.subprotocols.setText("chat, v2")
    ws.bar.policy.setCurrentIndex(ws.bar.policy.findData("fixed"))
    ws.bar.interval.setValue(2.5)
    ws.rules.set_rules("/data/seq", "query:since")  # how that server numbers and resumes (it is not the lab)
    ws.send_box.payload.setText('{"topic": "chat", "body": "hello"}')
    ws.send_box.kind.setCurrentIndex(ws.send_box.kind.findData("json"))
    ws.send_box.save_button.click()
    # what the stream, SSE and Socket.IO tabs have beyond the bar
    first.stream_tab.method.setCurrentText("POST")
    first.stream_tab.body.setText('{"q": 1}')
    first.sse_tab.method.setCurrentText("POST")
    first.sse_tab.body.setText('{"stream": true}')
    first.sse_tab.content_type.setText("application/json; charset=utf-8")
    first.sse_tab.retry_post.setChecked(True)
    sio = first.socketio_tab
    sio.namespace.setText("/chat")
    sio.auth.setText('{"token": "t"}')
    sio.modes.setCurrentIndex(sio.modes.findData("polling"))
    path = tmp_path / "team.duplex.json"
    await first.workspaces.save(first.commands.workspace(), str(path))
    saved = json.loads(path.read_text())
    conn = next(c for c in saved["connections"] if c["kind"] == "websocket")
    assert conn["url"] == "ws://127.0.0.1:9/echo" and conn["headers"] == [["X-Token", "abc"], ["X-Other", "2"]]
    assert conn["subprotocols"] == ["chat", "v2"] and (conn["policy"], conn["interval_s"]) == ("fixed", 2.5)
    assert (conn["seq_rule"], conn["resume_rule"]) == ("/data/seq", "query:since")
    assert conn["messages"] == [{"name": '{"topic": "chat", "body": "hello"}', "kind": "json",
                                 "payload": '{"topic": "chat", "body": "hello"}'}]
    sse = next(c for c in saved["connections"] if c["kind"] == "sse")
    assert sse["url"] == ""  # nothing typed: the lab's own endpoint, whatever its port next time

    second = make(qtbot, tmp_path, "other.ini")
    await second.workspaces.open(str(path))
    tab = second.ws_tab
    assert tab.bar.url_text() == "ws://127.0.0.1:9/echo"
    assert tab.bar.header_pairs() == [("X-Token", "abc"), ("X-Other", "2")]
    assert tab.bar.subprotocol_list() == ["chat", "v2"] and tab.bar.policy.currentData() == "fixed"
    assert tab.rules.rules() == {"seq_rule": "/data/seq", "resume_rule": "query:since"}
    assert {"seq_rule": "/data/seq", "resume_rule": "query:since"}.items() <= tab.client_options().items()
    assert [m.payload for m in tab.send_box.saved_messages()] == ['{"topic": "chat", "body": "hello"}']
    assert second.settings.value("workspace/last") == str(path)
    assert (second.stream_tab.method.currentText(), second.stream_tab.body.text()) == ("POST", '{"q": 1}')
    sse2 = second.sse_tab
    assert (sse2.method.currentText(), sse2.body.text(), sse2.content_type.text(), sse2.retry_post.isChecked()) == (
        "POST", '{"stream": true}', "application/json; charset=utf-8", True)
    sio2 = second.socketio_tab
    assert (sio2.namespace.text(), sio2.auth.text(), sio2.modes.currentData()) == ("/chat", '{"token": "t"}', "polling")
    await second.workspaces.save(second.commands.workspace(), str(tmp_path / "again.json"))
    assert (tmp_path / "again.json").read_text() == path.read_text()  # nothing lost, nothing reordered
    for w in (first, second):
        await w.shutdown()


async def test_the_last_workspace_reopens_at_start_but_not_for_smoke(qtbot, tmp_path):
    path = tmp_path / "w.json"
    path.write_text(Workspace([Connection("stream", "http://127.0.0.1:9/ndjson")]).dumps())
    settings = QSettings(str(tmp_path / "duplex.ini"), QSettings.Format.IniFormat)
    settings.setValue("workspace/last", str(path))
    smoke = MainWindow(rate=5, start_lab=False, settings=settings, workspace=False)
    qtbot.addWidget(smoke)
    assert smoke.stream_tab.bar.url_text() != "http://127.0.0.1:9/ndjson"
    w = MainWindow(rate=5, start_lab=False, settings=settings)
    qtbot.addWidget(w)
    await wait_until(lambda: w.stream_tab.bar.url_text() == "http://127.0.0.1:9/ndjson", 5, "the workspace")
    for x in (smoke, w):
        await x.shutdown()


async def test_a_broken_workspace_is_said_and_nothing_changes(qtbot, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"duplex_workspace": 1, "connections": [{"kind": "websocket", "url": 5}]}')
    w = make(qtbot, tmp_path)
    said = []
    w.workspaces.said.connect(said.append)
    before = w.ws_tab.bar.url_text()
    task = w.workspaces.open(str(path))
    await wait_until(lambda: task.done() and said, 5, "a sentence")
    assert '"url" must be a string' in said[-1] and w.ws_tab.bar.url_text() == before
    await w.shutdown()


def test_a_saved_message_is_picked_edited_and_sent_in_two_clicks(qtbot):
    box = SendBox()
    qtbot.addWidget(box)
    box.set_saved([SavedMessage("greeting", '{"topic": "chat", "body": "hi"}', "json")])
    box.saved.activated.emit(1)  # click 1: pick it (it fills the editor)
    assert box.payload.text() == '{"topic": "chat", "body": "hi"}' and box.kind.currentData() == "json"
    box.payload.setText('{"topic": "chat", "body": "hi again"}')  # edit
    with qtbot.waitSignal(box.sendRequested, timeout=1000) as sent:
        qtbot.mouseClick(box.send_button, Qt.MouseButton.LeftButton)  # click 2: Send
    assert sent.args == ["json", '{"topic": "chat", "body": "hi again"}']


def test_a_workspace_nested_100000_deep_or_a_fifo_is_one_sentence(tmp_path):
    import os

    from ui.controllers.workspace import read_bounded
    from ui.workspace import WorkspaceError, loads

    with pytest.raises(WorkspaceError, match="nests too deep"):
        loads("[" * 100_000 + "]" * 100_000, "deep.json")
    fifo = tmp_path / "w.duplex.json"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        read_bounded(str(fifo))
