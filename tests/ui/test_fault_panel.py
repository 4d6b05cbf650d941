"""The fault panel: route a tab through the lab's fault proxy, apply faults, see the markers."""

from __future__ import annotations

import json
import sys

import pytest

from tests.helpers import press, wait_until
from transport.loadtest.control import LocustStormSpec
from ui.widgets.fault_panel import FaultPanel


async def routed(tab) -> None:
    """The tab open, then routed through its fault proxy and connected through it."""
    c = tab.controller
    await wait_until(lambda: c.client is not None and c.client.connected, 15, "open")
    tab.faults.route.setChecked(True)
    await wait_until(lambda: c.faults.route.listen is not None and c.client is not None and c.client.connected
                     and c.faults.route.listen in c.client.options.url, 15, "reconnected through the proxy")


def rows(tab, kind):
    return [e for e in tab.timeline.model.events() if e.kind == kind]


async def test_network_fault_through_the_proxy_is_marked_and_loses_nothing(window):
    tab = window.ws_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.faults.route.setChecked(True)
    await wait_until(lambda: tab.controller.faults.route.listen is not None and tab.controller.client is not None
                     and tab.controller.client.connected and tab.controller.faults.route.listen in tab.controller.client.options.url, 15,
                     "reconnected through the proxy")
    assert "routed" in tab.faults.route_info.text()
    received = tab.controller.client.ledger.received
    await wait_until(lambda: tab.controller.client.ledger.received >= received + 5, 10, "traffic through the proxy")
    panel = tab.faults
    panel.form.fault.setCurrentIndex(panel.form.fault.findData("reset_peer"))
    panel.form.duration.setValue(0.3)
    panel.apply_button.click()
    await wait_until(lambda: any("reset_peer" in e.data for e in rows(tab, "fault")), 10, "the marker")
    await wait_until(lambda: any("removed" in e.data for e in rows(tab, "fault")), 10, "the fault undone")
    led = tab.controller.client.ledger
    await wait_until(lambda: led.episodes and led.episodes[-1].recovered and led.received >= received + 20, 20,
                     "recovery")
    assert led.lost == 0 and led.duplicated == 0
    assert tab.faults.plot.attempts >= 1  # the reconnect plotted, next to the fault's marker line
    assert not any("reset_peer" in e.data for e in rows(window.sse_tab, "fault"))  # only this tab is routed


async def test_a_server_fault_is_marked_in_every_timeline_and_network_faults_need_the_route(window):
    tab = window.sse_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    panel = tab.faults
    panel.form.fault.setCurrentIndex(panel.form.fault.findData("latency"))
    panel.apply_button.click()
    await wait_until(lambda: "Route this tab" in tab.status.text(), 10, "the refusal")
    panel.form.fault.setCurrentIndex(panel.form.fault.findData("end_streams"))
    panel.apply_button.click()
    for other in window.transport_tabs:
        await wait_until(lambda other=other: any("end_streams" in e.data for e in rows(other, "fault")), 10,
                         f"the marker on {other.title}")
    await wait_until(lambda: len(rows(tab, "open")) >= 2, 15, "the SSE stream reopened")


async def test_the_ledger_exports_as_json_with_time_to_recover(window, tmp_path):
    import json

    tab = window.stream_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected and tab.controller.client.ledger.received >= 3,
                     15, "open")
    assert tab.controller.client.drop()
    await wait_until(lambda: tab.controller.client.ledger.episodes and tab.controller.client.ledger.episodes[-1].recovered, 15, "recovery")
    await wait_until(lambda: tab.ledger.episodes.rowCount() == 1
                     and tab.ledger.episodes.item(0, 1).text() == "✔ recovered", 5, "the recovered episode row")
    assert float(tab.ledger.episodes.item(0, 8).text()) >= 0  # recover ms
    target = tmp_path / "ledger.json"
    tab.ledger.export(str(target))
    await wait_until(lambda: "Ledger written" in tab.status.text(), 10, "the export")
    data = json.loads(target.read_text())
    assert data["ok"] is True and data["verdict"] == "0 lost, 0 duplicated"
    assert data["episode_list"][0]["recovered"] and data["episode_list"][0]["recover_ms"] >= 0
    assert data["episodes"] == len(data["episode_list"]) and data["recovered"] >= 1  # probe's ledger line, too


async def test_a_storm_of_clients_from_the_faults_page(window):
    tab = window.ws_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.faults.storm_n.setValue(25)
    tab.faults.storm_button.setChecked(True)
    await wait_until(lambda: tab.controller.storm is not None and tab.controller.storm.connected == 25, 15, "25 storm clients")
    await wait_until(lambda: "25/25 connected" in tab.faults.storm_state.text(), 5, "the live count")
    assert any("storm started: 25 clients" in e.data for e in rows(tab, "fault"))
    tab.faults.storm_button.setChecked(False)
    assert tab.controller.storm is None
    await wait_until(lambda: any("storm stopped" in e.data for e in rows(tab, "fault")), 5, "the stop marker")


@pytest.mark.timeout(120)
async def test_a_storm_on_locust_from_the_faults_page_ends_with_every_users_ledger(window):
    """Run on Locust: the GUI starts Locust's master and two workers, shows their live counts, and on Stop
    the users' ledgers are added up in a row of the timeline; the button comes back up by itself."""
    tab = window.ws_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.faults.on_locust.setChecked(True)
    assert tab.faults.storm_n.maximum() == 100_000 and tab.faults.locust_master.isVisibleTo(tab.faults)
    tab.faults.storm_n.setValue(60)
    tab.faults.storm_button.setChecked(True)
    assert tab.controller.storm is None and tab.controller.locust is not None  # not in the GUI's process
    assert "locust" not in sys.modules and "gevent" not in sys.modules
    await wait_until(lambda: "Locust: 60 users" in tab.faults.storm_state.text()
                     and "60 open" in tab.faults.storm_state.text(), 60, "60 users open on Locust")
    tab.faults.storm_button.setChecked(False)
    await wait_until(lambda: tab.controller.locust is None, 60, "the storm's end")
    await wait_until(lambda: any("storm on Locust" in e.data for e in rows(tab, "fault")[1:]), 5, "the end's row")
    ended = [e for e in rows(tab, "fault") if "storm on Locust ended" in e.data]
    assert ended, [e.data for e in rows(tab, "fault")]
    assert ended[0].meta["storm"]["users"] == 60 and ended[0].meta["storm"]["ok"] is True
    assert tab.faults.storm_state.text().startswith("✔ storm on Locust ended: 60 users: ")
    assert not tab.faults.storm_button.isChecked() and tab.faults.storm_button.text() == "Start storm"


def test_a_storm_on_locust_is_asked_for_with_its_users_rate_and_master(qtbot):
    panel = FaultPanel()
    qtbot.addWidget(panel)
    panel.on_locust.setChecked(True)
    panel.storm_n.setValue(20_000)
    panel.locust_rate.setValue(500)
    panel.locust_master.setText(" http://10.0.0.5:8089 ")
    with qtbot.waitSignal(panel.locustStormRequested, timeout=1000) as asked:
        panel.storm_button.setChecked(True)
    assert asked.args[0] == LocustStormSpec(20_000, 500.0, master="http://10.0.0.5:8089")
    assert not panel.on_locust.isEnabled()
    with qtbot.waitSignal(panel.locustStormRequested, timeout=1000) as stopped:
        panel.storm_button.setChecked(False)
    assert stopped.args[0] is None
    panel.on_locust.setChecked(False)
    assert panel.storm_n.maximum() == 1000 and panel.storm_n.value() == 1000  # the in-process storm's bound


async def test_faults_stack_on_live_connections_and_stop_removes_them_all(window):
    from transport.clients.lab_admin import admin_call

    tab = window.stream_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.faults.route.setChecked(True)
    await wait_until(lambda: tab.controller.faults.route.listen is not None and tab.controller.client is not None
                     and tab.controller.client.connected and tab.controller.faults.route.listen in tab.controller.client.options.url, 15, "routed")
    form = tab.faults.form
    form.duration.setValue(0)  # until Stop
    for fault, value in (("latency", 200), ("bandwidth", 50)):
        form.fault.setCurrentIndex(form.fault.findData(fault))
        form.value.setValue(value)
        if fault == "latency":
            assert form.jitter.isVisibleTo(form)
            form.jitter.setValue(50)
        tab.faults.apply_button.click()

    async def toxics() -> list[str]:
        _status, proxy = await admin_call(window.lab.url, window.lab.token, "GET", f"/proxies/{tab.controller.faults.route.name}")
        return sorted(f"{t['type']} {t['attributes'].get('jitter', '')}".strip() for t in proxy["toxics"])

    await wait_until(lambda: {"latency", "bandwidth"} <= {e.data.split()[0] for e in rows(tab, "fault")}, 10,
                     "both markers (each after the lab took its toxic)")
    assert await toxics() == ["bandwidth", "latency 50"]
    await wait_until(lambda: "2 faults running" in tab.faults.state.text(), 5, "both said")
    received = tab.controller.client.ledger.received
    await wait_until(lambda: tab.controller.client.ledger.received >= received + 5, 15, "the feed still flowing, slowed")
    tab.faults.stop_button.click()
    await wait_until(lambda: not tab.controller.faults.running, 10, "both stopped")
    assert await toxics() == []
    await wait_until(lambda: sum("removed" in e.data for e in rows(tab, "fault")) == 2, 5, "two removal markers")


async def test_restart_server_is_marked_in_every_timeline_and_the_server_tab(window):
    tab = window.ws_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.bar.down_s.setValue(1)
    tab.bar.restart_button.click()
    marker = "server fault: restart (1 s down)"
    await wait_until(lambda: all(any(marker in e.data for e in rows(t, "fault")) for t in window.transport_tabs),
                     10, "a marker in every timeline")
    logged = [window.server_tab.log.item(i).text() for i in range(window.server_tab.log.count())]
    # the Server tab's list says it was the whole lab's (not the WebSocket's), and which tab asked
    assert any(f"whole lab (from the WebSocket tab): {marker}" in line for line in logged), logged
    led = tab.controller.client.ledger
    await wait_until(lambda: led.episodes and led.episodes[-1].recovered, 15, "back after the restart")
    assert led.lost == 0 and led.duplicated == 0


async def test_the_fault_route_follows_a_url_change(window):
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from transport.core.urls import host_port

    async def feed(request: web.Request) -> web.WebSocketResponse:  # someone else's server: no Host check
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for seq in range(1, 6):
            await ws.send_str(json.dumps({"seq": seq, "ts": 0, "topic": "other", "body": seq}))
        async for _msg in ws:  # stay open until the client goes
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", feed)
    other = TestServer(app, host="127.0.0.1", port=0)
    await other.start_server()
    try:
        tab = window.ws_tab
        c = tab.controller
        await wait_until(lambda: c.client is not None and c.client.connected, 15, "open")
        tab.faults.route.setChecked(True)
        await wait_until(lambda: c.faults.route.listen is not None and c.client is not None and c.client.connected
                         and c.faults.route.listen in c.client.options.url, 15, "routed to the lab")
        first_upstream = c.faults.route.upstream
        new_url = f"ws://127.0.0.1:{other.port}/ws"
        await press(tab, "Disconnect")
        await wait_until(lambda: c.client is None, 10, "disconnected")
        tab.bar.url.setCurrentText(new_url)
        tab.rules.set_rules("/seq", "auto")  # not the lab: its own numbering, as the user says it
        tab.bar.connect_button.click()
        await wait_until(lambda: c.client is not None and c.client.connected and c.client.ledger.received >= 3, 15,
                         "messages from the new server through the proxy")
        assert c.faults.route.upstream == host_port(new_url) != first_upstream
        assert c.faults.route.listen in c.client.options.url
        assert "routed" in tab.faults.route_info.text() and str(other.port) in tab.faults.route_info.text()
        await wait_until(lambda: any(f"now in front of {host_port(new_url)}" in e.data for e in rows(tab, "fault")),
                         5, "the marker row (one bridge flush behind)")
    finally:
        await window.ws_tab.controller.shutdown()
        await other.close()


async def test_behind_a_firewall_that_refuses_upgrades_the_websocket_tab_says_why_and_sse_still_works(window):
    """The firewall from the Faults page: the WebSocket tab's reconnect meets a 403 and says so; the SSE tab,
    not behind it, goes on."""
    tab = window.ws_tab
    await routed(tab)
    panel = tab.faults
    panel.form.fault.setCurrentIndex(panel.form.fault.findData("preset:firewall"))  # the middlebox preset
    panel.apply_button.click()
    # the open connection was made before the firewall: the tab reconnects and meets it
    await wait_until(lambda: any("reconnects" in e.data for e in rows(tab, "fault")), 10, "the marker")
    await wait_until(lambda: any("403" in str(e.data) for e in tab.timeline.model.events()
                                 if e.kind in ("error", "reconnect", "close")), 15, "the 403 said",
                     state=lambda: [str(e.data)[:80] for e in tab.timeline.model.events()][-5:])
    said = [str(e.data) for e in tab.timeline.model.events() if "403" in str(e.data)]
    # the proxy's own reason, from its answer's body
    assert any(s.endswith("instead of switching to WebSocket: the fault proxy blocks WebSocket upgrades "
                          "(block_upgrade).") for s in said), said
    sse = window.sse_tab.controller.client
    assert sse is not None and sse.connected


async def test_a_message_fault_marks_each_drop_and_the_ledger_names_the_same_seqs(window):
    tab = window.ws_tab
    await routed(tab)
    panel = tab.faults
    panel.form.fault.setCurrentIndex(panel.form.fault.findData("message_drop"))
    panel.form.value.setValue(5)
    panel.form.duration.setValue(0)
    panel.apply_button.click()

    def dropped() -> set[int]:
        return {int(e.data.split("seq ")[1].split()[0]) for e in rows(tab, "fault") if "dropped message seq" in e.data}
    await wait_until(lambda: len(dropped()) >= 3, 20, "three drops marked",
                     state=lambda: [e.data for e in rows(tab, "fault")][-4:])
    panel.stop_button.click()
    await wait_until(lambda: any("removed" in e.data for e in rows(tab, "fault")), 10, "the fault's end marked")
    client = tab.controller.client
    await wait_until(lambda: client is not None and client.ledger.high is not None
                     and client.ledger.high > max(dropped()), 10, "messages after the drops")
    assert client is not None and set(client.ledger.lost_seqs()) == dropped()
    assert "went missing on a live connection" in tab.ledger.verdict.text()
