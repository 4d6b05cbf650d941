"""The main window: the lab process, the bridge, the transport tabs, the status bar."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget

from transport.browser import VirtualBrowser
from transport.errors import DuplexError
from transport.events import Event
from transport.faults import FaultSpec
from transport.lab_admin import lab_sessions, lab_stats, post_fault

from .bridge import EventBridge
from .lab_process import LabProcess
from .tabs.ajax_tab import AjaxTab
from .tabs.compare_tab import CompareTab
from .tabs.feed_tabs import LongPollTab, ShortPollTab, StreamTab
from .tabs.server_tab import ServerTab
from .tabs.sse_tab import SSETab
from .tabs.transport_tab import TransportTab
from .tabs.websocket_tab import WebSocketTab
from .tasks import TaskGroup

log = logging.getLogger("duplex.ui")

STATUS_MS = 10_000


class MainWindow(QMainWindow):
    labReady = Signal(str)

    def __init__(self, *, rate: float = 5.0, cap: int = 1_000_000, start_lab: bool = True,
                 settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Duplex — real-time transport lab")
        self.settings = settings or QSettings("Duplex", "Duplex")
        self.bridge = EventBridge(parent=self)
        self.lab = LabProcess(rate=rate, parent=self)
        self.ws_tab = WebSocketTab(self.bridge.push, cap)
        self.sse_tab = SSETab(self.bridge.push, cap)
        self.short_poll_tab = ShortPollTab(self.bridge.push, cap)
        self.long_poll_tab = LongPollTab(self.bridge.push, cap)
        self.stream_tab = StreamTab(self.bridge.push, cap)
        self.ajax_tab = AjaxTab(self.bridge.push, cap)
        self.transport_tabs: list[TransportTab] = [self.ws_tab, self.sse_tab, self.short_poll_tab,
                                                   self.long_poll_tab, self.stream_tab, self.ajax_tab]
        self.browsers: list[VirtualBrowser] = [VirtualBrowser("Browser 1")]
        self.tabs = QTabWidget()
        for tab in self.transport_tabs:
            self.tabs.addTab(tab, tab.title)
            tab.attach(self.browsers[0].new_tab(), self.browsers)
        self.compare_tab = CompareTab()
        self.tabs.addTab(self.compare_tab, self.compare_tab.title)
        self.server_tab = ServerTab(self)
        self.tabs.addTab(self.server_tab, self.server_tab.title)
        self.sessions_view: dict | None = None
        self.server_view: dict[str, dict] = {}  # per transport: the server's side of a storm
        self._fetching = False
        self._lab_killed = False
        self._events_seen = 0.0
        self._session_tasks = TaskGroup(lambda sentence: log.debug("session view: %s", sentence))
        self.setCentralWidget(self.tabs)
        self.lab_label = QLabel("Lab server: starting…")
        self.rate_label = QLabel()
        self.statusBar().addPermanentWidget(self.rate_label)
        self.statusBar().addPermanentWidget(self.lab_label)
        self._rate_timer = QTimer(self)
        self._rate_timer.setInterval(1000)
        self._last_pushed = 0
        self._routes = {tab.transport: tab for tab in self.transport_tabs}
        self._connect_signals()
        self._restore_settings()
        self._rate_timer.start()
        if start_lab:
            self.lab.start()

    def _connect_signals(self) -> None:
        self.bridge.events.connect(self._on_bridge_events)
        self.lab.listening.connect(self._on_lab_listening)
        self.lab.failed.connect(self._on_lab_failed)
        self.lab.killed.connect(self._on_lab_killed)
        for tab in self.transport_tabs:
            c = tab.controller
            c.statusMessage.connect(self._on_tab_status_message)
            c.sessionChanged.connect(self._on_tab_session_changed)
            c.faultMarker.connect(lambda text, everywhere, tab=tab: self._mark_fault(tab, text, everywhere))
            c.tabMoved.connect(self._refresh_session_panels)
            c.killRequested.connect(self.kill_lab)
            tab.session.browserChosen.connect(lambda index, tab=tab: self._move_tab(tab, index))
            tab.session.closeBrowserRequested.connect(lambda tab=tab: self._close_browser(tab.controller.browser))
        self.server_tab.killRequested.connect(self.kill_lab)
        self.server_tab.rateRequested.connect(self._on_server_tab_rate_requested)
        self.server_tab.statusMessage.connect(self._on_tab_status_message)
        self.compare_tab.statusMessage.connect(self._on_tab_status_message)
        self.tabs.currentChanged.connect(lambda _i: self._refresh_session_panels())
        self._rate_timer.timeout.connect(self._on_rate_timer_timeout)

    # -- slots -----------------------------------------------------------------
    def _on_bridge_events(self, events: list[Event]) -> None:
        by_transport: dict[str, list[Event]] = {}
        for e in events:
            by_transport.setdefault(e.transport, []).append(e)
        for transport, batch in by_transport.items():
            tab = self._routes.get(transport)
            if tab is not None:
                tab.set_received(self.bridge.counts.get(transport, 0))
                tab.controller.take(batch)

    def _on_lab_listening(self, url: str, token: str) -> None:
        self.lab_label.setText(f"Lab server: {url}")
        self.server_tab.set_lab(url, self.lab.history_file)
        if self._lab_killed:  # a new process after a kill: say what it remembers
            self._lab_killed = False
            said = self.lab.announced
            text = (f"lab process back on {url}: " + (f"history kept, last seq {said.get('last_seq')} "
                    f"({said.get('loaded')} messages loaded from its file)" if said.get("loaded")
                    else "no history, numbering starts again at 1"))
            self.mark_everywhere(text)
        for tab in self.transport_tabs:
            tab.set_lab(url, token)
        self.labReady.emit(url)

    def _on_server_tab_rate_requested(self, rate: float) -> None:
        async def set_rate() -> None:
            if not self.lab.url:
                raise DuplexError("The lab server is not running.")
            answer = await post_fault(self.lab.url, self.lab.token, {"action": "rate", "rate": rate})
            self.mark_everywhere(f"feed rate {answer.get('previous', 0):g} → {rate:g} messages/s")

        self._session_tasks.spawn(set_rate())

    def kill_lab(self, down_s: float, keep_history: bool) -> None:
        if not self.lab.kill_and_restart(down_s, keep_history):
            self.statusBar().showMessage("The lab process is not running (or is already being restarted).",
                                         STATUS_MS)

    def _on_lab_killed(self, down_s: float, keep_history: bool) -> None:
        self._lab_killed = True
        self.lab_label.setText("Lab server: killed")
        text = (f"lab process killed (SIGKILL); a new one in {down_s:g} s, "
                + ("history kept in its file" if keep_history else "history deleted"))
        self.server_tab.lab_down(f"killed; a new process in {down_s:g} s")
        self.mark_everywhere(text)

    # -- what the Server tab's scenario needs ----------------------------------------
    def lab_address(self) -> tuple[str, str]:
        return self.lab.url, self.lab.token

    def network_faults(self) -> list[Callable[[FaultSpec], Awaitable[None]]]:
        """Each tab routed through a fault proxy: how to apply a network fault on it once."""
        return [tab.controller.faults.apply_once for tab in self.transport_tabs
                if tab.controller.faults.route.routed]

    def mark_everywhere(self, text: str) -> None:
        """A fault that touches every transport: a marker row in every timeline, the status bar, the log."""
        self.statusBar().showMessage(text[:1].upper() + text[1:], STATUS_MS)
        for tab in self.transport_tabs:
            tab.controller.state_row("fault", text)
        self.server_tab.log_fault(text)

    async def restart_lab(self, down_s: float, keep_history: bool) -> None:
        """Kill the lab process and return once the new one listens (bounded)."""
        back = asyncio.Event()

        def on_ready(_url: str) -> None:
            back.set()

        self.labReady.connect(on_ready)
        try:
            if not self.lab.kill_and_restart(down_s, keep_history):
                raise DuplexError("The lab process is not running (or is already being restarted).")
            try:
                await asyncio.wait_for(back.wait(), down_s + 30)
            except TimeoutError:
                raise DuplexError(f"The lab process did not come back within {down_s + 30:g} s.") from None
        finally:
            self.labReady.disconnect(on_ready)

    def _on_lab_failed(self, sentence: str) -> None:
        self.lab_label.setText("Lab server: down")
        self.statusBar().showMessage(sentence, STATUS_MS)
        log.error("%s", sentence)

    def _on_tab_status_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    def _on_rate_timer_timeout(self) -> None:
        pushed = self.bridge.pushed
        self.rate_label.setText(f"{pushed - self._last_pushed:,} events/s")
        for tab in self.transport_tabs:
            tab.controller.tick(self.server_view.get(tab.transport))
        self._last_pushed = pushed
        if self.lab.url and self.lab.token and not self._fetching:  # the server's view, once a second
            self._fetching = True
            self._session_tasks.spawn(self._fetch_lab_view(self.lab.url, self.lab.token))

    async def _fetch_lab_view(self, url: str, token: str) -> None:
        try:
            self.sessions_view, stats = await asyncio.gather(lab_sessions(url, token), lab_stats(url, token))
        except DuplexError:  # admin_call says every failure as one
            self.server_tab.lab_unreachable()  # the lab is down: the other panels keep what they showed
            return
        finally:
            self._fetching = False
        self.server_view = self.server_tab.show_stats(stats)
        self.server_tab.show_sessions(self.sessions_view)
        self._session_events(self.sessions_view.get("events", []))
        tab = self.tabs.currentWidget()
        if isinstance(tab, TransportTab):
            tab.session.refresh(self.sessions_view)

    def _session_events(self, events: list[dict]) -> None:
        """The server's session events (created, expired, ended) as rows in the tabs of the
        browser whose session they are about."""
        fresh = [e for e in events if e.get("wall", 0) > self._events_seen]
        if not fresh:
            return
        self._events_seen = max(e.get("wall", 0) for e in fresh)
        for tab in self.transport_tabs:
            browser = tab.controller.browser
            sid = browser.session_id(tab.bar.url_text()) if browser is not None else None
            for e in fresh:
                if sid and sid.startswith(e.get("sid_prefix", "-")):
                    reason = f" ({e['reason']})" if e.get("reason") else ""
                    tab.controller.state_row("session", f"server: session of {e.get('user')} {e.get('kind')}{reason}",
                                     server_event=e.get("kind"))

    def _refresh_session_panels(self) -> None:
        """Show the current tab's virtual browser and tab in its session panel."""
        tab = self.tabs.currentWidget()
        if isinstance(tab, TransportTab) and tab.controller.vtab is not None:
            tab.session.show_tab(tab.controller.vtab, self.browsers, tab.bar.url_text())
            tab.session.refresh(self.sessions_view)

    def _mark_fault(self, source: TransportTab, text: str, everywhere: bool) -> None:
        """A marker row at the moment a fault is applied, in every timeline it affects."""
        for tab in self.transport_tabs if everywhere else [source]:
            tab.controller.state_row("fault", text if tab is source else f"{text} (from the {source.title} tab)")
        self.server_tab.log_fault(f"{source.title}: {text}")

    # -- virtual browsers ---------------------------------------------------------
    def _on_tab_session_changed(self, browser: VirtualBrowser) -> None:
        """A login or logout: every tab of that browser reloads (its connections carry the new state)."""
        for tab in self.transport_tabs:
            if tab.controller.browser is browser:
                tab.controller.reload()
        self._refresh_session_panels()

    def _close_browser(self, browser: VirtualBrowser | None) -> None:
        """Close a virtual browser (tabs and session cookies go) and reopen it, as a user restarting it."""
        if browser is None:
            return
        browser.close()
        for tab in self.transport_tabs:
            if tab.controller.browser is browser:
                tab.attach(browser.new_tab(), self.browsers)
                tab.controller.state_row("session", f"{browser.name} closed and reopened: session cookies "
                                                    "dropped, persistent cookies kept")
                tab.controller.reload()
        self._refresh_session_panels()

    def _move_tab(self, tab: TransportTab, index: int) -> None:
        """Run ``tab`` in another virtual browser (index -1: a new one)."""
        if index < 0:
            self.browsers.append(VirtualBrowser(f"Browser {len(self.browsers) + 1}"))
            index = len(self.browsers) - 1
        browser = self.browsers[index]
        if tab.controller.browser is browser:
            return
        if tab.controller.vtab is not None:
            tab.controller.vtab.close()
        tab.attach(browser.new_tab(), self.browsers)
        tab.controller.state_row("session", f"now in {browser.name}: its own cookies, a new tab")
        tab.controller.reload()
        self._refresh_session_panels()

    # -- settings and lifetime -------------------------------------------------
    def _restore_settings(self) -> None:
        self.setMinimumSize(900, 600)
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry) or self.width() < 1000:
            self.resize(1200, 760)
        for tab in self.transport_tabs:
            recent = self.settings.value(f"{tab.transport}/recent_urls") or []
            if isinstance(recent, str):
                recent = [recent]
            for url in reversed([u for u in recent if isinstance(u, str)]):
                tab.bar.remember_url(url)
            tab.bar.url.setCurrentText("")

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        # the lab's port changes every launch: its URL is not worth remembering,
        # a user's own local server (also on 127.0.0.1) is
        for tab in self.transport_tabs:
            lab = tab.controller.info.lab_url(self.lab.url) if self.lab.url else None
            self.settings.setValue(f"{tab.transport}/recent_urls",
                                   [u for u in tab.bar.recent_urls() if u != lab])

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        super().closeEvent(event)

    async def shutdown(self) -> None:
        for tab in self.transport_tabs:
            await tab.controller.shutdown()
        await self.server_tab.shutdown()
        await self.compare_tab.shutdown()
        await self._session_tasks.cancel_all()
        self.bridge.flush()
        self.lab.stop()
        self.lab.remove_files()
