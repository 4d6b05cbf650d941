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
    # the rows reach the model one bridge flush after the client switched: wait for them, not for the switch
    await wait_until(lambda: any(e.kind == "upgrade" for e in model.events()), 10, "the upgrade's row")
    rows = model.events()
    row = next(i for i, e in enumerate(rows) if e.kind == "message")
    assert model.data(model.index(row, KIND)) == "message"
    assert model.data(model.index(row, EVENT)) == rows[row].meta["event"] != ""  # the Event column names it
    assert not tab.timeline.table.isColumnHidden(EVENT)
    assert any(e.kind == "upgrade" for e in rows) and any(e.kind == "handshake" for e in rows), " | ".join(f"{e.kind}: {str(e.data)[:70]}" for e in rows if e.kind not in ("message",))[:3000]
    tab.event_name.setText("chat")
    tab.args.setText('{"text": "hello from the tab"}')
    tab.emit_button.click()
    await wait_until(lambda: "acknowledged" in tab.status.text(), 10, "the ack")
    assert '"ok": true' in tab.status.text()
    await wait_until(lambda: any(e.kind == "ack" for e in model.events()), 5, "the ack row")
    tab.args.setText("{not json")
    tab.emit_button.click()
    assert "not JSON" in tab.status.text()


async def test_the_servers_pings_are_answered_in_the_window_and_nothing_reconnects(window):
    """Node's socket.io pinging every 2 s with a 2 s timeout, watched from the window (the qasync loop, whose
    call_later handles have no when(): pings were lost there, and the tab dropped every pingInterval +
    pingTimeout). Past three pings: ping and pong rows, one connection, no reconnect."""
    import asyncio
    import json
    import shutil
    from pathlib import Path

    import pytest

    peer = Path(__file__).resolve().parents[1] / "data" / "socketio_recovery"
    if shutil.which("node") is None or not (peer / "node_modules" / "socket.io").is_dir():
        pytest.skip("node and tests/data/socketio_recovery's npm packages are needed; .ci/run installs them")
    proc = await asyncio.create_subprocess_exec("node", "server.js", cwd=peer, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        port = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))["port"]
        tab = window.socketio_tab
        window.tabs.setCurrentWidget(tab)
        tab.modes.setCurrentIndex(tab.modes.findData("websocket"))
        tab.bar.remember_url(f"http://127.0.0.1:{port}")
        tab.connect_client(new_connection=True)
        model = tab.timeline.model

        def rows(kind: str) -> list:
            client = tab.controller.client
            return [e for e in model.events() if e.kind == kind and client is not None and e.conn >= 1
                    and tab.controller.url.endswith(str(port))]

        await wait_until(lambda: len(rows("ping")) >= 3 and len(rows("pong")) >= 3, 20, "three pings answered",
                         state=lambda: (tab.controller.url, getattr(tab.controller.client, "state", None),
                                        [f"{e.conn} {e.direction} {e.kind}: {str(e.data)[:60]}" for e in model.events()
                                         if e.kind != "message"][-10:]))
        client = tab.controller.client
        assert client is not None and client.connected and client.via == "websocket"
        mine = [e for e in model.events() if e.kind in ("open", "reconnect", "close")][-3:]
        assert not [e for e in mine if e.kind in ("reconnect", "close")], [e.data for e in mine]
        # none missed: a gap past pingInterval + pingTimeout (4 s) is a ping the window lost (a busy machine may
        # make one a little late: that is the row's "late" flag, not a loss)
        assert not [e for e in rows("ping") if (e.meta.get("gap_ms") or 0) >= 4000], [e.data for e in rows("ping")]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 10)
