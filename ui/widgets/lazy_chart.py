"""A chart built the first time it shows: pyqtgraph and a chart's plots cost ~0.5 s of the launch (eight
reconnect plots, the Server and Compare tabs' charts), for charts most sessions look at later or never.

A :class:`LazyChart` is a plain widget that keeps its data; :meth:`build` (on the first show, or before
a grab) makes its view — the pyqtgraph widget of a ``*_view`` module — and hands it what came so far."""

from __future__ import annotations

from typing import Generic, TypeVar

from PySide6.QtGui import QPixmap, QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

V = TypeVar("V", bound=QWidget)


class LazyChart(QWidget, Generic[V]):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self.view: V | None = None

    def _make(self) -> V:
        """The view, with what the chart holds so far drawn."""
        raise NotImplementedError

    def build(self) -> V:
        if self.view is None:
            self.view = self._make()
            self._box.addWidget(self.view)
            self.view.show()  # now, not at the next turn of the loop (a grab right after draws it)
            self._box.activate()  # its size now: pyqtgraph lays its plots out on the resize
        return self.view

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        self.build()
        super().showEvent(event)

    def grab(self, *args: object) -> QPixmap:  # an export of a chart never shown still draws it
        self.build()
        return super().grab(*args)  # type: ignore[arg-type]
