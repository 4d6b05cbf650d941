"""Reconnect attempts over time (pyqtgraph), one series per policy: how each behaves when faults come."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QWidget

from .chart_look import ChartLook

KEEP = 500  # points per series and markers kept: the plot stays cheap however long it runs
COLOURS = ("short_poll", "websocket", "sse", "long_poll", "stream")  # the theme's colours, in turn
OWN = "this tab"


class ReconnectPlot(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(200)
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
        self._t0: int | None = None
        self._series: dict[str, tuple[list[float], list[float], pg.PlotDataItem]] = {}
        self._faults: list[pg.InfiniteLine] = []

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override): the page scrolls, the chart does not zoom
        event.ignore()

    def _x(self, t_ns: int) -> float:
        if self._t0 is None:
            self._t0 = t_ns
        return (t_ns - self._t0) / 1e9

    def _line(self, name: str) -> tuple[list[float], list[float], pg.PlotDataItem]:
        if name not in self._series:
            colour = COLOURS[len(self._series) % len(COLOURS)]
            item = self.look.line(self.plot([], [], name=name, symbol="o", symbolSize=6), colour, width=1)
            self._series[name] = ([], [], item)
        return self._series[name]

    def add_attempt(self, t_ns: int, delay_s: float | None, series: str = OWN) -> None:
        xs, ys, item = self._line(series)
        xs.append(self._x(t_ns))
        ys.append(float(delay_s or 0.0))
        del xs[:-KEEP], ys[:-KEEP]
        item.setData(xs, ys)

    def set_attempts(self, series: str, attempts: list[tuple[int, float]]) -> None:
        """Replace a series with ``(t ns, wait s)`` points (a race's client, redrawn once a second)."""
        xs, ys, item = self._line(series)
        xs[:] = [self._x(t) for t, _w in attempts[-KEEP:]]
        ys[:] = [w for _t, w in attempts[-KEEP:]]
        item.setData(xs, ys)

    def drop_series(self, series: str) -> None:
        entry = self._series.pop(series, None)
        if entry is not None:
            self.removeItem(entry[2])

    def add_fault(self, t_ns: int) -> None:
        line = pg.InfiniteLine(self._x(t_ns), angle=90, pen=self.look.pen("fault", style=pg.QtCore.Qt.PenStyle.DashLine))
        self.addItem(line)
        self._faults.append(line)
        while len(self._faults) > KEEP:
            self.removeItem(self._faults.pop(0))

    @property
    def fault_count(self) -> int:
        """Fault markers drawn (dashed lines)."""
        return len(self._faults)

    @property
    def attempts(self) -> int:
        return len(self._series[OWN][0]) if OWN in self._series else 0

    def series(self, name: str) -> list[float]:
        return list(self._series[name][1]) if name in self._series else []
