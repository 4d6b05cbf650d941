"""Reconnect attempts over time (pyqtgraph): how a policy behaves when faults come."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

KEEP = 500  # points and markers kept: the plot stays cheap however long it runs


class ReconnectPlot(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setMinimumHeight(160)
        self.setTitle("Reconnect attempts: wait before each (s)", color="#333", size="9pt")
        self.setLabel("bottom", "time", units="s")
        self.showGrid(x=True, y=True, alpha=0.3)
        self._t0: int | None = None
        self._xs: list[float] = []
        self._ys: list[float] = []
        self._points = self.plot([], [], pen=pg.mkPen("#ef6c00", width=1), symbol="o", symbolSize=6,
                                 symbolBrush="#ef6c00")
        self._faults: list[pg.InfiniteLine] = []

    def _x(self, t_ns: int) -> float:
        if self._t0 is None:
            self._t0 = t_ns
        return (t_ns - self._t0) / 1e9

    def add_attempt(self, t_ns: int, delay_s: float | None) -> None:
        self._xs.append(self._x(t_ns))
        self._ys.append(float(delay_s or 0.0))
        del self._xs[:-KEEP], self._ys[:-KEEP]
        self._points.setData(self._xs, self._ys)

    def add_fault(self, t_ns: int) -> None:
        line = pg.InfiniteLine(self._x(t_ns), angle=90, pen=pg.mkPen("#ad1457", style=pg.QtCore.Qt.PenStyle.DashLine))
        self.addItem(line)
        self._faults.append(line)
        while len(self._faults) > KEEP:
            self.removeItem(self._faults.pop(0))

    @property
    def attempts(self) -> int:
        return len(self._xs)
