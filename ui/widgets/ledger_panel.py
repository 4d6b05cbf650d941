"""The ledger counters: received / replayed / lost / duplicated, per drop episode."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QGroupBox, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from transport.core.ledger import Episode, Ledger

from ..dialogs import ask_path
from ..theme import theme
from .header_tips import set_header_tips

COUNTERS = ("received", "replayed", "lost", "duplicated", "reordered", "episodes")
EPISODE_COLUMNS = ("#", "result", "last before", "first after", "replayed", "lost", "dup", "reord", "gap",
                   "recover ms")


def episode_result(ep: Episode) -> str:
    """The episode's pass/fail badge: recovered with nothing lost or duplicated, or what went wrong."""
    if ep.session == "missed":  # no seq to count: the server said it could not recover the session
        text = "✘ session not recovered (loss uncounted)"
    elif not ep.recovered:
        text = "open"
    elif ep.session == "recovered" and ep.first_after is None:
        text = "✔ session recovered by the server"
    elif ep.lost or ep.duplicated:
        wrong = [f"{ep.lost} lost" if ep.lost else "", f"{ep.duplicated} dup" if ep.duplicated else ""]
        text = "✘ " + ", ".join(w for w in wrong if w) + (" (gap declared)" if ep.gap_declared else "")
    else:
        text = "✔ recovered"
    return text + (" · numbering reset" if ep.seq_reset else "")


class LedgerPanel(QGroupBox):
    exported = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Ledger: what arrived, across drops", parent)
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        for i, name in enumerate(COUNTERS):
            label = QLabel(name.capitalize())
            value = QLabel("0")
            value.setObjectName(f"ledger_{name}")
            bold = value.font()
            bold.setBold(True)
            value.setFont(bold)  # a font, not a style sheet: a style sheet keeps the palette it started with
            grid.addWidget(label, i // 3, (i % 3) * 2)
            grid.addWidget(value, i // 3, (i % 3) * 2 + 1)
            self.values[name] = value
        self.verdict = QLabel()
        self.verdict.setObjectName("ledger_verdict")
        self.verdict.setWordWrap(True)  # a long verdict must not widen the side pane
        self.episodes = QTableWidget(0, len(EPISODE_COLUMNS))
        self.episodes.setHorizontalHeaderLabels(EPISODE_COLUMNS)
        set_header_tips(self.episodes)
        self.episodes.verticalHeader().setVisible(False)
        self.episodes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.episodes.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # no stretching of the last column: in a narrow pane it was squeezed under its own header ("recover ms");
        # the table scrolls sideways instead
        self.episodes.horizontalHeader().setStretchLastSection(False)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.verdict)
        layout.addWidget(self.episodes, 1)
        self.export_button = QPushButton("Export ledger as JSON…")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        layout.addWidget(self.export_button)
        self.ledger = Ledger()
        self._shown: tuple | None = None  # (counters, episodes) on screen
        self._ok: bool | None | str = ""  # the verdict's colour on screen ("": none yet)
        self._writes: set[asyncio.Future] = set()
        self.show_ledger(Ledger())
        theme().changed.connect(self._on_theme_changed)

    def _paint_verdict(self) -> None:
        """✔ green, ✘ red, ? grey (loss cannot be checked), in the theme's colours."""
        colour = theme().hex("muted" if self._ok is None else "ok" if self._ok else "error")
        self.verdict.setStyleSheet(f"font-weight: bold; color: {colour}")

    def _on_theme_changed(self, _name: str) -> None:
        if self._ok != "":
            self._paint_verdict()
        self._shown = None  # the episodes' badges take the new colours at the next refresh
        self.show_ledger(self.ledger)

    def _on_export_button_clicked(self) -> None:
        ask_path(self, "Export the ledger", self.export, save=True, name="ledger.json", filters="JSON (*.json)")

    def export(self, path: str) -> None:
        """Write the ledger to ``path`` off the GUI thread; ``exported`` says where (or why not)."""
        text = json.dumps(self.ledger.to_json(), indent=2)

        async def write() -> None:
            try:
                await asyncio.to_thread(Path(path).write_text, text)
            except OSError as exc:
                self.exported.emit(f"Could not write the ledger to {path}: {exc.strerror or exc}.")
            else:
                self.exported.emit(f"Ledger written to {path}.")

        self._writes.add(asyncio.ensure_future(write()))
        self._writes = {t for t in self._writes if not t.done()}

    def show_ledger(self, ledger: Ledger) -> None:
        s = ledger.summary()
        self.ledger = ledger
        counters = (*s.values(), ledger.rule)  # the rule too: the lab's mark can come after the counts
        episodes = tuple((e.first_after, e.replayed, e.lost, e.duplicated, e.reordered, e.gap_declared, e.recovered,
                          e.seq_reset, e.session) for e in ledger.episodes)
        if (counters, episodes) == self._shown:
            return
        shown_counters, shown_episodes = self._shown or (None, None)
        self._shown = (counters, episodes)
        if counters != shown_counters:
            for name in COUNTERS:
                self.values[name].setText(f"{s[name]:,}")
            # a green check only when loss could be checked (some message carried a sequence id)
            ok: bool | None = (ledger.lost == 0 and ledger.duplicated == 0) if ledger.checkable else None
            mark = "? " if ok is None else "✔ " if ok else "✘ "
            self.verdict.setText(mark + ledger.verdict())
            if ok != self._ok:  # a style sheet costs a restyle: set it when the colour changes
                self._ok = ok
                self._paint_verdict()
        if episodes == shown_episodes:
            return
        eps = ledger.episodes
        self.episodes.setRowCount(len(eps))
        for row, ep in enumerate(eps):
            cells = (ep.index, episode_result(ep), ep.last_before, ep.first_after, ep.replayed, ep.lost, ep.duplicated,
                     ep.reordered, ep.gap_declared, ep.recover_ms)
            items = [QTableWidgetItem("" if value is None else str(value)) for value in cells]
            for col, item in enumerate(items):
                self.episodes.setItem(row, col, item)
            badge = items[1]
            badge.setForeground(theme().colour("ok" if badge.text().startswith("✔") else
                                               "error" if badge.text().startswith("✘") else "muted"))
