"""Virtual against real: the table of where Duplex's virtual browser and Chromium agree, from one run
of the same scenario on both (transport/browser/agreement.py)."""

from __future__ import annotations

from typing import Protocol, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..theme import theme
from .header_tips import TIPS, read_only_table

COLUMNS = ("Aspect", "Virtual", "Chromium", "Agree")
TIPS.update({"Aspect": "What both browsers did in the same scenario against the lab",
             "Virtual": "What Duplex's virtual browser showed", "Chromium": "What the real Chromium showed",
             "Agree": "✔ the same; ✘ they differ (fixed in the virtual browser or explained in docs/decisions.md)"})


class AspectRow(Protocol):
    """One aspect both browsers showed (transport/browser/agreement.py: Row)."""

    aspect: str
    virtual: str
    real: str
    agree: bool


class AgreementPanel(QGroupBox):
    """The table and its button; the run is the Browser tab's AgreementController's (the tab binds them)."""

    runConfirmed = Signal()  # the user read what the run does to the shared lab, and goes on

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Virtual against real", parent)
        self.run_button = QPushButton("Run the scenario on both")
        # asked before a run, here (not a modal dialog: the window never blocks): what it does to the shared lab
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.go_button = QPushButton("Go on")
        self.cancel_button = QPushButton("Cancel")
        self.confirm = QWidget()
        confirm = QVBoxLayout(self.confirm)
        confirm.setContentsMargins(0, 0, 0, 0)
        confirm.addWidget(self.warning)
        buttons = QHBoxLayout()
        buttons.addWidget(self.go_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        confirm.addLayout(buttons)
        self.confirm.hide()
        self.run_button.setToolTip("Log in, reload, new tab, close, a server restart and the session's expiry, "
                                   "on the virtual browser and on a headless Chromium (about 15 s)")
        self.state = QLabel("Not run yet.")
        self.state.setWordWrap(True)
        self.table = read_only_table(COLUMNS)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the aspect wraps; the values fit
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(160)
        layout = QVBoxLayout(self)
        layout.addWidget(self.run_button)
        layout.addWidget(self.confirm)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        self.rows: list[AspectRow] = []
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.go_button.clicked.connect(self._on_go_button_clicked)
        self.cancel_button.clicked.connect(self.confirm.hide)

    def ask_first(self, sentence: str) -> None:
        """What a run does that others meet (shown before each run, to confirm)."""
        self.warning.setText(sentence)

    def _on_run_button_clicked(self) -> None:
        if self.warning.text():
            self.confirm.show()
        else:
            self.runConfirmed.emit()

    def _on_go_button_clicked(self) -> None:
        self.confirm.hide()
        self.runConfirmed.emit()

    def show_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)

    def show_rows(self, rows: Sequence[AspectRow]) -> None:
        self.rows = list(rows)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate((row.aspect, row.virtual, row.real, "✔" if row.agree else "✘")):
                item = QTableWidgetItem(text)
                if c == 3:
                    item.setForeground(theme().colour("ok" if row.agree else "error"))
                self.table.setItem(r, c, item)
