"""The charts' look from the theme: background, axes, titles, legends and each line's named colour.

A chart calls :func:`themed` once with its plots and lines; the look is applied now and again on
every theme change (the lines keep their data)."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject

from ..theme import theme


class ChartLook(QObject):
    def __init__(self, owner: Any, plots: list[tuple[Any, str]], legends: list[Any] | None = None) -> None:
        """``owner``: the widget whose background to set (and this object's parent: it goes with it);
        ``plots``: (PlotItem, title) pairs; ``legends``: legends of their own (beside the plots, not over them)."""
        super().__init__(owner)
        self.owner = owner
        self.plots = plots
        self.legends = list(legends or [])
        self.lines: list[tuple[Any, str, dict[str, Any]]] = []  # (item, colour name, pen options)
        self.apply()
        theme().changed.connect(self.apply)

    def line(self, item: Any, colour: str, **pen: Any) -> Any:
        """Keep ``item``'s pen (and symbol brush) in the theme's ``colour``."""
        self.lines.append((item, colour, pen))
        self._paint_line(item, colour, pen)
        return item

    def pen(self, colour: str, **options: Any) -> Any:
        return pg.mkPen(theme().hex(colour), **options)

    def _paint_line(self, item: Any, colour: str, pen: dict[str, Any]) -> None:
        hex_ = theme().hex(colour)
        item.setPen(pg.mkPen(hex_, **pen))
        if item.opts.get("symbol") is not None:
            item.setSymbolBrush(hex_)

    def apply(self, *_args: Any) -> None:
        try:
            self._apply()
        except RuntimeError:  # the chart was closed (pyqtgraph clears its scene then): nothing left to paint
            theme().changed.disconnect(self.apply)

    def _apply(self) -> None:
        t = theme()
        text, outline = t.hex("chart_text"), t.hex("chart_outline")
        background = t.colour("chart_background")
        self.owner.setBackground(background)
        for plot, title in self.plots:
            plot.setTitle(title, color=text, size="9pt")
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(outline)
                axis.setTextPen(text)
        for legend in [plot.legend for plot, _title in self.plots] + self.legends:
            if legend is not None:
                legend.setBrush(pg.mkBrush(background.red(), background.green(), background.blue(), 200))
                legend.setLabelTextColor(text)
                for _sample, label in legend.items:
                    label.setText(label.text)
        for item, colour, pen in self.lines:
            self._paint_line(item, colour, pen)
