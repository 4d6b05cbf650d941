"""The AJAX / postback tab: the same change as a small AJAX call and as a whole-page postback."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QGroupBox, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from transport.core.events import Event, EventSink

from ..controllers.ajax import AjaxController
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
        # every row in view: the header, the rows and a horizontal scroll bar's room (it was 1.5 rows tall)
        self.compare.setFixedHeight(self.compare.horizontalHeader().sizeHint().height()
                                    + len(COMPARE_ROWS) * self.compare.verticalHeader().defaultSectionSize()
                                    + self.compare.horizontalScrollBar().sizeHint().height()
                                    + 2 * self.compare.frameWidth())
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
        self.layout_.insertWidget(1, box)
        # the cost of each way, beside the ledger (it scrolls there at 900×600; above the timeline it took the
        # timeline's rows)
        compare_box = QGroupBox("Change by: AJAX vs postback")
        QVBoxLayout(compare_box).addWidget(self.compare)
        self.side_layout.insertWidget(0, compare_box)
        self.ajax = AjaxController(self.controller, self)
        self.post_button.clicked.connect(lambda: self.ajax.post_message(self.message.text()))
        self.ajax_button.clicked.connect(lambda: self.ajax.set_value(self.value.text()))
        self.postback_button.clicked.connect(lambda: self.ajax.postback(self.value.text()))
        self.both_button.clicked.connect(lambda: self.ajax.both(self.value.text()))
        self.get_button.clicked.connect(self.ajax.get_value)
        self.ajax.fragment.connect(self._show_fragment)
        self.ajax.compared.connect(self._show_compare)
        self.faults.hide_race()  # nothing to reconnect

    def make_bar(self) -> ConnectionBar:
        bar = ConnectionBar(placeholder="http(s)://host:port of a server with /api/messages, "
                                        "/api/session-value and /form", subprotocols=False, resume=False)
        bar.hide_reconnect()
        return bar

    def client_options(self) -> dict[str, Any]:
        return {"headers": self.bar.header_pairs(), **self.bar.tls_options()}

    def on_events(self, events: list[Event]) -> None:
        client = self.controller.client
        if client is not None:
            self.wire.show_stats(client.stats)
            self.ajax.show_compare(client)

    # -- what the controller says --------------------------------------------------------
    def _show_fragment(self, html: str) -> None:
        self.fragment.setText(html)
        self.fragment.setToolTip("The HTML fragment the server answered")

    def _show_compare(self, compared: dict[str, tuple[int, int, int, float]]) -> None:
        for row, (key, _) in enumerate(COMPARE_ROWS):
            cost = compared.get(key)
            if cost is None:
                continue
            sent, received, wire, ms = cost
            for col, text in enumerate(("1", f"{sent:,} B", f"{received:,} B", f"{wire:,} B", f"{ms:.1f}"), start=1):
                self.compare.setItem(row, col, QTableWidgetItem(text))
