"""The main window: the lab process, the bridge, the transport tabs, the status bar."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget

from transport.events import Event

from .bridge import EventBridge
from .lab_process import LabProcess
from .websocket_tab import WebSocketTab, lab_ws_url

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
        self.tabs = QTabWidget()
        self.tabs.addTab(self.ws_tab, "WebSocket")
        self.setCentralWidget(self.tabs)
        self.lab_label = QLabel("Lab server: starting…")
        self.rate_label = QLabel()
        self.statusBar().addPermanentWidget(self.rate_label)
        self.statusBar().addPermanentWidget(self.lab_label)
        self._rate_timer = QTimer(self)
        self._rate_timer.setInterval(1000)
        self._last_pushed = 0
        self._routes = {"websocket": self.ws_tab}
        self._connect_signals()
        self._restore_settings()
        self._rate_timer.start()
        if start_lab:
            self.lab.start()

    def _connect_signals(self) -> None:
        self.bridge.events.connect(self._on_bridge_events)
        self.lab.listening.connect(self._on_lab_listening)
        self.lab.failed.connect(self._on_lab_failed)
        self.ws_tab.statusMessage.connect(self._on_tab_status_message)
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
        self.ws_tab.set_lab(url, token)
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
        recent = self.settings.value("websocket/recent_urls") or []
        if isinstance(recent, str):
            recent = [recent]
        for url in reversed([u for u in recent if isinstance(u, str)]):
            self.ws_tab.bar.remember_url(url)
        self.ws_tab.bar.url.setCurrentText("")

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        # the lab's port changes every launch: its URL is not worth remembering,
        # a user's own local server (also on 127.0.0.1) is
        lab = lab_ws_url(self.lab.url) if self.lab.url else None
        self.settings.setValue("websocket/recent_urls", [u for u in self.ws_tab.bar.recent_urls() if u != lab])

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        super().closeEvent(event)

    async def shutdown(self) -> None:
        await self.ws_tab.shutdown()
        self.bridge.flush()
        self.lab.stop()
