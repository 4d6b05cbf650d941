"""The timeline follows the newest row as DevTools does: filtering keeps it following; selecting a row
or scrolling up pauses it, visibly; the button, End and scrolling to the end resume it."""

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractSlider

from transport.core.events import Event
from ui.widgets.timeline import TimelineWidget


def rows(start: int, n: int, topic: str = "price") -> list[Event]:
    return [Event("websocket", "in", "message", i, 1, i, 10, 12, None, f'{{"seq":{i},"topic":"{topic}"}}',
                  {"topic": topic}) for i in range(start, start + n)]


def at_end(w: TimelineWidget) -> bool:
    bar = w.table.verticalScrollBar()
    return bar.maximum() > 0 and bar.value() == bar.maximum()


def make(qtbot) -> TimelineWidget:
    w = TimelineWidget(10_000)
    qtbot.addWidget(w)
    w.resize(900, 500)
    w.show()
    qtbot.waitExposed(w)
    w.append_events(rows(1, 300))
    qtbot.waitUntil(lambda: at_end(w), timeout=2000)
    return w


def test_new_rows_stay_in_view_while_following(qtbot):
    w = make(qtbot)
    w.append_events(rows(301, 50))
    qtbot.waitUntil(lambda: at_end(w), timeout=2000)
    assert w.following and w.follow_button.isChecked()


def test_typing_and_clearing_a_filter_keeps_following(qtbot):
    w = make(qtbot)
    qtbot.keyClicks(w.filter_edit, "price")
    w.append_events(rows(301, 100))
    qtbot.waitUntil(lambda: at_end(w), timeout=2000)
    w.filter_edit.clear()
    w.append_events(rows(401, 10))
    qtbot.waitUntil(lambda: at_end(w), timeout=2000)
    last = w.table.indexAt(QPoint(5, w.table.viewport().height() - 5))  # the lowest row in view
    assert w.following and w.model.event_at(last.row()).seq >= 400


def test_selecting_a_row_pauses_following_and_end_resumes_it(qtbot):
    w = make(qtbot)
    index = w.table.indexAt(w.table.viewport().rect().center())
    qtbot.mouseClick(w.table.viewport(), Qt.MouseButton.LeftButton, pos=w.table.visualRect(index).center())
    assert not w.following and not w.follow_button.isChecked()
    assert w.follow_button.text() == "Follow newest (End)"
    value = w.table.verticalScrollBar().value()
    w.append_events(rows(301, 100))
    assert w.table.verticalScrollBar().value() == value  # the chosen row stays where it is
    assert w.detail.currentWidget() is not None
    w.table.setFocus()
    qtbot.keyClick(w.table, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: at_end(w), timeout=2000)
    assert w.following and w.follow_button.isChecked()


def test_scrolling_up_pauses_and_scrolling_to_the_end_resumes(qtbot):
    w = make(qtbot)
    bar = w.table.verticalScrollBar()
    bar.triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)
    assert not w.following
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)
    assert w.following


def test_the_button_resumes_following(qtbot):
    w = make(qtbot)
    w.table.verticalScrollBar().triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)
    w.append_events(rows(301, 100))
    assert not at_end(w)
    qtbot.mouseClick(w.follow_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: at_end(w), timeout=2000)
    assert w.following


def test_a_selected_row_stays_selected_and_in_view_when_the_filter_changes(qtbot):
    w = make(qtbot)
    w.append_events(rows(301, 100, topic="chat"))
    w.table.selectRow(150)  # seq 151, a price row
    chosen = w.model.event_at(150)
    assert chosen.seq == 151 and not w.following
    qtbot.keyClicks(w.filter_edit, "price")  # it still matches: still selected, in view
    [index] = w.table.selectionModel().selectedRows()
    assert w.model.event_at(index.row()).seq == 151
    assert w.table.viewport().rect().intersects(w.table.visualRect(index))
    w.filter_edit.clear()  # the filter cleared: the same row, not row 1
    [index] = w.table.selectionModel().selectedRows()
    assert w.model.event_at(index.row()).seq == 151 and index.row() == 150
    assert w.table.viewport().rect().intersects(w.table.visualRect(index))
    qtbot.keyClicks(w.filter_edit, "chat")  # it does not match any more: nothing selected, nothing jumps
    assert w.table.selectionModel().selectedRows() == []


def test_end_in_the_filter_box_resumes_following(qtbot):
    w = make(qtbot)
    w.table.selectRow(10)
    assert not w.following
    w.filter_edit.setFocus()
    qtbot.keyClicks(w.filter_edit, "price")
    qtbot.keyClick(w.filter_edit, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: at_end(w), timeout=2000)
    assert w.following and w.filter_edit.text() == "price"
