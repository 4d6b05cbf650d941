"""Charts inside a page: the wheel is left to the page (Qt hands an event a widget ignores to its
parents, so the page scrolls) instead of zooming the chart, whose axes always fit the data."""

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from ui.controllers.compare import ROWS
from ui.widgets.compare_charts import CompareCharts
from ui.widgets.reconnect_plot import ReconnectPlot


def wheel_down(widget) -> QWheelEvent:
    centre = QPointF(widget.rect().center())
    return QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -240),
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)


def test_the_wheel_over_a_chart_is_left_to_the_page_and_zooms_nothing(qtbot):
    plot, charts = ReconnectPlot(), CompareCharts(ROWS)
    for chart in (plot, charts):
        qtbot.addWidget(chart)
        chart.resize(500, 300)
        chart.show()
    qtbot.waitExposed(plot)
    plot.plot([0, 1, 2], [1, 3, 2])
    before = plot.getViewBox().viewRange()
    for chart in (plot, charts):
        event = wheel_down(chart.viewport())  # where the wheel lands: the view's viewport
        QApplication.sendEvent(chart.viewport(), event)
        assert not event.isAccepted()
    assert plot.getViewBox().viewRange() == before
    assert plot.getViewBox().state["mouseEnabled"] == [False, False]
    assert all(p.getViewBox().state["mouseEnabled"] == [False, False] for p in (charts.latency, charts.cdf))
