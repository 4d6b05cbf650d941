"""The Server tab chart's pyqtgraph view (server_chart.py keeps the samples and builds this when shown)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from .chart_look import ChartLook

AXIS_WIDTH = 48  # px of each plot's left axis: the same for both, so their time axes line up


class ServerView(pg.GraphicsLayoutWidget):
    def __init__(self, lines: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        """``lines``: (what: "open" or "rate", transport key, its label)."""
        super().__init__(parent)
        self.open_plot = self.addPlot(row=0, col=0)
        self.rate_plot = self.addPlot(row=1, col=0)
        # one legend for both plots (the same colours), beside them: never drawn over the data
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=4)
        self.addItem(self.legend, row=2, col=0)
        for plot in (self.open_plot, self.rate_plot):
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setLabel("bottom", "time (s)")
            plot.getAxis("bottom").enableAutoSIPrefix(False)  # seconds stay seconds ("ks" read as a unit)
            plot.getAxis("left").setWidth(AXIS_WIDTH)  # both time axes start at the same x
        self.look = ChartLook(self, [(self.open_plot, "Open connections"),
                                     (self.rate_plot, "Requests (handshakes) per second")], [self.legend])
        self.rate_plot.setXLink(self.open_plot)
        self.items: dict[tuple[str, str], pg.PlotDataItem] = {}
        for what, key, label in lines:
            plot = self.open_plot if what == "open" else self.rate_plot
            item = self.items[(what, key)] = self.look.line(plot.plot([], []), key, width=2)
            if what == "rate":
                self.legend.addItem(item, label)
        self._markers: list[tuple[pg.InfiniteLine, pg.InfiniteLine]] = []

    def set_data(self, xs: list[float], series: dict[tuple[str, str], list[float]]) -> None:
        for key, ys in series.items():
            self.items[key].setData(xs, ys)

    def mark(self, x: float, keep: int) -> None:
        pen = self.look.pen("fault", style=pg.QtCore.Qt.PenStyle.DashLine)
        pair = (pg.InfiniteLine(x, angle=90, pen=pen), pg.InfiniteLine(x, angle=90, pen=pen))
        self.open_plot.addItem(pair[0])
        self.rate_plot.addItem(pair[1])
        self._markers.append(pair)
        while len(self._markers) > keep:
            old = self._markers.pop(0)
            self.open_plot.removeItem(old[0])
            self.rate_plot.removeItem(old[1])
