"""The Browser tab in the window, with the real lab and a real headless Chromium."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.helpers import CHROMIUM_GROUP, wait_until
from transport.browser.chromium import find_chromium
from ui.models.timeline_model import CONN, KIND

pytestmark = [pytest.mark.skipif(find_chromium() is None, reason="no Chromium (CI installs it and never skips)"),
              CHROMIUM_GROUP]


def rows(tab, transport=None, kind=None):
    return [e for e in tab.timeline.model.events()
            if (transport is None or e.transport == transport) and (kind is None or e.kind == kind)]


async def test_launch_watch_and_act_on_the_demo_page(window):
    tab = window.browser_tab
    window.tabs.setCurrentWidget(tab)
    await wait_until(lambda: tab.url.text() == window.lab.url + "/demo", 10, "the demo page offered")
    tab.url.setText(window.lab.url + "/demo?apis=ws,sse")  # the two feeds this test reads: two tabs of all five
    tab.launch_button.click()  # at 50/s kept a window on a shared, busy machine seconds behind Chromium's events
    await wait_until(lambda: tab.state.text() == "running" and tab.tab_choice.count() == 1, 20, "Chromium running")
    await wait_until(lambda: len(rows(tab, "websocket", "message")) >= 3 and len(rows(tab, "sse", "message")) >= 3,
                     20, "the page's frames and events in the timeline")
    assert tab.timeline.model.data(tab.timeline.model.index(0, KIND)).startswith("browser ")  # Kind names the API
    await wait_until(lambda: tab.ledgers.rowCount() >= 2, 5, "the ledgers")
    apis = {tab.ledgers.item(r, 1).text() for r in range(tab.ledgers.rowCount())}
    assert {"websocket", "sse"} <= apis
    tab.reload_button.click()
    await wait_until(lambda: rows(tab, "browser", "reload") and len(rows(tab, "websocket", "connecting")) >= 2,
                     15, "the reload: a new WebSocket")
    await wait_until(lambda: "visits=2" in tab.storage.text(), 10, "sessionStorage kept across the reload")
    assert tab.timeline.table.isColumnHidden(CONN)  # one tab: no Tab column
    tab.new_tab_button.click()
    await wait_until(lambda: tab.tab_choice.count() == 2, 15, "a second tab")
    # two tabs' rows in one timeline: each says whose it is
    assert not tab.timeline.table.isColumnHidden(CONN) and tab.timeline.model.headerData(CONN, Qt.Orientation.Horizontal) == "Tab"
    await wait_until(lambda: any(e.conn == 2 for e in rows(tab, "websocket", "message")), 15, "the second tab's frames")
    shown = {tab.timeline.model.data(tab.timeline.model.index(r, CONN)) for r in range(tab.timeline.model.rowCount())}
    assert {"1", "2"} <= shown
    tab.offline.setChecked(True)
    await wait_until(lambda: any("offline" in e.data for e in rows(tab, "browser", "network")), 10, "offline",
                     state=lambda: ([f"{e.conn} {e.kind}: {e.data}"[:120] for e in rows(tab, "browser")][-6:],
                                    tab.status.text(), tab.tab_choice.currentData()))
    tab.offline.setChecked(False)
    tab.close_tab_button.click()
    await wait_until(lambda: tab.tab_choice.count() == 1, 10, "the tab closed")
    tab.stop_button.click()
    await wait_until(lambda: tab.state.text() == "stopped", 15, "the browser stopped")


async def test_no_chromium_is_one_sentence(window, monkeypatch):
    monkeypatch.setenv("DUPLEX_CHROMIUM", "/nonexistent/chromium")
    tab = window.browser_tab
    await wait_until(lambda: tab.url.text().endswith("/demo"), 10, "the demo page offered")
    tab.launch_button.click()
    assert tab.status.text().split("  ", 1)[1].startswith("No Chromium found")
    assert tab.state.text() == "no browser"


async def test_attach_needs_an_address_that_answers(window):
    tab = window.browser_tab
    tab.attach_address.setText("127.0.0.1:1")
    tab.attach_button.click()
    await wait_until(lambda: "Nothing answers at 127.0.0.1:1" in tab.status.text(), 10, "the reason")
    await wait_until(lambda: tab.state.text() == "failed", 5, "failed")


async def test_the_browser_through_a_fault_proxy_and_a_server_restart_lose_nothing(window):
    from transport.core.faults import FaultSpec
    tab = window.browser_tab
    window.tabs.setCurrentWidget(tab)
    await wait_until(lambda: tab.url.text() == window.lab.url + "/demo", 10, "the demo page offered")
    tab.url.setText(window.lab.url + "/demo?apis=ws,sse")
    tab.faults.route.setChecked(True)
    await wait_until(lambda: tab.controller.faults.route.routed, 10, "the route")
    tab.launch_button.click()
    await wait_until(lambda: tab.state.text() == "running", 20, "Chromium running")
    page = tab.controller.tabs()[0]
    await wait_until(lambda: page.url.startswith(f"http://{tab.controller.faults.route.listen}/"), 10,
                     "the page opened through the proxy")
    await wait_until(lambda: all(a in page.receivers and page.receivers[a].ledger.received >= 10
                                 for a in ("websocket", "sse")), 20, "both feeds through the proxy")
    tab.controller.faults.start(FaultSpec("restart", duration=1))
    await wait_until(lambda: any(e.kind == "fault" for e in rows(tab, "browser")), 10, "the fault marked")
    await wait_until(lambda: all(page.receivers[a].ledger.episodes and page.receivers[a].ledger.episodes[-1].recovered
                                 for a in ("websocket", "sse")), 30, "recovered")
    for api in ("websocket", "sse"):
        led = page.receivers[api].ledger
        assert led.lost == 0 and led.duplicated == 0, (api, led.summary())
    tab.controller.faults.start(FaultSpec("reset_peer"))  # a network fault on the proxy: the page reconnects
    await wait_until(lambda: len(page.receivers["websocket"].ledger.episodes) >= 2, 20, "the reset seen")
    await tab.controller.faults.stop()
    tab.stop_button.click()
    await wait_until(lambda: tab.state.text() == "stopped", 15, "stopped")
