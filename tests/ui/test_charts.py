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


def test_legends_sit_beside_the_data_and_the_server_charts_time_axes_line_up(qtbot):
    from ui.widgets.server_chart import ServerChart

    chart = ServerChart()
    qtbot.addWidget(chart)
    chart.resize(700, 400)
    chart.show()
    qtbot.waitExposed(chart)
    import time

    chart._t0 = time.monotonic() - 5000  # well over 1 000 s in: the axis reads seconds, never "ks"
    for _ in range(3):
        chart.add({"websocket": 3}, {"websocket": 1.0, "sse": 12345.0})
    QApplication.processEvents()
    legend = chart.legend.sceneBoundingRect()
    for plot in (chart.open_plot, chart.rate_plot):
        assert not legend.intersects(plot.getViewBox().sceneBoundingRect())  # not over the data
        assert "ks" not in plot.getAxis("bottom").labelString() and plot.getAxis("bottom").autoSIPrefixScale == 1
    x_open = chart.open_plot.getViewBox().sceneBoundingRect().left()
    x_rate = chart.rate_plot.getViewBox().sceneBoundingRect().left()
    assert abs(x_open - x_rate) < 1  # the two time axes start at the same x


def test_the_compare_bars_labels_do_not_overlap_at_900_px(qtbot):
    charts = CompareCharts(ROWS)
    qtbot.addWidget(charts)
    charts.resize(880, 300)
    charts.show()
    qtbot.waitExposed(charts)
    QApplication.processEvents()
    axis = charts.bytes.getAxis("bottom")
    [ticks] = axis._tickLevels
    room = charts.bytes.getViewBox().sceneBoundingRect().width() / max(1, len(ticks))
    widest = max(axis.fontMetrics().horizontalAdvance(label) if hasattr(axis, "fontMetrics") else
                 charts.fontMetrics().horizontalAdvance(label) for _x, label in ticks)
    assert widest < room, (widest, room, [label for _x, label in ticks])
    for legend in (charts.legend, charts.parts_legend):
        for plot in (charts.latency, charts.bytes, charts.cdf):
            assert not legend.sceneBoundingRect().intersects(plot.getViewBox().sceneBoundingRect())
