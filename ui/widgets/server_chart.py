"""The lab process over time: open connections and requests per second by transport, with a dashed line
at every fault, so a reconnect storm shows as the server sees it. The samples are kept here; the pyqtgraph
view (server_view.py) is built when the chart first shows (lazy_chart.py)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from transport.clients.registry import TRANSPORTS as REGISTRY

from .lazy_chart import LazyChart

if TYPE_CHECKING:  # pyqtgraph is imported when the chart first shows
    from .server_view import ServerView

KEEP = 600  # samples (one a second: ten minutes)
# each transport of the registry, drawn in the theme's colour of its name
TRANSPORTS: tuple[tuple[str, str], ...] = tuple((name, info.title) for name, info in REGISTRY.items())


class ServerChart(LazyChart["ServerView"]):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(260)
        self._t0 = time.monotonic()
        self._xs: list[float] = []
        self._lines: list[tuple[str, str, str]] = []
        for key, label in TRANSPORTS:
            if REGISTRY[key].holds_open:  # nothing stays open for a short poll or AJAX
                self._lines.append(("open", key, label))
            self._lines.append(("rate", key, label))
        self._series: dict[tuple[str, str], list[float]] = {(what, key): [] for what, key, _label in self._lines}
        self._marks: list[float] = []

    def _make(self) -> ServerView:
        from .server_view import ServerView

        view = ServerView(self._lines, self)
        view.set_data(self._xs, self._series)
        for x in self._marks:
            view.mark(x, KEEP)
        return view

    def add(self, opened: dict[str, int], rates: dict[str, float]) -> None:
        """One sample: open connections and requests/s by transport."""
        self._xs.append(time.monotonic() - self._t0)
        del self._xs[:-KEEP]
        for (what, key), ys in self._series.items():
            ys.append(float((opened if what == "open" else rates).get(key) or 0))
            del ys[:-KEEP]
        if self.view is not None:
            self.view.set_data(self._xs, self._series)

    def mark(self) -> None:
        """A fault now: a dashed line on both plots."""
        x = time.monotonic() - self._t0
        self._marks.append(x)
        del self._marks[:-KEEP]
        if self.view is not None:
            self.view.mark(x, KEEP)

    def series(self, what: str, key: str) -> list[float]:
        return list(self._series[(what, key)])
