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
    view = plot.view
    assert view is not None and charts.view is not None  # built when shown
    view.plot([0, 1, 2], [1, 3, 2])
    before = view.getViewBox().viewRange()
    for chart in (view, charts.view):
        event = wheel_down(chart.viewport())  # where the wheel lands: the view's viewport
        QApplication.sendEvent(chart.viewport(), event)
        assert not event.isAccepted()
    assert view.getViewBox().viewRange() == before
    assert view.getViewBox().state["mouseEnabled"] == [False, False]
    assert all(p.getViewBox().state["mouseEnabled"] == [False, False] for p in (charts.view.latency, charts.view.cdf))


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
    view = chart.view
    assert view is not None
    legend = view.legend.sceneBoundingRect()
    for plot in (view.open_plot, view.rate_plot):
        assert not legend.intersects(plot.getViewBox().sceneBoundingRect())  # not over the data
        assert "ks" not in plot.getAxis("bottom").labelString() and plot.getAxis("bottom").autoSIPrefixScale == 1
    x_open = view.open_plot.getViewBox().sceneBoundingRect().left()
    x_rate = view.rate_plot.getViewBox().sceneBoundingRect().left()
    assert abs(x_open - x_rate) < 1  # the two time axes start at the same x


def test_the_compare_bars_labels_do_not_overlap_at_900_px(qtbot):
    charts = CompareCharts(ROWS)
    qtbot.addWidget(charts)
    charts.resize(880, 300)
    charts.show()
    qtbot.waitExposed(charts)
    QApplication.processEvents()
    view = charts.view
    assert view is not None
    axis = view.bytes.getAxis("bottom")
    [ticks] = axis._tickLevels
    room = view.bytes.getViewBox().sceneBoundingRect().width() / max(1, len(ticks))
    widest = max(axis.fontMetrics().horizontalAdvance(label) if hasattr(axis, "fontMetrics") else
                 view.fontMetrics().horizontalAdvance(label) for _x, label in ticks)
    assert widest < room, (widest, room, [label for _x, label in ticks])
    for legend in (view.legend, view.parts_legend):
        for plot in (view.latency, view.bytes, view.cdf):
            assert not legend.sceneBoundingRect().intersects(plot.getViewBox().sceneBoundingRect())


def test_a_chart_is_built_when_it_first_shows_with_everything_it_was_given_before(qtbot):
    """The launch does not build charts nobody looks at yet; what came before they show is drawn then."""
    from ui.widgets.server_chart import ServerChart

    plot, chart = ReconnectPlot(), ServerChart()
    for widget in (plot, chart):
        qtbot.addWidget(widget)
    plot.add_attempt(1_000_000_000, 0.5)
    plot.add_attempt(2_000_000_000, 1.0)
    plot.add_fault(1_500_000_000)
    chart.add({"websocket": 2}, {"websocket": 3.0})
    chart.mark()
    assert plot.view is None and chart.view is None and plot.attempts == 2 and plot.fault_count == 1
    for widget in (plot, chart):
        widget.resize(500, 300)
        widget.show()
        qtbot.waitExposed(widget)
    assert plot.view is not None and chart.view is not None
    [line] = plot.view._lines.values()
    assert list(line.yData) == [0.5, 1.0] and len(plot.view._faults) == 1
    assert list(chart.view.items[("open", "websocket")].yData) == [2.0] and len(chart.view._markers) == 1
    plot.add_attempt(3_000_000_000, 2.0)  # once built, drawn as it comes
    assert list(line.yData) == [0.5, 1.0, 2.0]
    export = CompareCharts(ROWS)  # never shown: an export still draws it
    qtbot.addWidget(export)
    assert not export.grab().isNull() and export.view is not None
