"""A page that scrolls instead of squeezing its rows when the pane is smaller than it (900×600)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QScrollArea, QWidget


class _FitWidth(QScrollArea):
    """Never wider than its viewport: a page whose rows wrap or elide (Qt otherwise keeps the width it had
    before the vertical scroll bar came, and the bar covers the page's right edge)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        page = self.widget()
        if watched is self.viewport() and event.type() == QEvent.Type.Resize and page is not None:
            page.setMaximumWidth(self.viewport().width())
        return super().eventFilter(watched, event)


def scrolled(widget: QWidget, sideways: bool = True) -> QScrollArea:
    """``sideways`` False: the page is made as wide as the pane (it must fit: its rows wrap or elide)."""
    area = QScrollArea() if sideways else _FitWidth()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    if not sideways:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.viewport().installEventFilter(area)
    return area
