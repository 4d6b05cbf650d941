"""A timeline out to HAR and JSON Lines and back into a timeline."""

from __future__ import annotations

import json

from tests.helpers import wait_until


async def test_export_a_live_timeline_and_import_it_elsewhere(window, tmp_path):
    ws = window.ws_tab
    # the rows themselves (the timeline follows the client by one bridge flush)
    await wait_until(lambda: sum(e.kind == "message" for e in ws.timeline.model.events()) >= 10, 15, "traffic")
    ws.timeline.pause_button.setChecked(True)  # a stable set of rows to compare
    rows = ws.timeline.model.events()
    har, jsonl = tmp_path / "ws.har", tmp_path / "ws.jsonl"
    await ws.timeline.files.export(str(har))
    await ws.timeline.files.export(str(jsonl))
    assert "rows written to" in ws.status.text()
    doc = json.loads(har.read_text())
    entry = next(e for e in doc["log"]["entries"] if e["_resourceType"] == "websocket")
    assert len([m for m in entry["_webSocketMessages"] if m["type"] == "receive"]) >= 10
    assert len(jsonl.read_text().splitlines()) == len(rows)
    live = window.ajax_tab.timeline
    before, tabs = live.model.captured, window.tabs.count()
    await live.files.import_(str(har))
    # the file opens in a read-only timeline tab of its own, titled with it; the live timeline is untouched
    assert window.tabs.count() == tabs + 1 and window.tabs.tabText(tabs) == "ws.har (imported)"
    view = window.tabs.widget(tabs)
    assert window.tabs.currentWidget() is view and not view.import_button.isVisible()
    await wait_until(lambda: view.model.captured == len(rows), 5, "the imported rows")
    assert view.model.events() == rows and live.model.captured == before
    assert "imported from ws.har" in window.ajax_tab.status.text()
    window.tabs.tabBar().tabButton(tabs, window.tabs.tabBar().ButtonPosition.RightSide).click()
    assert window.tabs.count() == tabs


async def test_importing_a_file_that_is_not_a_timeline_says_why(window, tmp_path):
    bad = tmp_path / "notes.jsonl"
    bad.write_text("hello\n")
    tab = window.ajax_tab  # no live rows here once it is ready
    await wait_until(lambda: any(e.kind == "open" for e in tab.timeline.model.events()), 15, "the AJAX tab ready")
    before = tab.timeline.model.captured
    task = tab.timeline.files.import_(str(bad))
    await wait_until(lambda: task.done(), 5, "the import to fail")
    await wait_until(lambda: "Line 1 of notes.jsonl is not JSON" in tab.status.text(), 5,
                     "the sentence")
    assert tab.timeline.model.captured == before  # nothing imported


async def test_the_browser_tab_imports_a_timeline_into_a_tab_of_its_own(window, tmp_path):
    ws = window.ws_tab
    await wait_until(lambda: sum(e.kind == "message" for e in ws.timeline.model.events()) >= 3, 15, "traffic")
    jsonl = tmp_path / "page.jsonl"
    await ws.timeline.files.export(str(jsonl))
    browser = window.browser_tab
    window.tabs.setCurrentWidget(browser)
    assert browser.timeline.import_button.isVisible()
    tabs = window.tabs.count()
    await browser.timeline.files.import_(str(jsonl))
    assert window.tabs.count() == tabs + 1 and window.tabs.tabText(tabs) == "page.jsonl (imported)"
    assert browser.timeline.model.captured == 0  # the live browser timeline is untouched
