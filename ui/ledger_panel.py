"""The ledger counters: received / replayed / lost / duplicated, per drop episode."""

from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QGroupBox, QHeaderView, QLabel,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from transport.ledger import Ledger

COUNTERS = ("received", "replayed", "lost", "duplicated", "reordered", "episodes")
EPISODE_COLUMNS = ("#", "last before", "first after", "replayed", "lost", "dup", "gap", "state")


class LedgerPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Ledger: what arrived, across drops", parent)
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        for i, name in enumerate(COUNTERS):
            label = QLabel(name.capitalize())
            value = QLabel("0")
            value.setObjectName(f"ledger_{name}")
            value.setStyleSheet("font-weight: bold")
            grid.addWidget(label, i // 3, (i % 3) * 2)
            grid.addWidget(value, i // 3, (i % 3) * 2 + 1)
            self.values[name] = value
        self.verdict = QLabel()
        self.verdict.setObjectName("ledger_verdict")
        self.episodes = QTableWidget(0, len(EPISODE_COLUMNS))
        self.episodes.setHorizontalHeaderLabels(EPISODE_COLUMNS)
        self.episodes.verticalHeader().setVisible(False)
        self.episodes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.episodes.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.episodes.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.verdict)
        layout.addWidget(self.episodes, 1)
        self._shown: tuple = ()
        self.show_ledger(Ledger())

    def show_ledger(self, ledger: Ledger) -> None:
        s = ledger.summary()
        key = tuple(s.values()) + tuple((e.first_after, e.replayed, e.lost, e.recovered) for e in ledger.episodes)
        if key == self._shown:
            return
        self._shown = key
        for name in COUNTERS:
            self.values[name].setText(f"{s[name]:,}")
        ok = ledger.lost == 0 and ledger.duplicated == 0
        self.verdict.setText(("✔ " if ok else "✘ ") + ledger.verdict())
        self.verdict.setStyleSheet(f"font-weight: bold; color: {'#2e7d32' if ok else '#c62828'}")
        eps = ledger.episodes
        self.episodes.setRowCount(len(eps))
        for row, ep in enumerate(eps):
            cells = (ep.index, ep.last_before, ep.first_after, ep.replayed, ep.lost, ep.duplicated,
                     ep.gap_declared, "recovered" if ep.recovered else "open")
            for col, value in enumerate(cells):
                self.episodes.setItem(row, col, QTableWidgetItem("" if value is None else str(value)))
