"""The main window: the lab process, the bridge, the transport tabs, the status bar."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget

from transport.events import Event

from .bridge import EventBridge
from .lab_process import LabProcess
from .ajax_tab import AjaxTab
from .feed_tabs import LongPollTab, ShortPollTab, StreamTab
from .sse_tab import SSETab
from .transport_tab import TransportTab
from .websocket_tab import WebSocketTab

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
        self.tabs = QTabWidget()
        for tab in self.transport_tabs:
            self.tabs.addTab(tab, tab.title)
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
        for tab in self.transport_tabs:
            tab.statusMessage.connect(self._on_tab_status_message)
        self._rate_timer.timeout.connect(self._on_rate_timer_timeout)

    # -- slots -----------------------------------------------------------------
    def _on_bridge_events(self, events: list[Event]) -> None:
        by_transport: dict[str, list[Event]] = {}
        for e in events:
            by_transport.setdefault(e.transport, []).append(e)
        for transport, batch in by_transport.items():
            tab = self._routes.get(transport)
            if tab is not None:
                tab.append_events(batch)

    def _on_lab_listening(self, url: str, token: str) -> None:
        self.lab_label.setText(f"Lab server: {url}")
        for tab in self.transport_tabs:
            tab.set_lab(url, token)
        self.labReady.emit(url)

    def _on_lab_failed(self, sentence: str) -> None:
        self.lab_label.setText("Lab server: down")
        self.statusBar().showMessage(sentence, STATUS_MS)
        log.error("%s", sentence)

    def _on_tab_status_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    def _on_rate_timer_timeout(self) -> None:
        pushed = self.bridge.pushed
        self.rate_label.setText(f"{pushed - self._last_pushed:,} events/s")
        self._last_pushed = pushed

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
            lab = tab.lab_endpoint(self.lab.url) if self.lab.url else None
            self.settings.setValue(f"{tab.transport}/recent_urls",
                                   [u for u in tab.bar.recent_urls() if u != lab])

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        super().closeEvent(event)

    async def shutdown(self) -> None:
        for tab in self.transport_tabs:
            await tab.shutdown()
        self.bridge.flush()
        self.lab.stop()
