"""The reconnect plot's pyqtgraph view (reconnect_plot.py keeps the data and builds this when shown)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QWidget

from .chart_look import ChartLook

COLOURS = ("short_poll", "websocket", "sse", "long_poll", "stream")  # the theme's colours, in turn


class ReconnectView(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "time", units="s")
        self.showGrid(x=True, y=True, alpha=0.3)
        # a chart inside a page: the wheel scrolls the page, and the axes always fit the data (no zoom
        # or pan to get lost in, and nothing to find the way back from)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.enableAutoRange()
        self.addLegend(offset=(5, 5), labelTextSize="8pt", colCount=2)
        self.look = ChartLook(self, [(self.getPlotItem(), "Reconnect attempts: wait before each (s)")])
        self._lines: dict[str, pg.PlotDataItem] = {}
        self._faults: list[pg.InfiniteLine] = []

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override): the page scrolls, the chart does not zoom
        event.ignore()

    def set_series(self, name: str, xs: list[float], ys: list[float]) -> None:
        item = self._lines.get(name)
        if item is None:
            colour = COLOURS[len(self._lines) % len(COLOURS)]
            item = self._lines[name] = self.look.line(self.plot([], [], name=name, symbol="o", symbolSize=6), colour,
                                                      width=1)
        item.setData(xs, ys)

    def drop_series(self, name: str) -> None:
        item = self._lines.pop(name, None)
        if item is not None:
            self.removeItem(item)

    def add_fault(self, x: float, keep: int) -> None:
        line = pg.InfiniteLine(x, angle=90, pen=self.look.pen("fault", style=pg.QtCore.Qt.PenStyle.DashLine))
        self.addItem(line)
        self._faults.append(line)
        while len(self._faults) > keep:
            self.removeItem(self._faults.pop(0))
