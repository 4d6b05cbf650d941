"""Reconnect attempts over time, one series per policy: how each behaves when faults come. The data is
kept here; the pyqtgraph view (reconnect_view.py) is built when the plot first shows (lazy_chart.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from .lazy_chart import LazyChart

if TYPE_CHECKING:  # pyqtgraph is imported when the chart first shows
    from .reconnect_view import ReconnectView

KEEP = 500  # points per series and markers kept: the plot stays cheap however long it runs
OWN = "this tab"


class ReconnectPlot(LazyChart["ReconnectView"]):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(200)
        self._t0: int | None = None
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._faults: list[float] = []

    def _make(self) -> ReconnectView:
        from .reconnect_view import ReconnectView

        view = ReconnectView(self)
        for name, (xs, ys) in self._series.items():
            view.set_series(name, xs, ys)
        for x in self._faults:
            view.add_fault(x, KEEP)
        return view

    def _x(self, t_ns: int) -> float:
        if self._t0 is None:
            self._t0 = t_ns
        return (t_ns - self._t0) / 1e9

    def _line(self, name: str) -> tuple[list[float], list[float]]:
        return self._series.setdefault(name, ([], []))

    def add_attempt(self, t_ns: int, delay_s: float | None, series: str = OWN) -> None:
        xs, ys = self._line(series)
        xs.append(self._x(t_ns))
        ys.append(float(delay_s or 0.0))
        del xs[:-KEEP], ys[:-KEEP]
        if self.view is not None:
            self.view.set_series(series, xs, ys)

    def set_attempts(self, series: str, attempts: list[tuple[int, float]]) -> None:
        """Replace a series with ``(t ns, wait s)`` points (a race's client, redrawn once a second)."""
        xs, ys = self._line(series)
        xs[:] = [self._x(t) for t, _w in attempts[-KEEP:]]
        ys[:] = [w for _t, w in attempts[-KEEP:]]
        if self.view is not None:
            self.view.set_series(series, xs, ys)

    def drop_series(self, series: str) -> None:
        if self._series.pop(series, None) is not None and self.view is not None:
            self.view.drop_series(series)

    def add_fault(self, t_ns: int) -> None:
        x = self._x(t_ns)
        self._faults.append(x)
        del self._faults[:-KEEP]
        if self.view is not None:
            self.view.add_fault(x, KEEP)

    @property
    def fault_count(self) -> int:
        """Fault markers (dashed lines) the plot draws."""
        return len(self._faults)

    @property
    def attempts(self) -> int:
        return len(self._series[OWN][0]) if OWN in self._series else 0

    def series(self, name: str) -> list[float]:
        return list(self._series[name][1]) if name in self._series else []
