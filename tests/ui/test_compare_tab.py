"""The Compare tab: the same feed over every transport on a lab of its own, measured side by side."""

from __future__ import annotations

import asyncio
import csv
import json

from tests.helpers import CHROMIUM_GROUP, wait_until
from transport.apps.compare import ONE_EACH, TRANSPORTS


async def test_all_at_once_fills_the_table_and_charts_and_exports(window, tmp_path):
    tab = window.compare_tab
    tab.rate.setValue(50)
    tab.duration.setValue(3)
    tab.poll_interval.setValue(0.5)
    tab.run_button.click()
    await wait_until(lambda: tab.running, 5, "the run")
    await wait_until(lambda: not tab.running, 40, "the run to end")
    assert tab.state.text().startswith("Done."), tab.state.text()
    rows = {r["transport"]: r for r in tab.table_rows()}
    assert set(rows) == set(TRANSPORTS)
    for t, row in rows.items():
        assert row["messages"] >= 50, t  # about 150 published in 3 s
        assert row["lost"] == 0 and row["duplicated"] == 0, t
        assert row["p50_ms"] is not None and row["p50_ms"] <= row["p99_ms"], t
        split = row["payload_per_msg"] + row["headers_per_msg"] + row["framing_per_msg"]
        assert abs(split - row["wire_per_msg"]) < 0.5, t
    assert rows["websocket"]["requests_per_msg"] < rows["short_poll"]["requests_per_msg"]  # one upgrade, vs a poll each
    assert rows["short_poll"]["p50_ms"] > rows["websocket"]["p50_ms"]  # polling is late
    assert rows["websocket"]["open_server"] == 1 and rows["sse"]["open_server"] == 1
    assert tab.rows["websocket"]["cpu_ms_per_1000"] is None  # only measured one at a time
    assert all(len(tab.tallies[t].series) >= 1 for t in TRANSPORTS)  # a latency point per second
    window.tabs.setCurrentWidget(tab)
    image = tab.charts.grab().toImage()  # the charts are drawn, not a blank area
    step = 7
    inked = sum(1 for x in range(0, image.width(), step) for y in range(0, image.height(), step)
                if image.pixelColor(x, y).lightness() < 200)
    assert inked > (image.width() // step) * (image.height() // step) * 0.01
    await asyncio.gather(tab.export_csv(str(tmp_path / "compare.csv")), tab.export_png(str(tmp_path / "compare.png")),
                         tab.export_events(str(tmp_path / "compare.har")))
    har = json.loads((tmp_path / "compare.har").read_text())
    kinds = {e["_resourceType"] for e in har["log"]["entries"]}
    assert {"websocket", "eventsource", "fetch"} <= kinds
    with (tmp_path / "compare.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["transport"] for r in table] == list(TRANSPORTS) and int(table[0]["messages"]) >= 50
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert not tab.running and "Lab server" in window.lab_label.text()  # the window's own lab is untouched


async def test_one_at_a_time_adds_the_lab_cpu_per_1000_messages(window):
    tab = window.compare_tab
    tab.rate.setValue(100)
    tab.duration.setValue(2)
    tab.mode.setCurrentIndex(tab.mode.findData("each"))
    tab.run_button.click()
    await wait_until(lambda: tab.running, 5, "the run")
    await wait_until(lambda: not tab.running, 90, "five runs to end")
    assert "short_poll_conditional" not in tab.rows  # a variant of the short poll: not run alone
    for t in ONE_EACH:
        row = tab.rows[t]
        # 2 s at 100/s: a short poll delivers at its own pace (one poll a second), so on a busy machine its
        # last poll may fall after the run's end (98 once): enough messages to measure, not an exact count
        assert row["messages"] >= 50 and row["cpu_ms_per_1000"] > 0 and row["rss_mb"] > 10, (t, row)
        assert row["rss_kb_per_1000"] is not None, (t, row)


async def test_a_run_under_a_fault_shows_how_each_transport_degrades(window):
    tab = window.compare_tab
    tab.rate.setValue(50)
    tab.duration.setValue(7)  # the reset comes at 5 s
    tab.fault.setCurrentIndex(tab.fault.findText("TCP reset every 5 s"))
    tab.run_button.click()
    await wait_until(lambda: tab.running, 5, "the run")
    await wait_until(lambda: not tab.running, 40, "the run to end")
    for t in TRANSPORTS:
        ledger = tab.tallies[t].client.ledger
        assert tab.rows[t]["messages"] >= 50 and ledger.lost == 0 and ledger.duplicated == 0, t
    resets = [t for t in TRANSPORTS if tab.tallies[t].client.ledger.episodes]
    assert "websocket" in resets and "sse" in resets  # a reset cuts every long-lived connection


@CHROMIUM_GROUP
async def test_a_real_browser_is_one_more_row_with_the_same_bytes_split(window):
    import pytest
    from transport.browser.chromium import find_chromium
    if find_chromium() is None:
        pytest.skip("no Chromium (CI installs it and never skips)")
    tab = window.compare_tab
    tab.rate.setValue(50)
    tab.duration.setValue(4)
    tab.with_browser.setChecked(True)
    tab.run_button.click()
    await wait_until(lambda: tab.running, 5, "the run")
    await wait_until(lambda: not tab.running, 60, "the run to end")
    assert tab.state.text().startswith("Done."), tab.state.text()
    rows = {r["transport"]: r for r in tab.table_rows()}
    browser, own = rows["browser"], rows["websocket"]
    # Chromium starts within the run's 4 s: on a busy machine its page may get only the last few of the 200
    # messages (8 once); the row's point is the same feed and the same byte split, nothing lost
    assert browser["messages"] >= 5 and browser["lost"] == 0 and browser["duplicated"] == 0
    split = browser["payload_per_msg"] + browser["headers_per_msg"] + browser["framing_per_msg"]
    assert abs(split - browser["wire_per_msg"]) < 0.5
    assert browser["headers_per_msg"] > 0 and browser["requests"] >= 1  # the page's own handshake
    assert abs(browser["payload_per_msg"] - own["payload_per_msg"]) < 2  # the same feed
    titles = [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]
    assert titles[-1] == "Browser (Chromium, WebSocket)" and "Socket.IO (polling)" in titles


async def test_cluster_mode_runs_every_transport_on_1_then_n_workers_with_one_killed(window):
    """Compare → Cluster: every transport through HAProxy to one worker, then to two with w1 killed half way:
    rates and latencies of both, the reconnects the kill cost each transport, nothing lost."""
    tab = window.compare_tab
    window.tabs.setCurrentWidget(tab)
    assert tab.charts.height() > 150  # the charts keep their share of the page (a hidden table must not take it)
    tab.rate.setValue(50)
    tab.duration.setValue(6)
    tab.mode.setCurrentIndex(tab.mode.findData("cluster"))
    assert tab.workers.isVisibleTo(tab)
    tab.workers.setValue(2)
    tab.run_button.click()
    await wait_until(lambda: tab.running, 5, "the run")
    await wait_until(lambda: not tab.running, 120, "two cluster runs to end")
    assert tab.cluster_table.isVisibleTo(tab)
    texts = {tab.cluster_table.item(r, 0).text(): [tab.cluster_table.item(r, c).text() for c in range(1, 7)]
             for r in range(tab.cluster_table.rowCount())}
    assert tab.cluster_table.horizontalHeaderItem(3).text() == "2 workers msg/s"
    for name, (one_rate, _p50, two_rate, _p50b, reconnects, lost) in texts.items():
        assert float(one_rate.replace(",", "")) > 0 and float(two_rate.replace(",", "")) > 0, (name, texts)
        assert lost == "0 / 0", (name, texts)
    assert any(int(cells[4]) > 0 for cells in texts.values()), texts  # the kill cost someone a reconnect
    assert "1 worker:" in tab.cluster_cpu.text() and "2 workers:" in tab.cluster_cpu.text()
    assert tab.cluster_table.height() > 60 and tab.charts.height() > 150


async def test_middleboxes_mode_shows_a_row_per_box_and_transport_and_exports_them(qtbot, tmp_path):
    """The table of Compare → Middleboxes from the controller's rows (the run itself: test_middlebox_run.py)."""
    from transport.apps.middlebox_run import Row
    from ui.tabs.compare_tab import CompareTab

    tab = CompareTab()
    qtbot.addWidget(tab)
    tab.mode.setCurrentIndex(tab.mode.findData("middleboxes"))
    assert tab.middlebox_table.isVisibleTo(tab) and not tab.table.isVisibleTo(tab) and not tab.fault.isEnabled()
    rows = [Row("Corporate firewall (WebSocket blocked)", "firewall", "websocket", 0, None, None, 0, 1, None,
                "answered HTTP 403 instead of switching to WebSocket", "use SSE or polling behind this box"),
            Row("Corporate firewall (WebSocket blocked)", "firewall", "sse", 125, 0.9, 1.5, 0, 0, 0, "", "none")]
    tab.controller.middlebox_rows = rows
    tab.controller.middleboxesShown.emit(rows)
    t = tab.middlebox_table
    assert t.rowCount() == 2 and t.item(0, 1).text() == "WebSocket" and t.item(0, 2).text() == "0"
    assert t.item(0, 3).text() == "—" and "403" in t.item(0, 7).toolTip() and t.item(1, 2).text() == "125"
    path = tmp_path / "boxes.csv"
    task = tab.export_csv(str(path))
    await asyncio.wait_for(task, 5)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("pass,box,transport,messages") and len(lines) == 3 and "403" in lines[1]


def test_the_charts_have_room_under_the_table(qtbot):
    from ui.tabs.compare_tab import CompareTab

    tab = CompareTab()
    qtbot.addWidget(tab)
    tab.resize(1600, 900)
    tab.show()
    qtbot.waitExposed(tab)
    assert tab.charts.height() > 200 and tab.table.height() > 100  # a splitter of four: the charts are not 0 high


def test_the_protocols_mode_shows_a_row_per_protocol_in_a_table_of_its_own(qtbot):
    from transport.apps.protocol_compare import ProtocolRow
    from ui.tabs.compare_tab import CompareTab

    tab = CompareTab()
    qtbot.addWidget(tab)
    tab.resize(1200, 800)
    tab.show()
    rows = [ProtocolRow("HTTP/1.1", "http/1.1", 10, 6, 4, 6, None, 53148, 8858.0, 360, 48948, 136.0),
            ProtocolRow("HTTP/2", "h2", 10, 10, 0, 1, 29.2, 10172, 1017.2, 600, 73162, 121.9)]
    tab.controller.protocolsShown.emit(rows)
    assert tab.mode.currentData() == "protocols" and tab.protocol_table.isVisible() and not tab.charts.isVisible()
    cells = [[tab.protocol_table.item(r, c).text() for c in range(tab.protocol_table.columnCount())] for r in range(2)]
    assert cells[0][:5] == ["HTTP/1.1 (http/1.1)", "6 of 10", "4", "6", "—"]
    assert cells[1][:5] == ["HTTP/2 (h2)", "10 of 10", "0", "1", "29.2"] and cells[1][5] == "10,172"
    assert tab.protocol_table.height() > 100  # its splitter pane is open
