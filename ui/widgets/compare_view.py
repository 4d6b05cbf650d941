"""The Compare tab charts' pyqtgraph view (compare_charts.py keeps what to draw and builds this when shown)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QWidget

from ..theme import theme
from .chart_look import ChartLook

PARTS = (("payload_per_msg", "payload", "part_payload"), ("headers_per_msg", "headers (cookies)", "part_headers"),
         ("framing_per_msg", "framing", "part_framing"))  # the colours are the theme's (each transport's too)
CDF_POINTS = 2000  # points drawn per curve, however many latencies
# the bars' labels: short enough that nine fit under a third of a 900 px window (the legend spells them out)
SHORT = {"websocket": "WS", "sse": "SSE", "long_poll": "LP", "stream": "HTTP", "short_poll": "SP",
         "socketio": "SIO", "socketio_polling": "SIO-p", "short_poll_conditional": "SP-c", "browser": "Chr"}


class CompareView(pg.GraphicsLayoutWidget):
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override): the page scrolls, the charts do not zoom
        event.ignore()

    def __init__(self, rows: tuple[tuple[str, str], ...], parent: QWidget | None = None) -> None:
        """``rows``: the transports compared (key, title), in the table's order."""
        super().__init__(parent)
        self._keys = [key for key, _title in rows]
        titles = dict(rows)
        self.setMinimumHeight(240)
        self.latency = self.addPlot(row=0, col=0)
        self.bytes = self.addPlot(row=0, col=1)
        self.cdf = self.addPlot(row=0, col=2)
        for plot in (self.latency, self.bytes, self.cdf):
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setMouseEnabled(x=False, y=False)  # the wheel scrolls the page; axes fit the data
            plot.hideButtons()
            plot.setMenuEnabled(False)
        self.latency.setLabel("bottom", "time", units="s")
        self.cdf.setLabel("bottom", "latency (ms)")
        self.cdf.setLogMode(x=True, y=False)
        self.latency.setLogMode(x=False, y=True)  # polling's hundreds of ms beside push's single ms
        self.latency.getAxis("bottom").enableAutoSIPrefix(False)
        # the legends in a row of their own under the plots: never drawn over the data
        self.legend = pg.LegendItem(labelTextSize="8pt", colCount=4)
        self.parts_legend = pg.LegendItem(labelTextSize="8pt", colCount=3)
        self.addItem(self.legend, row=1, col=0, colspan=2)
        self.addItem(self.parts_legend, row=1, col=2)
        self.look = ChartLook(self, [(self.latency, "Latency over time (p50 per second, ms)"),
                                     (self.bytes, "Bytes on the wire per message"), (self.cdf, "Latency CDF")],
                              [self.legend, self.parts_legend])
        self._lines = {t: self.look.line(self.latency.plot([], []), t, width=2) for t in self._keys}
        for t in self._keys:
            self.legend.addItem(self._lines[t], f"{SHORT.get(t, t)} = {titles[t]}")
        self._cdfs = {t: self.look.line(self.cdf.plot([], []), t, width=2) for t in self._keys}
        self._bars: list[pg.BarGraphItem] = []
        axis = self.bytes.getAxis("bottom")
        axis.setTicks([[(i, SHORT.get(t, t)) for i, t in enumerate(self._keys)]])  # short: they never overlap
        for _key, label, colour in PARTS:  # legend entries for the stacked parts
            self.parts_legend.addItem(pg.BarGraphItem(x=[0], height=[0], width=0, brush=theme().hex(colour)), label)

    def reset(self) -> None:
        for item in list(self._lines.values()) + list(self._cdfs.values()):
            item.setData([], [])
        for bar in self._bars:
            self.bytes.removeItem(bar)
        self._bars = []

    def redraw(self, tallies: dict, rows: dict) -> None:
        """Redraw from the tallies (latency series, sorted latencies) and their table rows."""
        for t, tally in tallies.items():
            if tally.series:
                times, values = zip(*tally.series)
                self._lines[t].setData(list(times), [max(y, 0.01) for y in values])
            lat = tally.sorted_latencies()
            if lat:
                step = max(1, len(lat) // CDF_POINTS)
                xs = [max(v, 0.01) for v in lat[::step]]
                ys = [i * step / len(lat) for i in range(len(xs))]
                self._cdfs[t].setData(xs, ys)
        for bar in self._bars:
            self.bytes.removeItem(bar)
        self._bars = []
        bottoms = [0.0] * len(self._keys)
        for key, _label, colour in PARTS:
            heights = [float((rows.get(t) or {}).get(key) or 0.0) for t in self._keys]
            bar = pg.BarGraphItem(x=list(range(len(self._keys))), height=heights, y0=bottoms, width=0.6,
                                  brush=theme().hex(colour), pen=self.look.pen("chart_outline", width=0.5))
            self.bytes.addItem(bar)
            self._bars.append(bar)
            bottoms = [b + h for b, h in zip(bottoms, heights)]
