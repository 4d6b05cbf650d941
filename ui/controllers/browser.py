"""The Browser tab's logic, without widgets: a Chromium Duplex starts (or one it attaches to), the page
watcher, its events into the tab's own timeline, the tabs' actions and their ledgers."""

from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import QObject, Signal

from transport.browser.chromium import find_chromium, no_chromium_sentence
from transport.browser.chromium_watch import BrowserWatch, PageTab, WatchedBrowser
from transport.browser.trust import ATTACHED_SENTENCE, server_spki, trust_flags
from transport.clients.tls import trusted_ca, uses_tls
from transport.core.errors import DuplexError
from transport.core.events import Event

from ..bridge import EventBridge
from ..models.timeline_model import TimelineModel
from ..tasks import TaskGroup
from .faults import FaultController

log = logging.getLogger("duplex.ui.browser")

THROTTLES = {  # name → (latency ms, down kbit/s, up kbit/s), as DevTools offers them
    "none": (0, -1, -1),
    "fast 4G": (60, 9000, 1500),
    "slow 4G": (150, 1600, 750),
    "3G": (300, 400, 400),
}


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class BrowserController(QObject):
    """Also what a FaultController needs of its tab (ui/controllers/host.py): the browser's tabs open the
    page through the lab's fault proxy when routed, and faults are marked in each tab's rows."""

    transport = "browser"
    title = "Browser"
    stateChanged = Signal(str)  # idle, starting, running, attached, stopped, failed
    statusMessage = Signal(str)
    tabsChanged = Signal(list)  # [(number, url, closed)]
    ledgersChanged = Signal(list)  # rows: {"tab", "api", "received", "replayed", "lost", "duplicated", …}
    eventsArrived = Signal(object)  # list[Event], after the model took them

    def __init__(self, cap: int = 1_000_000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = TimelineModel(cap, self)
        self.model.show_transport = True  # one timeline, many APIs: the Kind column names each
        self.model.conn_title = "Tab"  # each row's browser tab (the column shows once there are two)
        self.bridge = EventBridge(parent=self)
        self.bridge.delivered.connect(self._on_delivered)
        self.browser: WatchedBrowser | None = None  # the browser watched now (started here, or attached)
        self.state = "idle"
        self.lab_url = ""
        self.lab_token = ""
        self.url = ""  # the page the browser was launched on (its address before any fault proxy)
        self._tasks = TaskGroup(self.report)
        self.faults = FaultController(self, self)
        self.faults.marker.connect(lambda text, _everywhere: self.state_row("fault", text))

    # -- what the fault controller needs ---------------------------------------------------
    def lab_endpoint(self) -> str | None:
        return self.demo_url() or None

    def spawn(self, coro: Any) -> Any:
        return self._tasks.spawn(coro)

    def state_row(self, kind: str, text: str, **meta: object) -> None:
        """A marker row in every open tab of the browser (a fault, a lab restart)."""
        if self.watch is not None:
            for tab in self.tabs():
                if not tab.closed:
                    self.watch.note(tab, kind, text, dict(meta))

    def reopen(self) -> None:
        """The route changed: every open tab opens its page again, through the proxy or not."""
        if self.watch is None:
            return
        watch = self.watch
        for tab in self.tabs():
            if not tab.closed and tab.page:
                self._tasks.spawn(watch.navigate(tab, self.faults.target(tab.page)))

    # -- state ------------------------------------------------------------------------------
    def report(self, text: str) -> None:
        log.info("browser: %s", text)
        self.statusMessage.emit(text)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.stateChanged.emit(state)

    @property
    def watch(self) -> BrowserWatch | None:
        return self.browser.watch if self.browser is not None else None

    @property
    def running(self) -> bool:
        return self.watch is not None and not self.watch.cdp.closed.is_set()

    def demo_url(self) -> str:
        return self.lab_url + "/demo" if self.lab_url else ""

    def _on_delivered(self, _transport: str, events: list[Event]) -> None:
        self.model.append_events(events)
        self.eventsArrived.emit(events)

    # -- start and stop ---------------------------------------------------------------------
    def launch(self, url: str, headless: bool = True) -> None:
        """Start Chromium (a throwaway profile) on ``url``."""
        if self.running:
            self.report("A browser is already running: stop it first, or open a new tab.")
            return
        if find_chromium() is None:
            self.report(no_chromium_sentence())
            return
        if not headless and not has_display():
            self.report("No display to show a window on: the browser runs headless.")
            headless = True

        async def start() -> None:
            self._set_state("starting")
            ca = trusted_ca(url)  # the TLS lab's page: Chromium trusts its certificate, pinned by its hash
            flags = trust_flags(await server_spki(url, ca)) if ca else ()
            self.browser = WatchedBrowser(self.bridge, headless=headless, flags=flags)
            try:
                watch = await self.browser.start()
                self.url = url
                tab = await watch.open_tab(self.faults.target(url))
                tab.page = url
            except DuplexError:
                await self.stop()
                self._set_state("failed")
                raise
            self._set_state("running")
            pid = self.browser.chromium.pid if self.browser.chromium is not None else "?"
            self.report(f"Chromium {'headless' if headless else 'with a window'} (pid {pid}) on {url}.")
            self._publish_tabs()
            self._tasks.spawn(self._watch_closed())

        self._tasks.spawn(start())

    def attach(self, address: str) -> None:
        """Watch a Chrome / Chromium the user started with --remote-debugging-port."""
        if self.running:
            self.report("A browser is already watched: stop it first.")
            return

        async def start() -> None:
            self._set_state("starting")
            self.browser = WatchedBrowser(self.bridge, attach=address)
            try:
                watch = await self.browser.start()
                tabs = await watch.attach_pages()
            except DuplexError:
                await self.stop()
                self._set_state("failed")
                raise
            self._set_state("attached")
            self.report(f"Attached to {address}: {len(tabs)} tabs watched (reload one to see its connections "
                        "from their start)." + (" " + ATTACHED_SENTENCE if uses_tls(self.lab_url) else ""))
            self._publish_tabs()
            self._tasks.spawn(self._watch_closed())

        self._tasks.spawn(start())

    async def _watch_closed(self) -> None:
        browser, watch = self.browser, self.watch
        if browser is None or watch is None:
            return
        await watch.cdp.closed.wait()
        if self.browser is browser:
            self.report("The browser went away (closed, or its DevTools connection ended).")
            await self.stop()

    async def stop(self) -> None:
        browser, self.browser = self.browser, None
        if browser is not None:
            await browser.stop()
        self.bridge.flush()
        if self.state not in ("idle", "failed"):
            self._set_state("stopped")
        self._publish_tabs()

    def stop_soon(self) -> None:
        self._tasks.spawn(self.stop())

    # -- tabs and their actions -------------------------------------------------------------------
    def tabs(self) -> list[PageTab]:
        return list(self.watch.tabs.values()) if self.watch is not None else []

    def tab(self, number: int) -> PageTab | None:
        return self.watch.tabs.get(number) if self.watch is not None else None

    def _publish_tabs(self) -> None:
        self.tabsChanged.emit([(t.number, t.url, t.closed) for t in self.tabs()])

    def _act(self, number: int, what: str, action: Any) -> None:
        """Run ``action(watch, tab)`` on an open tab; say why not when it cannot."""
        tab = self.tab(number)
        if self.watch is None or tab is None or tab.closed:
            self.report(f"No open browser tab to {what}: launch or attach first.")
            return
        watch = self.watch

        async def run() -> None:
            await action(watch, tab)
            self._publish_tabs()

        self._tasks.spawn(run())

    def reload(self, number: int) -> None:
        self._act(number, "reload", lambda w, t: w.reload(t))

    def close_tab(self, number: int) -> None:
        self._act(number, "close", lambda w, t: w.close_tab(t))

    def new_tab(self, url: str) -> None:
        if self.watch is None:
            self.report("No browser: launch or attach first.")
            return
        watch = self.watch

        async def run() -> None:
            tab = await watch.open_tab(self.faults.target(url))
            tab.page = url
            self._publish_tabs()

        self._tasks.spawn(run())

    def set_network(self, number: int, offline: bool, throttle: str = "none") -> None:
        latency, down, up = THROTTLES.get(throttle, THROTTLES["none"])
        self._act(number, "change its network", lambda w, t: w.set_network(t, offline, latency, down, up))

    def login(self, number: int, user: str) -> None:
        script = ("fetch('/session/login', {method: 'POST', headers: {'Content-Type': 'application/json'}, "
                  f"body: JSON.stringify({{user: {user!r}}})}}).then(r => r.status)")
        self._act(number, "log in", lambda w, t: self._page_call(w, t, script, f"log in as {user}"))

    def logout(self, number: int) -> None:
        script = "fetch('/session/logout', {method: 'POST'}).then(r => r.status)"
        self._act(number, "log out", lambda w, t: self._page_call(w, t, script, "log out"))

    async def _page_call(self, watch: BrowserWatch, tab: PageTab, script: str, what: str) -> None:
        watch.note(tab, "session", f"the page asks to {what}")
        status = await watch.evaluate(tab, script)
        self.report(f"Tab {tab.number}: {what}: HTTP {status}.")

    async def cookies_and_storage(self, number: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
        tab = self.tab(number)
        if self.watch is None or tab is None or tab.closed:
            return [], {}
        return await self.watch.cookies(tab), dict(tab.storage)

    # -- the ledgers --------------------------------------------------------------------------
    def ledger_rows(self) -> list[dict[str, Any]]:
        rows = []
        for tab in self.tabs():
            for api, receiver in tab.receivers.items():
                led = receiver.ledger
                n = receiver.stats.messages
                rows.append({"tab": tab.number, "api": api, "received": led.received + led.unnumbered,
                             "replayed": led.replayed,
                             "lost": led.lost, "duplicated": led.duplicated, "episodes": len(led.episodes),
                             "checkable": led.checkable, "closed": tab.closed,
                             "payload_per_msg": receiver.stats.payload / n if n else None,
                             "wire_per_msg": tab.wire.get(api, 0) / n if n else None})
        return rows

    def tick(self) -> None:
        """Once a second: the ledgers' figures."""
        if self.watch is not None:
            self.ledgersChanged.emit(self.ledger_rows())

    async def shutdown(self) -> None:
        await self.stop()
        await self._tasks.cancel_all()
