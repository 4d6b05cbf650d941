"""What a tab's helper controllers (faults, session) need of the tab controller that owns them.

A protocol, so the helpers do not import the tab controller (which imports them).
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, Protocol

from PySide6.QtCore import SignalInstance

from transport.clients.virtual_browser import VirtualBrowser, VirtualTab
from transport.clients.base import Client


class FaultHost(Protocol):
    """What a fault controller needs of its owner (a transport tab, or the Browser tab)."""

    transport: str
    url: str
    lab_url: str
    lab_token: str
    statusMessage: SignalInstance

    def report(self, sentence: str) -> None: ...

    def state_row(self, kind: str, text: str, **meta: object) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task: ...

    def reopen(self) -> None: ...


class TabHost(FaultHost, Protocol):
    title: str
    client: Client | None
    vtab: VirtualTab | None
    sessionChanged: SignalInstance
    loginAsked: SignalInstance
    tabMoved: SignalInstance

    @property
    def browser(self) -> VirtualBrowser | None: ...

    def lab_endpoint(self) -> str | None: ...

    def run_in(self, browser: VirtualBrowser, why: str, reload: bool = True) -> None: ...

    def open_client(self, url: str | None = None, **options: Any) -> None: ...
