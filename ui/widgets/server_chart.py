"""The lab process over time (pyqtgraph): open connections and requests per second by transport,
with a dashed line at every fault, so a reconnect storm shows as the server sees it."""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from transport.clients.registry import TRANSPORTS as REGISTRY

from .chart_look import ChartLook

KEEP = 600  # samples (one a second: ten minutes)
AXIS_WIDTH = 48  # px of each plot's left axis: the same for both, so their time axes line up
# each transport of the registry, drawn in the theme's colour of its name
TRANSPORTS: tuple[tuple[str, str], ...] = tuple((name, info.title) for name, info in REGISTRY.items())


class ServerChart(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(260)
        self._t0 = time.monotonic()
        self.open_plot = self.addPlot(row=0, col=0)
        self.rate_plot = self.addPlot(row=1, col=0)
        # one legend for both plots (the same colours), beside them: never drawn over the data
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=4)
        self.addItem(self.legend, row=2, col=0)
        self._xs: list[float] = []
        self._lines: dict[tuple[str, str], tuple[list[float], pg.PlotDataItem]] = {}
        for plot in (self.open_plot, self.rate_plot):
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setLabel("bottom", "time (s)")
            plot.getAxis("bottom").enableAutoSIPrefix(False)  # seconds stay seconds ("ks" read as a unit)
            plot.getAxis("left").setWidth(AXIS_WIDTH)  # both time axes start at the same x
        self.look = ChartLook(self, [(self.open_plot, "Open connections"),
                                     (self.rate_plot, "Requests (handshakes) per second")], [self.legend])
        self.rate_plot.setXLink(self.open_plot)
        for key, label in TRANSPORTS:
            if REGISTRY[key].holds_open:  # nothing stays open for a short poll or AJAX
                self._lines[("open", key)] = ([], self.look.line(self.open_plot.plot([], []), key, width=2))
            item = self.look.line(self.rate_plot.plot([], []), key, width=2)
            self._lines[("rate", key)] = ([], item)
            self.legend.addItem(item, label)
        self._markers: list[tuple[pg.InfiniteLine, pg.InfiniteLine]] = []

    def add(self, opened: dict[str, int], rates: dict[str, float]) -> None:
        """One sample: open connections and requests/s by transport."""
        self._xs.append(time.monotonic() - self._t0)
        del self._xs[:-KEEP]
        for (what, key), (ys, item) in self._lines.items():
            ys.append(float((opened if what == "open" else rates).get(key) or 0))
            del ys[:-KEEP]
            item.setData(self._xs, ys)

    def mark(self) -> None:
        """A fault now: a dashed line on both plots."""
        x = time.monotonic() - self._t0
        pen = self.look.pen("fault", style=pg.QtCore.Qt.PenStyle.DashLine)
        pair = (pg.InfiniteLine(x, angle=90, pen=pen), pg.InfiniteLine(x, angle=90, pen=pen))
        self.open_plot.addItem(pair[0])
        self.rate_plot.addItem(pair[1])
        self._markers.append(pair)
        while len(self._markers) > KEEP:
            old = self._markers.pop(0)
            self.open_plot.removeItem(old[0])
            self.rate_plot.removeItem(old[1])

    def series(self, what: str, key: str) -> list[float]:
        return list(self._lines[(what, key)][0])
