"""The Compare tab's charts: latency over time, bytes per message as stacked bars, latency CDF. What to draw
is kept here; the pyqtgraph view (compare_view.py) is built when the charts first show or are exported
(lazy_chart.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from .lazy_chart import LazyChart

if TYPE_CHECKING:  # pyqtgraph is imported when the chart first shows
    from .compare_view import CompareView


class CompareCharts(LazyChart["CompareView"]):
    def __init__(self, rows: tuple[tuple[str, str], ...], parent: QWidget | None = None) -> None:
        """``rows``: the transports compared (key, title), in the table's order."""
        super().__init__(parent)
        self._rows = rows
        self.setMinimumHeight(240)
        self._last: tuple[dict, dict] | None = None

    def _make(self) -> CompareView:
        from .compare_view import CompareView

        view = CompareView(self._rows, self)
        if self._last is not None:
            view.redraw(*self._last)
        return view

    def reset(self) -> None:
        self._last = None
        if self.view is not None:
            self.view.reset()

    def redraw(self, tallies: dict[str, Any], rows: dict[str, Any]) -> None:
        """Redraw from the tallies (latency series, sorted latencies) and their table rows."""
        self._last = (tallies, rows)
        if self.view is not None:
            self.view.redraw(tallies, rows)
