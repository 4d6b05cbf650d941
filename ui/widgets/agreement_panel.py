"""Virtual against real: the table of where Duplex's virtual browser and Chromium agree, from one run
of the same scenario on both (transport/browser/agreement.py)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QGroupBox, QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from transport.browser.agreement import EXPIRY_S, RESTART_DOWN_S, Row, compare

from ..tasks import TaskGroup
from ..theme import theme
from .header_tips import TIPS, set_header_tips

COLUMNS = ("Aspect", "Virtual", "Chromium", "Agree")
TIPS.update({"Aspect": "What both browsers did in the same scenario against the lab",
             "Virtual": "What Duplex's virtual browser showed", "Chromium": "What the real Chromium showed",
             "Agree": "✔ the same; ✘ they differ (fixed in the virtual browser or explained in docs/decisions.md)"})


class AgreementPanel(QGroupBox):
    faultMarked = Signal(str)  # the scenario restarts the lab: every timeline marks it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Virtual against real", parent)
        self.lab_url = ""
        self.lab_token = ""
        self.run_button = QPushButton("Run the scenario on both")
        self.run_button.setToolTip("Log in, reload, new tab, close, a server restart and the session's expiry, "
                                   "on the virtual browser and on a headless Chromium (about 15 s)")
        self.state = QLabel("Not run yet.")
        self.state.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        set_header_tips(self.table)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the aspect wraps; the values fit
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(160)
        layout = QVBoxLayout(self)
        layout.addWidget(self.run_button)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        self.rows: list[Row] = []
        self._tasks = TaskGroup(self._failed)
        self.run_button.clicked.connect(self.run)

    def run(self) -> None:
        if not self.lab_url:
            self.state.setText("The lab is not running yet.")
            return
        self.run_button.setEnabled(False)

        self.faultMarked.emit(f"virtual vs real: the scenario restarts the lab ({RESTART_DOWN_S:g} s down) and "
                              f"shortens the sessions' lifetime to {EXPIRY_S} s for a moment")

        async def go() -> None:
            try:
                rows = await compare(self.lab_url, self.lab_token, self.state.setText)
            finally:
                self.run_button.setEnabled(True)
            self.show_rows(rows)

        self._tasks.spawn(go())

    def _failed(self, sentence: str) -> None:
        self.state.setText(sentence)
        self.run_button.setEnabled(True)

    def show_rows(self, rows: list[Row]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate((row.aspect, row.virtual, row.real, "✔" if row.agree else "✘")):
                item = QTableWidgetItem(text)
                if c == 3:
                    item.setForeground(theme().colour("ok" if row.agree else "error"))
                self.table.setItem(r, c, item)
        agree = sum(row.agree for row in rows)
        self.state.setText(f"{agree} of {len(rows)} aspects agree." + ("" if agree == len(rows) else
                                                                          " See docs/decisions.md for the others."))

    async def shutdown(self) -> None:
        await self._tasks.cancel_all()
