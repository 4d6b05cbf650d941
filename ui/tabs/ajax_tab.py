"""The AJAX / postback tab: the same change as a small AJAX call and as a whole-page postback."""

from __future__ import annotations

from typing import Any, Awaitable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QGroupBox, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QTableWidget, QTableWidgetItem, QWidget)

from transport.clients.ajax import AjaxClient, Exchange
from transport.core.errors import DuplexError
from transport.core.events import Event, EventSink

from ..controllers.tab import TabController
from ..widgets.connection_bar import ConnectionBar
from ..widgets.header_tips import set_header_tips
from ..widgets.wire_panel import WirePanel
from .transport_tab import TransportTab

COMPARE_ROWS = (("ajax", "AJAX: POST /api/session-value"), ("postback", "Postback: POST /form"),
                ("load", "Page load: GET /form (once)"))
COMPARE_COLUMNS = ("Change by", "Round trips", "Sent", "Received", "Total", "ms")


class AjaxTab(TransportTab):
    transport = "ajax"

    def __init__(self, sink: EventSink, cap: int = 1_000_000, parent: QWidget | None = None,
                 controller: TabController | None = None) -> None:
        super().__init__(sink, cap, parent, controller)
        self.ledger.hide()  # half-duplex: no feed to lose
        self.wire = WirePanel("")
        self.side_layout.insertWidget(0, self.wire)
        self.rules.hide()  # AJAX reads no feed: nothing to number or resume
        self.message = QLineEdit('{"topic": "chat", "body": "hello from AJAX"}')
        self.post_button = QPushButton("Post message (AJAX)")
        self.post_button.setToolTip("POST /api/messages: broadcast to every transport")
        self.value = QLineEdit("blue")
        self.value.setPlaceholderText("A value to store on the server")
        self.ajax_button = QPushButton("Set by AJAX")
        self.postback_button = QPushButton("Set by postback")
        self.both_button = QPushButton("Compare both")
        self.get_button = QPushButton("Get value")
        self.fragment = QLabel("—")
        self.fragment.setTextFormat(Qt.TextFormat.PlainText)  # show the HTML the server sent, not render it
        self.compare = QTableWidget(len(COMPARE_ROWS), len(COMPARE_COLUMNS))
        self.compare.setHorizontalHeaderLabels(COMPARE_COLUMNS)
        set_header_tips(self.compare)
        self.compare.verticalHeader().setVisible(False)
        self.compare.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.compare.horizontalHeader().setStretchLastSection(True)
        self.compare.setMaximumHeight(120)
        for row, (_, title) in enumerate(COMPARE_ROWS):
            self.compare.setItem(row, 0, QTableWidgetItem(title))
        box = QGroupBox("Requests")
        grid = QGridLayout(box)
        grid.addWidget(QLabel("Message (JSON)"), 0, 0)
        grid.addWidget(self.message, 0, 1, 1, 3)
        grid.addWidget(self.post_button, 0, 4)
        grid.addWidget(QLabel("Value"), 1, 0)
        grid.addWidget(self.value, 1, 1)
        grid.addWidget(self.ajax_button, 1, 2)
        grid.addWidget(self.postback_button, 1, 3)
        grid.addWidget(self.both_button, 1, 4)
        grid.addWidget(self.get_button, 2, 2)
        grid.addWidget(self.fragment, 2, 3, 1, 2)
        grid.addWidget(self.compare, 3, 0, 1, 5)
        self.layout_.insertWidget(1, box)
        self.post_button.clicked.connect(self._on_post_button_clicked)
        self.ajax_button.clicked.connect(self._on_ajax_button_clicked)
        self.postback_button.clicked.connect(self._on_postback_button_clicked)
        self.both_button.clicked.connect(self._on_both_button_clicked)
        self.get_button.clicked.connect(self._on_get_button_clicked)
        self._shown_client: AjaxClient | None = None
        self.faults.hide_race()  # nothing to reconnect

    def make_bar(self) -> ConnectionBar:
        bar = ConnectionBar(placeholder="http(s)://host:port of a server with /api/messages, "
                                        "/api/session-value and /form", subprotocols=False, resume=False)
        bar.hide_reconnect()
        return bar

    def client_options(self) -> dict[str, Any]:
        return {"headers": self.bar.header_pairs()}

    def on_events(self, events: list[Event]) -> None:
        client = self.controller.client
        if isinstance(client, AjaxClient):
            self._shown_client = client
        if self._shown_client is not None:
            self.wire.show_stats(self._shown_client.stats)
            self._show_compare(self._shown_client)

    # -- actions -------------------------------------------------------------------------
    def _ready(self) -> AjaxClient | None:
        client = self.controller.client
        if not isinstance(client, AjaxClient) or not client.connected:
            self.controller.report("Not connected: connect first, then send.")
            return None
        return client

    def _on_post_button_clicked(self) -> None:
        client = self._ready()
        if client is not None:
            self.controller.spawn(self._do(client.post_message(self.message.text())))

    def _on_ajax_button_clicked(self) -> None:
        client = self._ready()
        if client is not None:
            self.controller.spawn(self._do(client.set_value(self.value.text()), fragment=True))

    def _on_postback_button_clicked(self) -> None:
        client = self._ready()
        if client is not None:
            self.controller.spawn(self._do(client.postback(self.value.text())))

    def _on_both_button_clicked(self) -> None:
        client = self._ready()
        if client is not None:
            self.controller.spawn(self._both(client, self.value.text()))

    def _on_get_button_clicked(self) -> None:
        client = self._ready()
        if client is not None:
            self.controller.spawn(self._do(client.get_value(), fragment=True))

    async def _both(self, client: AjaxClient, value: str) -> None:
        if await self._do(client.set_value(value), fragment=True) is not None:
            await self._do(client.postback(value))
            ajax, postback = client.compare.get("ajax"), client.compare.get("postback")
            if ajax is not None and postback is not None and ajax.wire:
                self.controller.statusMessage.emit(f"The same change: AJAX {ajax.wire:,} B in one round trip, "
                                        f"postback {postback.wire:,} B ({postback.wire / ajax.wire:.1f}×).")

    async def _do(self, op: Awaitable[Exchange], fragment: bool = False) -> Exchange | None:
        try:
            ex = await op
        except DuplexError as err:
            if not self.controller.session.expired(err):
                self.controller.report(f"AJAX: {err.sentence}")
            return None
        if fragment:
            self.fragment.setText(ex.body.decode("utf-8", "replace")[:200])
            self.fragment.setToolTip("The HTML fragment the server answered")
        client = self._ready()
        if client is not None:
            self._show_compare(client)
        return ex

    def _show_compare(self, client: AjaxClient) -> None:
        for row, (key, _) in enumerate(COMPARE_ROWS):
            ex = client.compare.get(key)
            if ex is None:
                continue
            for col, text in enumerate(("1", f"{ex.sent:,} B", f"{ex.received:,} B", f"{ex.wire:,} B",
                                        f"{ex.ms:.1f}"), start=1):
                self.compare.setItem(row, col, QTableWidgetItem(text))
