"""The Server tab: the lab process's view, kill and restart with or without history, the scenario runner;
and the reconnect policies raced side by side on a transport tab."""

from __future__ import annotations

from tests.helpers import wait_until


def rows(tab, kind):
    return [e for e in tab.timeline.model.events() if e.kind == kind]


async def test_the_server_tab_shows_the_process_and_its_connections(window):
    server = window.server_tab
    await wait_until(lambda: window.ws_tab.controller.client is not None and window.ws_tab.controller.client.connected, 15, "open")
    await wait_until(lambda: "MB resident" in server.process.text() and "WebSocket 1" in server.connections.text(),
                     10, "the lab's stats")
    assert f"pid {window.lab.pid()}" in server.process.text() and "history file" in server.address.text()
    await wait_until(lambda: len(server.chart.series("open", "websocket")) >= 2, 10, "two samples on the chart")
    assert server.chart.series("open", "websocket")[-1] == 1
    await wait_until(lambda: server.chart.series("rate", "short_poll")[-1] > 0, 10, "short polls per second")
    assert server.sessions.rowCount() == 0  # nobody logged in


async def test_kill_and_restart_keeping_history_loses_nothing(window):
    ws = window.ws_tab
    feeds = (ws, window.sse_tab, window.short_poll_tab, window.long_poll_tab, window.stream_tab)
    for tab in feeds:
        await wait_until(lambda tab=tab: tab.controller.client is not None and tab.controller.client.ledger.received >= 10, 15, "traffic")
    old_pid = window.lab.pid()
    before = {tab: tab.controller.client.ledger.received for tab in feeds}
    window.server_tab.kill_down.setValue(0.5)
    window.server_tab.kill_button.click()
    await wait_until(lambda: any("back on" in e.data for e in rows(ws, "fault")), 20, "a new lab process")
    assert window.lab.pid() != old_pid
    assert any("history kept, last seq" in e.data for e in rows(ws, "fault"))
    for tab in feeds:  # short polls may not notice a short outage between two polls: no episode, no loss
        led = tab.controller.client.ledger
        await wait_until(lambda led=led, tab=tab: led.received >= before[tab] + 60
                         and all(ep.recovered for ep in led.episodes), 20, f"{tab.title} carried on")
        assert led.lost == 0 and led.duplicated == 0 and led.resets == 0, tab.title
    assert window.server_tab.log.count() >= 2  # killed, back
    for tab in feeds:  # a status that described the outage is replaced once the tab is connected again
        await wait_until(lambda tab=tab: "refused" not in tab.status.text() and "no answer" not in tab.status.text(),
                         10, f"{tab.title}'s status after the outage", state=lambda tab=tab: tab.status.text())


async def test_kill_without_history_is_a_declared_reset_not_duplicates(window):
    ws = window.ws_tab
    feeds = (ws, window.sse_tab, window.short_poll_tab, window.long_poll_tab, window.stream_tab)
    for tab in feeds:
        await wait_until(lambda tab=tab: tab.controller.client is not None and tab.controller.client.ledger.received >= 10, 15, "traffic")
    window.server_tab.kill_down.setValue(0.3)
    window.server_tab.kill_keep.setChecked(False)
    window.server_tab.kill_button.click()
    await wait_until(lambda: any("no history" in e.data for e in rows(ws, "fault")), 20, "a new, empty lab")
    for tab in feeds:  # each echoes the old numbering (Duplex-Epoch): the new lab declares the reset
        led = tab.controller.client.ledger
        await wait_until(lambda led=led: led.resets == 1 and all(ep.recovered for ep in led.episodes)
                         and led.high is not None and led.high >= 20, 20, f"{tab.title}: the reset, then live")
        await wait_until(lambda tab=tab: rows(tab, "gap"), 5, f"{tab.title}: the gap row")
        gap = rows(tab, "gap")[-1]
        assert gap.meta["reset"] is True and "restarted without its history" in gap.meta["sentence"], tab.title
        assert led.duplicated == 0 and "numbered from 1 again" in led.verdict(), tab.title


async def test_a_routed_tab_gets_its_proxy_back_after_a_kill(window):
    tab = window.long_poll_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.faults.route.setChecked(True)
    await wait_until(lambda: tab.controller.faults.route.listen is not None and tab.controller.client is not None
                     and tab.controller.faults.route.listen in tab.controller.client.options.url, 15, "routed")
    listen = tab.controller.faults.route.listen
    window.lab.kill(0.3, True)
    await wait_until(lambda: any("made again" in e.data for e in rows(tab, "fault")), 20, "the proxy made again")
    received = tab.controller.client.ledger.received
    await wait_until(lambda: tab.controller.client.ledger.received >= received + 10, 20, "traffic through it again")
    assert tab.controller.faults.route.listen == listen and tab.controller.client.ledger.lost == 0


async def test_a_scenario_runs_its_steps_on_schedule_and_marks_every_timeline(window):
    server = window.server_tab
    await wait_until(lambda: window.ws_tab.controller.client is not None and window.ws_tab.controller.client.connected, 15, "open")
    form = server.form
    form.fault.setCurrentIndex(form.fault.findData("close_websockets"))
    form.value.setValue(4000)
    form.every.setValue(0.5)
    form.span.setValue(1.0)
    server.add_button.click()
    form.fault.setCurrentIndex(form.fault.findData("end_streams"))
    form.every.setValue(0.0)
    server.add_button.click()
    assert server.steps.count() == 2 and "code" in server.steps.item(0).text()
    server.run_button.click()
    await wait_until(lambda: server.state.text().startswith("done"), 20, "the scenario to finish")
    assert server.state.text() == "done: 2 step(s), 3 fault(s) applied"  # 2 closes (0 s, 0.5 s), 1 end
    for tab in window.transport_tabs:
        await wait_until(lambda tab=tab: any("scenario done" in e.data for e in rows(tab, "fault")), 5,
                         f"the last marker on {tab.title}")
        texts = [e.data for e in rows(tab, "fault")]
        assert sum("close_websockets (code 4000)" in t for t in texts) == 2, tab.title
        assert any("end_streams" in t for t in texts)
    closes = [e for e in rows(window.ws_tab, "close") if e.meta.get("code") == 4000]
    assert len(closes) >= 1


async def test_network_steps_need_a_routed_tab(window):
    server = window.server_tab
    window.tabs.setCurrentWidget(server)  # the user is on the tab whose button they click
    server.form.fault.setCurrentIndex(server.form.fault.findData("latency"))
    server.add_button.click()
    server.run_button.click()
    await wait_until(lambda: "No tab is routed" in window.statusBar().currentMessage(), 10, "the refusal")
    assert server.run_button.isEnabled()


async def test_reconnect_policies_race_side_by_side_through_one_fault(window):
    tab = window.sse_tab
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "open")
    tab.faults.race_button.setChecked(True)
    race = tab.controller.race
    await wait_until(lambda: all(r.opens == 1 for r in race.runners), 15, "three racing clients open")
    # each has been delivered something (a connection that ends having delivered nothing is a
    # failed attempt, and the server's retry would grow)
    await wait_until(lambda: all(r.client.ledger.received for r in race.runners), 15, "a message each")
    assert [r.label for r in race.runners] == ["fixed 1 s", "exp. 1→5 s ±50 %", "server retry"]
    tab.faults.form.fault.setCurrentIndex(tab.faults.form.fault.findData("end_streams"))
    tab.faults.apply_button.click()
    await wait_until(lambda: all(r.row()["recovered"] == 1 for r in race.runners), 20, "every policy back")
    await wait_until(lambda: tab.faults.race_table.rowCount() == 3
                     and all(tab.faults.race_table.item(i, 2).text() == "1" for i in range(3)), 5, "the table")
    assert all(r.row()["lost"] == 0 and r.row()["duplicated"] == 0 for r in race.runners)
    waits = {r.label: tab.faults.plot.series(r.label) for r in race.runners}
    assert waits["fixed 1 s"] == [1.0]
    assert 0.5 <= waits["exp. 1→5 s ±50 %"][0] <= 1.5
    assert waits["server retry"] == [1.0]  # the lab's retry: 1000 ms
    tab.faults.race_button.setChecked(False)
    assert tab.controller.race is None
    await wait_until(lambda: all(r.client.state == "closed" for r in race.runners), 10, "the racers closed")


async def test_the_feed_rate_is_set_from_the_server_tab_and_counts_stay_equal(window):
    ws = window.ws_tab
    await wait_until(lambda: ws.controller.client is not None and ws.controller.client.connected, 15, "open")
    window.server_tab.rate.setValue(500)
    window.server_tab.rate_button.click()
    await wait_until(lambda: any("feed rate 50 → 500" in e.data for e in rows(ws, "fault")), 10, "the marker")
    received = ws.controller.client.ledger.received
    await wait_until(lambda: ws.controller.client.ledger.received >= received + 500, 10, "500 messages at 500/s")
    window.server_tab.rate.setValue(0)  # the feed stops: what was received must all be captured, and shown
    window.server_tab.rate_button.click()
    await wait_until(lambda: any("feed rate 500 → 0" in e.data for e in rows(ws, "fault")), 10, "the stop")
    await wait_until(lambda: ws.timeline.received == ws.timeline.model.captured
                     and f"received {ws.timeline.received:,} · captured" in ws.timeline.counts.text(), 5,
                     "received = captured, shown",
                     state=lambda: (ws.timeline.received, ws.timeline.model.captured, ws.timeline.counts.text()))


async def test_the_lab_restarts_as_a_cluster_and_a_killed_worker_loses_nothing(window):
    """Server tab → Cluster: three workers behind HAProxy, the feed on Redis. Every tab follows the lab to its
    new address; the table shows each worker; killing the one that serves the WebSocket tab moves it to
    another with nothing lost."""
    server, ws = window.server_tab, window.ws_tab
    await wait_until(lambda: ws.controller.client is not None and ws.controller.client.connected, 15, "open")
    old_url = window.lab.url
    server.workers_n.setValue(3)
    server.cluster_button.click()
    await wait_until(lambda: window.lab.url and window.lab.url != old_url
                     and len(window.lab.announced.get("workers") or []) == 3, 40, "the cluster")
    await wait_until(lambda: ws.controller.client is not None and ws.controller.client.connected
                     and ws.controller.url.startswith(window.lab.url.replace("http", "ws")), 20, "the tab moved")
    await wait_until(lambda: ws.controller.client.ledger.received >= 10, 15, "the cluster's feed")
    await wait_until(lambda: server.cluster_table.rowCount() == 3 and server.cluster_table.isVisibleTo(server)
                     and "stream" in server.redis_line.text(), 10, "the workers' table")
    assert "the stream on redis://" in server.address.text()
    def worker_rows():  # HTTP/1 through HAProxy: header names in lower case
        heads = [{k.lower(): v for k, v in e.meta.get("response_headers", {}).items()}
                 for e in ws.timeline.model.events() if e.kind == "open"]
        return [h["duplex-worker"].split("/")[0] for h in heads if "duplex-worker" in h]
    await wait_until(lambda: worker_rows(), 5, "the handshake naming its worker")
    serving = worker_rows()[-1]
    row = next(r for r in range(3) if server.cluster_table.item(r, 0).text() == serving)
    server.cluster_table.selectRow(row)
    server.kill_worker_button.click()
    await wait_until(lambda: server.cluster_table.item(row, 3).text() == "down", 15, "the worker down")
    await wait_until(lambda: ws.controller.client.ledger.episodes
                     and ws.controller.client.ledger.episodes[-1].recovered, 20, "the tab recovered")
    await wait_until(lambda: len(worker_rows()) >= 2, 5, "the new handshake's row")
    assert worker_rows()[-1] != serving
    assert int(server.cluster_table.item((row + 1) % 3, 9).text().replace(",", "")) > 0  # messages sent
    pid = window.lab.pid()
    server.balance.setCurrentIndex(server.balance.findData("source"))
    server.cluster_button.click()  # only the balancing changed: switched at run time, the lab is not restarted
    await wait_until(lambda: any("balancing now source" in e.data for e in ws.timeline.model.events()
                                 if e.kind == "fault"), 10, "the switch's marker")
    assert window.lab.pid() == pid and window.lab.cluster == (3, "source", "shared")
    assert (ws.controller.client.ledger.lost, ws.controller.client.ledger.duplicated) == (0, 0)


async def test_a_window_task_that_fails_says_why_on_the_status_bar(window, monkeypatch):
    """The feed rate asked of a lab that does not answer: the reason on the status bar (the window's task
    group called a two-argument slot with one, and the sentence was lost)."""
    monkeypatch.setattr(window.lab.process, "url", "http://127.0.0.1:1")
    window.lab.set_rate(7.0)
    await wait_until(lambda: "127.0.0.1:1" in window.statusBar().currentMessage(), 10,
                     f"the reason on the status bar (it says {window.statusBar().currentMessage()!r})")
