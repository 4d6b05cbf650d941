"""The lab process over time (pyqtgraph): open connections and requests per second by transport,
with a dashed line at every fault, so a reconnect storm shows as the server sees it."""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

KEEP = 600  # samples (one a second: ten minutes)
TRANSPORTS = (("websocket", "WebSocket", "#1565c0"), ("sse", "SSE", "#2e7d32"), ("short_poll", "Short poll", "#ef6c00"),
              ("long_poll", "Long poll", "#6a1b9a"), ("stream", "HTTP stream", "#00838f"), ("ajax", "AJAX", "#795548"))


class ServerChart(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumHeight(260)
        self._t0 = time.monotonic()
        self.open_plot = self.addPlot(row=0, col=0, title="<span style='color:#333'>Open connections</span>")
        self.rate_plot = self.addPlot(row=1, col=0, title="<span style='color:#333'>Requests (handshakes) "
                                                          "per second</span>")
        self._xs: list[float] = []
        self._lines: dict[tuple[str, str], tuple[list[float], pg.PlotDataItem]] = {}
        for plot in (self.open_plot, self.rate_plot):
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.addLegend(offset=(5, 5), labelTextSize="8pt", labelTextColor="#222",
                           brush=pg.mkBrush(255, 255, 255, 200))
            plot.setLabel("bottom", "time", units="s")
        self.rate_plot.setXLink(self.open_plot)
        for key, label, colour in TRANSPORTS:
            pen = pg.mkPen(colour, width=2)
            if key not in ("short_poll", "ajax"):  # nothing stays open for these
                self._lines[("open", key)] = ([], self.open_plot.plot([], [], name=label, pen=pen))
            self._lines[("rate", key)] = ([], self.rate_plot.plot([], [], name=label, pen=pen))
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
        pen = pg.mkPen("#ad1457", style=pg.QtCore.Qt.PenStyle.DashLine)
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
