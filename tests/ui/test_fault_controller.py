"""The fault controller without a window: its host is a plain object with what FaultHost asks, its lab the
real app in this process; routing puts a fault proxy of the lab in front of the tab's server and takes it
away again."""

from __future__ import annotations

import asyncio
from typing import Any

from transport.server.keys import CONFIG, PROXIES
from ui.controllers.faults import FaultController


class Host:
    """What a fault controller needs of its owner (ui/controllers/host.py: FaultHost)."""

    transport = "websocket"

    def __init__(self, lab_url: str, token: str) -> None:
        self.url = lab_url.replace("http", "ws") + "/ws"
        self.lab_url, self.lab_token = lab_url, token
        self.reported: list[str] = []
        self.rows: list[tuple[str, str]] = []
        self.reopened = 0
        from PySide6.QtCore import QObject, Signal

        class Signals(QObject):
            statusMessage = Signal(str)

        self._signals = Signals()
        self.statusMessage = self._signals.statusMessage

    def report(self, sentence: str) -> None:
        self.reported.append(sentence)

    def state_row(self, kind: str, text: str, **meta: object) -> None:
        self.rows.append((kind, text))

    def spawn(self, coro: Any) -> asyncio.Task:
        return asyncio.ensure_future(coro)

    def reopen(self) -> None:
        self.reopened += 1


async def test_routing_makes_the_labs_proxy_in_front_of_the_tabs_server_and_unrouting_removes_it(lab_server):
    lab_url = f"http://127.0.0.1:{lab_server.port}"
    host = Host(lab_url, lab_server.app[CONFIG].admin_token)
    faults = FaultController(host)
    said: list[tuple[bool, str]] = []
    faults.routeChanged.connect(lambda on, text: said.append((on, text)))
    await faults.set_routed(True)
    proxies = lab_server.app[PROXIES]
    assert faults.route.routed and len(proxies) == 1 and host.reopened == 1
    listen = faults.route.listen
    assert listen is not None and faults.target(host.url) == f"ws://{listen}/ws"  # the tab goes through it
    assert said[-1][0] is True
    await faults.set_routed(False)
    assert not faults.route.routed and not proxies and host.reopened == 2 and said[-1][0] is False
