"""Streams per origin: how many streams one page may hold open to one origin, over HTTP/1.1 and HTTP/2 — the
form, and a row per stream (the Browser tab binds it to its StreamsController)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSpinBox,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from .header_tips import TIPS, read_only_table

COLUMNS = ("Series", "Stream", "State", "Protocol", "Connection", "Opened ms")
TIPS.update({"Series": "HTTP/1.1 (the lab's http/1.1-only port) or HTTP/2 (its h2 port)",
             "Stream": "The stream's number on the page", "State": "open, or pending: still waiting for a connection",
             "Protocol": "Network.Response.protocol: what the stream's connection speaks",
             "Connection": "Network.Response.connectionId: which of the browser's connections carried it",
             "Opened ms": "When its response headers arrived, from the page's first stream request"})


class StreamsPanel(QGroupBox):
    runRequested = Signal(int, str)  # streams, kind ("sse" or "fetch")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Streams per origin", parent)
        self.count = QSpinBox(minimum=1, maximum=200, value=10)
        self.count.setToolTip("How many streams the page opens at once (a browser holds six per origin over "
                              "HTTP/1.1)")
        self.kind = QComboBox()
        self.kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.kind.addItem("EventSource", "sse")
        self.kind.addItem("fetch streams", "fetch")
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("A headless Chromium of its own opens the lab's page of N streams, over HTTP/1.1 "
                                   "and then HTTP/2 (the TLS lab), and says when each opened and on which connection")
        self.state = QLabel("Not run yet.")
        self.state.setWordWrap(True)
        self.table = read_only_table(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(160)
        self.table.setMinimumWidth(160)  # it scrolls sideways itself: the pane never has to
        form = QHBoxLayout()
        form.addWidget(self.count)  # "10 EventSource", "10 fetch streams": the combo names what is counted
        form.addWidget(self.kind)
        form.addWidget(self.run_button)
        form.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        self.run_button.clicked.connect(lambda: self.runRequested.emit(self.count.value(), str(self.kind.currentData())))

    def show_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            opened = row.get("opened_ms")
            state = row["state"] + (" → opened after a close" if row.get("after_close") else "")
            cells = (row["series"], str(row["stream"]), state, row.get("protocol") or "—",
                     "—" if row.get("connection") is None else str(row["connection"]),
                     "—" if opened is None else f"{opened:,.1f}")
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
