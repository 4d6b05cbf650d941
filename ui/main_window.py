"""The main window: the lab process, the bridge, the transport tabs, the menus, the status bar."""

from __future__ import annotations

import functools
import logging
from typing import Callable

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QTabBar, QTabWidget, QToolButton, QWidget

from transport.core.events import Event

from . import dialogs
from .bridge import EventBridge
from .controllers.browsers import BrowsersController
from .controllers.compare import CompareController
from .controllers.lab import LabController
from .lab_process import LabProcess
from .controllers.scenario import ScenarioController
from .controllers.workspace import WorkspaceFiles
from .identity import NAME, ORGANIZATION
from .commands import WindowCommands
from .tab_keys import TabKeys
from .menus import Menus
from .tabs.ajax_tab import AjaxTab
from .tabs.browser_tab import BrowserTab
from .tabs.compare_tab import CompareTab
from .tabs.feed_tabs import LongPollTab, ShortPollTab, StreamTab
from .tabs.server_tab import ServerTab
from .tabs.socketio_tab import SocketIOTab
from .tabs.sse_tab import SSETab
from .tabs.transport_tab import TransportTab
from .tabs.websocket_tab import WebSocketTab
from .theme import MODES
from .widgets.timeline import TimelineWidget

log = logging.getLogger("duplex.ui")

STATUS_MS = 10_000


class MainWindow(QMainWindow):
    labReady = Signal(str)

    def __init__(self, *, rate: float = 5.0, cap: int = 1_000_000, start_lab: bool = True,
                 settings: QSettings | None = None, workspace: bool = True, lab: LabProcess | None = None) -> None:
        """``workspace``: reopen the last workspace (when the preference says so); ``--smoke`` passes False.
        ``lab``: the lab process, started before the window was built (it starts while the window builds)."""
        super().__init__()
        self.setWindowTitle("Duplex — real-time transport lab")
        self.settings = settings or QSettings(ORGANIZATION, NAME)
        dialogs.use_settings(self.settings)
        self.bridge = EventBridge(parent=self)
        self.cap = cap
        self.lab = LabController(rate=rate, parent=self, process=lab)  # the one owner of the lab
        self.monitor = self.lab.monitor
        self.ws_tab = WebSocketTab(self.bridge, cap)
        self.sse_tab = SSETab(self.bridge, cap)
        self.short_poll_tab = ShortPollTab(self.bridge, cap)
        self.long_poll_tab = LongPollTab(self.bridge, cap)
        self.stream_tab = StreamTab(self.bridge, cap)
        self.ajax_tab = AjaxTab(self.bridge, cap)
        self.socketio_tab = SocketIOTab(self.bridge, cap)
        self.transport_tabs: list[TransportTab] = [self.ws_tab, self.sse_tab, self.short_poll_tab,
                                                   self.long_poll_tab, self.stream_tab, self.ajax_tab,
                                                   self.socketio_tab]
        self.virtual_browsers = BrowsersController([tab.controller for tab in self.transport_tabs], self)
        self.browsers = self.virtual_browsers.browsers
        self.tabs = QTabWidget()
        self.tab_keys = TabKeys(self, self.tabs)  # Ctrl+Tab, Ctrl+PageDown… wherever the focus is
        for tab in self.transport_tabs:
            self.tabs.addTab(tab, tab.title)
            vtab = tab.controller.vtab
            assert vtab is not None  # BrowsersController put every tab in a virtual browser
            tab.attach(vtab, self.browsers)
        self.browser_tab = BrowserTab(cap)
        self.tabs.addTab(self.browser_tab, self.browser_tab.title)
        self.compare_tab = CompareTab(CompareController(self))
        self.tabs.addTab(self.compare_tab, self.compare_tab.title)
        self.scenario = ScenarioController(self.lab, self)
        self.server_tab = ServerTab(self.scenario)
        self.tabs.addTab(self.server_tab, self.server_tab.title)
        for tab in self.transport_tabs:
            self.lab.add_timeline(functools.partial(tab.controller.state_row, "fault"))
        self.lab.add_timeline(functools.partial(self.browser_tab.controller.state_row, "fault"))
        self.lab.set_network_faults(lambda: [tab.controller.faults.apply_once for tab in self.transport_tabs
                                             if tab.controller.faults.route.routed])
        self.setCentralWidget(self.tabs)
        self.lab_label = QLabel("Lab server: starting…")
        self.rate_label = QLabel()
        # never squeezed by a long message beside it: room for the widest rate it shows
        self.rate_label.setMinimumWidth(self.rate_label.fontMetrics().horizontalAdvance("1,000,000 events/s") + 8)
        self.statusBar().addPermanentWidget(self.rate_label)
        self.statusBar().addPermanentWidget(self.lab_label)
        self._last_pushed = 0
        self._routes = {tab.transport: tab for tab in self.transport_tabs}
        self.workspaces = WorkspaceFiles(self.settings, self)
        self.commands = WindowCommands(self, self)
        self.menus = Menus(self.menuBar(), self.commands)
        self._connect_signals()
        self._restore_settings()
        if start_lab:
            self.lab.start()
        else:
            self.monitor.start()
        if workspace and self.settings.value("workspace/reopen", True, type=bool):
            self.workspaces.reopen_last()

    def _connect_signals(self) -> None:
        self.bridge.delivered.connect(self._on_bridge_delivered)
        lab = self.lab
        lab.ready.connect(self._on_lab_ready)
        lab.labText.connect(self.lab_label.setText)
        lab.said.connect(self.say)
        lab.down.connect(self.server_tab.lab_down)
        lab.faultLogged.connect(self.server_tab.log_fault)
        lab.viewed.connect(self._on_lab_viewed)
        lab.unreachable.connect(self.server_tab.lab_unreachable)
        self.browser_tab.timeline.files.open_view = self.open_import  # Import there too: a tab of its own
        for tab in self.transport_tabs:
            tab.timeline.files.open_view = self.open_import
            tab.openInRequested.connect(self.open_in)
            c = tab.controller
            c.statusMessage.connect(lambda text, t=tab: log.info("%s: %s", t.title, text))  # the tab shows it
            c.faultMarker.connect(lambda text, everywhere, tab=tab: self._mark_fault(tab, text, everywhere))
            c.killRequested.connect(lab.kill)
            tab.session.browserChosen.connect(lambda index, c=c: self.virtual_browsers.move(c, index))
            tab.session.closeBrowserRequested.connect(lambda c=c: self.virtual_browsers.close(c.browser))
        self.virtual_browsers.changed.connect(self._refresh_session_panels)
        self.monitor.second.connect(self._on_monitor_second)
        self.monitor.sessionEvents.connect(self.virtual_browsers.server_events)
        self.server_tab.killRequested.connect(lab.kill)
        self.server_tab.rateRequested.connect(lab.set_rate)
        self.server_tab.clusterRequested.connect(lab.set_cluster)
        self.server_tab.workerActionRequested.connect(lab.worker_action)
        self.monitor.workersViewed.connect(self.server_tab.show_workers)
        self.server_tab.statusMessage.connect(lambda text: self._on_tab_status_message(self.server_tab, text))
        self.browser_tab.agreement_run.faultMarked.connect(lab.mark_everywhere)
        self.compare_tab.statusMessage.connect(lambda text: self._on_tab_status_message(self.compare_tab, text))
        self.tabs.currentChanged.connect(lambda _i: self._refresh_session_panels())
        self.tabs.currentChanged.connect(self.commands.on_current_changed)
        for tab in self.transport_tabs:
            tab.timeline.columnsChanged.connect(self.commands.set_hidden_columns)
        self.workspaces.opened.connect(self.commands.on_workspace_opened)
        self.workspaces.said.connect(lambda text: self.statusBar().showMessage(text, STATUS_MS))
        self.workspaces.said.connect(lambda text: log.info("%s", text))

    # -- slots -----------------------------------------------------------------
    def _on_bridge_delivered(self, transport: str, batch: list[Event]) -> None:
        tab = self._routes.get(transport)
        if tab is not None:
            tab.set_received(self.bridge.counts.get(transport, 0))
            tab.controller.take(batch)

    def _on_lab_ready(self, url: str, token: str) -> None:
        """The lab (a new process after a kill, or a cluster) listens: every tab follows it."""
        self.server_tab.set_lab(url, self.lab.history_text())
        for tab in self.transport_tabs:
            tab.set_lab(url, token)
        self.browser_tab.set_lab(url, token, self.lab.announced.get("tls"))
        self.server_tab.set_cluster(self.lab.announced)
        self.labReady.emit(url)

    def open_import(self, name: str) -> Callable[[list[Event]], None]:
        """A read-only timeline tab for an imported file, titled with it and closable; where its rows go."""
        view = TimelineWidget(self.cap, event_names=True)  # a file may hold SSE or Socket.IO events
        for button in (view.import_button, view.clear_button, view.pause_button):
            button.hide()  # a file's rows: nothing arrives, nothing to pause or clear
        view.said.connect(lambda text: self._on_tab_status_message(view, text))
        index = self.tabs.addTab(view, f"{name} (imported)")
        self.tabs.setTabToolTip(index, f"Rows imported from {name}: read-only")
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip(f"Close {name}")
        close.clicked.connect(lambda: self._close_import(view))
        self.tabs.tabBar().setTabButton(index, QTabBar.ButtonPosition.RightSide, close)
        self.tabs.setCurrentIndex(index)
        return view.append_events

    def _close_import(self, view: QWidget) -> None:
        index = self.tabs.indexOf(view)
        if index >= 0:
            self.tabs.removeTab(index)
            view.deleteLater()

    def say(self, text: str) -> None:
        """A sentence of the window's own (a window task that failed): on the status bar, and in the log."""
        log.info("%s", text)
        self.statusBar().showMessage(text, STATUS_MS)

    def _on_tab_status_message(self, tab: QWidget, text: str) -> None:
        """The Compare and Server tabs' sentences: on the window's status bar while that tab is shown
        (the transport tabs have status lines of their own), and in the log either way."""
        log.info("%s", text)
        if self.tabs.currentWidget() is tab:
            self.statusBar().showMessage(text, STATUS_MS)

    def _on_monitor_second(self) -> None:
        pushed = self.bridge.pushed
        self.rate_label.setText(f"{pushed - self._last_pushed:,} events/s")
        self._last_pushed = pushed
        for tab in self.transport_tabs:
            tab.controller.tick(self.lab.server_view.get(tab.transport))
        self.browser_tab.controller.tick()

    def _on_lab_viewed(self, stats: dict, sessions: dict, rates: dict) -> None:
        self.server_tab.show_stats(stats, rates)
        self.server_tab.show_sessions(sessions)
        for each in self.transport_tabs:  # the lab's session settings: the same in every tab's panel
            each.session.show_server_settings(sessions)
        tab = self.tabs.currentWidget()
        if isinstance(tab, TransportTab):
            tab.session.refresh(sessions)

    def _refresh_session_panels(self) -> None:
        """Show the current tab's virtual browser and tab in its session panel."""
        tab = self.tabs.currentWidget()
        if isinstance(tab, TransportTab) and tab.controller.vtab is not None:
            tab.session.show_tab(tab.controller.vtab, self.browsers, tab.bar.url_text())
            tab.session.refresh(self.monitor.sessions)

    def open_in(self, transport: str, settings: dict) -> None:
        """Another tab's request in the tab of ``transport`` (the stream tab met an SSE stream): shown, connected."""
        tab = next((t for t in self.transport_tabs if t.transport == transport), None)
        if tab is None:
            return
        tab.apply_request(settings)
        self.tabs.setCurrentWidget(tab)
        tab.connect_client(new_connection=tab.controller.client is not None)

    def _mark_fault(self, source: TransportTab, text: str, everywhere: bool) -> None:
        """A marker row at the moment a fault is applied, in every timeline it affects."""
        for tab in self.transport_tabs if everywhere else [source]:
            tab.controller.state_row("fault", text if tab is source else f"{text} (from the {source.title} tab)")
        # a fault on the whole lab (a restart, closing every WebSocket…) is the lab's, whichever tab started it
        self.server_tab.log_fault(f"whole lab (from the {source.title} tab): {text}" if everywhere
                                  else f"{source.title}: {text}")

    # -- settings and lifetime -------------------------------------------------
    def _restore_settings(self) -> None:
        self.setMinimumSize(900, 600)
        mode = self.settings.value("view/theme", "system")
        self.commands.set_theme(mode if mode in MODES else "system")
        hidden = self.settings.value("timeline/hidden_columns") or []
        self.commands.set_hidden_columns([hidden] if isinstance(hidden, str) else
                                         [h for h in hidden if isinstance(h, str)])
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
        await self.browser_tab.shutdown()
        await self.compare_tab.shutdown()
        await self.workspaces.shutdown()
        self.bridge.flush()
        await self.lab.shutdown()
