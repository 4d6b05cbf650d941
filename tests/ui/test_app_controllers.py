"""The controllers of the Server, Browser and AJAX tabs without a window: the scenario runner, the browser
(a real Chromium when the machine has one), virtual against real, and AJAX against the lab app."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.helpers import CHROMIUM_GROUP, wait_until
from transport.browser.chromium import find_chromium
from transport.clients.registry import TRANSPORTS
from transport.core.faults import FaultSpec
from transport.server.keys import CONFIG, WEBSOCKETS
from ui.controllers.agreement import AgreementController
from ui.controllers.ajax import AjaxController
from ui.controllers.browser import BrowserController
from ui.controllers.scenario import ScenarioController
from ui.controllers.tab import TabController


class Lab:
    """What the scenario needs of the lab (transport/apps/scenario.py: Lab), on the lab app in this process."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.marks: list[str] = []

    def lab_address(self) -> tuple[str, str]:
        return self.url, self.token

    def mark_everywhere(self, text: str) -> None:
        self.marks.append(text)

    async def restart_lab(self, down_s: float, keep_history: bool) -> None:
        raise AssertionError("not asked here")

    def network_faults(self) -> list[Any]:
        return []  # no tab routed through a proxy


@pytest.fixture
def lab(lab_server) -> Lab:
    return Lab(f"http://127.0.0.1:{lab_server.port}", lab_server.app[CONFIG].admin_token)


def said_by(controller: Any, *signals: str) -> list[str]:
    out: list[str] = []
    for name in signals:
        getattr(controller, name).connect(out.append)
    return out


async def test_the_scenario_runs_its_steps_and_marks_each_fault(lab, lab_server):
    scenario = ScenarioController(lab)
    lines: list[list[str]] = []
    scenario.stepsChanged.connect(lines.append)
    said = said_by(scenario, "progress", "failed")
    scenario.add(FaultSpec("end_streams"))
    scenario.add(FaultSpec("evict_history"))
    scenario.remove(0)
    assert lines[-1] == ["1. " + FaultSpec("evict_history").describe()]
    scenario.run()
    await wait_until(lambda: not scenario.running and any(s.startswith("done") for s in said), 10, "the run",
                     state=lambda: said)
    assert said[-1] == "done: 1 step(s), 1 fault(s) applied"
    assert lab.marks[0] == "scenario started: 1 step(s)" and "evict_history" in lab.marks[1]


async def test_a_scenario_that_cannot_run_says_why(lab):
    scenario = ScenarioController(lab)
    said = said_by(scenario, "failed")
    scenario.run()
    await wait_until(lambda: bool(said), 10, "the sentence")
    assert said == ["The scenario has no steps: pick a fault and press Add step."]
    scenario.add(FaultSpec("latency", value=100))  # a network fault, and no tab routed through a proxy
    scenario.run()
    await wait_until(lambda: len(said) == 2, 10, "the second sentence", state=lambda: said)
    assert said[1].startswith("No tab is routed through a fault proxy")


async def test_virtual_against_real_needs_the_lab_first(qtbot):
    agreement = AgreementController()
    said = said_by(agreement, "progress")
    running: list[bool] = []
    agreement.runningChanged.connect(running.append)
    agreement.run()
    assert said == ["The lab is not running yet."] and running == []


async def test_ajax_compares_the_same_change_both_ways(lab_server):
    events: list = []
    tab = TabController(TRANSPORTS["ajax"], events.append)
    ajax = AjaxController(tab)
    reported = said_by(tab, "statusMessage")
    compared: list[dict] = []
    ajax.compared.connect(compared.append)
    ajax.both("blue")  # not connected yet
    assert reported == ["Not connected: connect first, then send."]
    tab.open_client(f"http://127.0.0.1:{lab_server.port}")
    await wait_until(lambda: tab.connected, 10, "the AJAX client ready", state=lambda: reported)
    try:
        ajax.both("blue")
        await wait_until(lambda: compared and {"ajax", "postback"} <= set(compared[-1]), 10, "both exchanges",
                         state=lambda: (compared, reported))
        (a_sent, _a_received, a_wire, _ms), (_p_sent, _p_received, p_wire, _pms) = \
            compared[-1]["ajax"], compared[-1]["postback"]
        assert 0 < a_sent and a_wire < p_wire  # the postback sends and fetches the whole page
        await wait_until(lambda: any("The same change: AJAX" in r for r in reported), 10, "the comparison said")
    finally:
        await tab.shutdown()


no_chromium = pytest.mark.skipif(find_chromium() is None,
                                 reason="no Chromium on this machine (CI installs it and never skips)")


async def test_the_browser_controller_says_when_there_is_no_chromium(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("DUPLEX_CHROMIUM", str(tmp_path / "no-such-browser"))
    browser = BrowserController()
    said = said_by(browser, "statusMessage")
    browser.launch("http://127.0.0.1:9/demo")
    assert said and said[0].startswith("No Chromium found") and browser.state == "idle"


@no_chromium
@CHROMIUM_GROUP
async def test_the_browser_controller_launches_watches_and_stops_chromium(lab_server):
    browser = BrowserController()
    browser.lab_url = f"http://127.0.0.1:{lab_server.port}"
    states: list[str] = []
    browser.stateChanged.connect(states.append)
    said = said_by(browser, "statusMessage")
    browser.launch(browser.demo_url() + "?apis=ws")
    try:
        await wait_until(lambda: browser.state == "running", 30, "Chromium running", state=lambda: (states, said))
        await wait_until(lambda: any(r.get("api") == "websocket" and r.get("received", 0) > 0
                                     for r in browser.ledger_rows()), 20, "the page's WebSocket in a ledger",
                         state=browser.ledger_rows)
        assert len(lab_server.app[WEBSOCKETS]) >= 1
        profile = browser.browser.chromium.profile if browser.browser and browser.browser.chromium else None
    finally:
        await browser.shutdown()
    assert states[-1] == "stopped" and not browser.running
    assert profile is not None and not os.path.exists(profile)  # the throwaway profile went with it
