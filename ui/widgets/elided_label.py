"""A one-line label that never widens its row: cut with "…" where the space ends, its whole text in the tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._full = ""
        self._extra_tip = ""
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def text(self) -> str:  # noqa: D102 — the whole text, not what fits (what is painted may be elided)
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def set_full_text(self, text: str, tip: str = "") -> None:
        """Show ``text`` (elided to the width); the tooltip holds it whole, then ``tip``."""
        self._full, self._extra_tip = text, tip
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        width = max(0, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width) if width else self._full
        super().setText(shown)
        tip = self._full if shown != self._full else ""
        self.setToolTip("\n".join(t for t in (tip, self._extra_tip) if t))
