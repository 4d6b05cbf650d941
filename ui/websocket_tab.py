"""The WebSocket tab: connection bar, send box, timeline and ledger."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.errors import DuplexError
from transport.events import Event, EventSink
from transport.lab_admin import post_fault

from .connection_bar import ConnectionBar
from .ledger_panel import LedgerPanel
from .send_box import SendBox
from .tasks import TaskGroup
from .timeline import TimelineWidget

log = logging.getLogger("duplex.ui.ws")


def lab_ws_url(lab_url: str) -> str:
    parts = urlsplit(lab_url)
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}/ws"


class WebSocketTab(QWidget):
    transport = "websocket"
    statusMessage = Signal(str)
    firstMessage = Signal(object)  # the first incoming feed message (an Event)

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sink = sink
        self.client: WebSocketClient | None = None
        self._lab_url = ""
        self._lab_token = ""
        self._got_first = False
        self._had_error = False
        self._tasks = TaskGroup(self._report)
        self.bar = ConnectionBar()
        self.send_box = SendBox()
        self.timeline = TimelineWidget(cap)
        self.ledger = LedgerPanel()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.timeline)
        split.addWidget(self.ledger)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([860, 320])
        layout = QVBoxLayout(self)
        layout.addWidget(self.bar)
        layout.addWidget(self.send_box)
        layout.addWidget(split, 1)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.bar.connectRequested.connect(self._on_bar_connect_requested)
        self.bar.disconnectRequested.connect(self._on_bar_disconnect_requested)
        self.bar.dropRequested.connect(self._on_bar_drop_requested)
        self.bar.restartRequested.connect(self._on_bar_restart_requested)
        self.send_box.sendRequested.connect(self._on_send_box_send_requested)
        self.send_box.failed.connect(self._report)

    # -- lab server ------------------------------------------------------------
    def set_lab(self, url: str, token: str, autoconnect: bool = True) -> None:
        previous = lab_ws_url(self._lab_url) if self._lab_url else ""
        self._lab_url, self._lab_token = url, token
        self.bar.restart_button.setEnabled(True)
        current = self.bar.url_text()
        if not current or current == previous:
            self.bar.remember_url(lab_ws_url(url))
        if autoconnect and self.client is None:
            self.connect_client()

    # -- events from the bridge ------------------------------------------------
    def append_events(self, events: list[Event]) -> None:
        self.timeline.append_events(events)
        client = self.client
        if client is not None:
            self.ledger.show_ledger(client.ledger)
            self.bar.set_state(client.state)
        for e in events:
            if e.direction == "state" and e.kind == "error":
                self.statusMessage.emit(f"WebSocket: {e.data}")
                self._had_error = True
            elif e.direction == "state" and e.kind == "open" and self._had_error:
                self._had_error = False
                self.statusMessage.emit(f"WebSocket: connected again to {e.data}")
            elif not self._got_first and e.direction == "in" and e.kind == "message":
                self._got_first = True
                self.firstMessage.emit(e)

    # -- actions ---------------------------------------------------------------
    def connect_client(self) -> None:
        if self.client is not None:
            return
        try:
            options = WebSocketOptions(
                url=self.bar.url_text(),
                headers=self.bar.header_pairs(),
                subprotocols=self.bar.subprotocol_list(),
                policy=self.bar.reconnect_policy(),
                resume=self.bar.resume.isChecked(),
            )
        except DuplexError as err:
            self._report(err.sentence)
            return
        client = WebSocketClient(options, self._sink)
        self.client = client
        self.bar.set_state("connecting")
        self.bar.remember_url(options.url)
        self._tasks.spawn(self._run(client))

    async def _run(self, client: WebSocketClient) -> None:
        try:
            err = await client.run()
        finally:
            if self.client is client:
                self.client = None
            self.bar.set_state(client.state)
            self.ledger.show_ledger(client.ledger)
        if err is not None:
            self._report(f"WebSocket stopped: {err.sentence}")

    def disconnect_client(self) -> None:
        client = self.client
        if client is not None:
            self._tasks.spawn(client.close())

    def _on_bar_connect_requested(self) -> None:
        self.connect_client()

    def _on_bar_disconnect_requested(self) -> None:
        self.disconnect_client()

    def _on_bar_drop_requested(self) -> None:
        if self.client is None or not self.client.drop():
            self._report("Nothing to drop: the WebSocket is not open.")

    def _on_bar_restart_requested(self, down_s: float) -> None:
        if not self._lab_url:
            self._report("The lab server is not running.")
            return
        self._tasks.spawn(self._restart(down_s))

    async def _restart(self, down_s: float) -> None:
        self.statusMessage.emit(f"Lab server going down for {down_s:g} s…")
        await post_fault(self._lab_url, self._lab_token, {"action": "restart", "down_s": down_s})

    def _on_send_box_send_requested(self, kind: str, payload: str | bytes) -> None:
        client = self.client
        if client is None or not client.connected:
            self._report("Not connected: connect first, then send.")
            return
        if kind == "binary":
            self._tasks.spawn(client.send_binary(payload))  # type: ignore[arg-type]
        elif kind == "json":
            self._tasks.spawn(client.send_json(payload))  # type: ignore[arg-type]
        else:
            self._tasks.spawn(client.send_text(payload))  # type: ignore[arg-type]

    def _report(self, sentence: str) -> None:
        log.warning("%s", sentence)
        self.statusMessage.emit(sentence)

    async def shutdown(self) -> None:
        client = self.client
        if client is not None:
            await client.close()
        await self._tasks.cancel_all()
