"""The menu bar and its shortcuts, as a keyboard user meets them (no lab: the window's own actions)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog

from transport.core.events import Event
from ui.help import about_text, versions
from ui.main_window import MainWindow


@pytest.fixture
def win(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "duplex.ini"), QSettings.Format.IniFormat)
    w = MainWindow(rate=5, start_lab=False, settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_the_five_menus_and_their_standard_shortcuts(win):
    titles = [a.text().replace("&", "") for a in win.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Connection", "Help"]
    keys = {name: a.shortcut() for name, a in win.menus.actions.items()}
    assert keys["quit"].matches(QKeySequence(QKeySequence.StandardKey.Quit)) == QKeySequence.SequenceMatch.ExactMatch
    assert keys["find"] == QKeySequence("Ctrl+F")
    assert keys["copy"] == QKeySequence("Ctrl+C")
    assert keys["open_workspace"] == QKeySequence("Ctrl+O") and keys["save_workspace"] == QKeySequence("Ctrl+S")
    assert keys["preferences"] == QKeySequence("Ctrl+,")
    for name in ("export", "connect", "disconnect", "drop", "restart", "shortcuts"):
        assert not keys[name].isEmpty(), name


def test_ctrl_f_focuses_the_current_timelines_filter(win, qtbot):
    win.tabs.setCurrentWidget(win.sse_tab)
    win.sse_tab.timeline.table.setFocus()
    qtbot.keyClick(win.sse_tab.timeline.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is win.sse_tab.timeline.filter_edit, timeout=2000)


def test_ctrl_c_in_a_timeline_copies_the_selected_rows_payload(win, qtbot):
    timeline = win.ws_tab.timeline
    timeline.append_events([Event("websocket", "in", "message", 1, 1, 3, 5, 7, None, '{"a":1}', {})])
    timeline.table.selectRow(0)
    timeline.table.setFocus()
    qtbot.keyClick(timeline.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == '{"a":1}'


def test_connection_actions_act_on_a_transport_tab_only(win):
    win.tabs.setCurrentWidget(win.server_tab)
    assert not win.menus.actions["drop"].isEnabled() and not win.menus.actions["find"].isEnabled()
    win.tabs.setCurrentWidget(win.long_poll_tab)
    assert win.menus.actions["drop"].isEnabled()
    win.menus.actions["drop"].trigger()  # nothing open: it says so on the tab
    assert "Nothing to drop" in win.long_poll_tab.status.text()


def test_view_columns_hides_a_column_in_every_timeline_and_is_remembered(win, tmp_path):
    topic = next(a for a in win.menus.column_actions if a.text() == "Topic")
    topic.trigger()
    assert all(tab.timeline.hidden_columns() == ["Topic"] for tab in win.transport_tabs)
    # the header's own chooser does the same for all
    win.sse_tab.timeline.columns_menu().actions()[1].trigger()  # Dir
    assert all(tab.timeline.hidden_columns() == ["Dir", "Topic"] for tab in win.transport_tabs)
    again = MainWindow(rate=5, start_lab=False, settings=win.settings)
    try:
        assert again.ws_tab.timeline.hidden_columns() == ["Dir", "Topic"]
    finally:
        again.close()
        again.deleteLater()


def test_end_resumes_following_from_the_menu(win):
    timeline = win.ws_tab.timeline
    timeline.set_following(False)
    win.menus.actions["follow"].trigger()
    assert timeline.following


def test_help_windows_open_once_each_without_blocking(win, qtbot):
    win.menus.actions["shortcuts"].trigger()
    shortcuts = win.commands.windows["shortcuts"]
    assert isinstance(shortcuts, QDialog) and not shortcuts.isModal() and shortcuts.isVisible()
    win.menus.actions["shortcuts"].trigger()
    assert win.commands.windows["shortcuts"] is shortcuts  # raised, not a second one
    rows = dict(win.menus.shortcut_rows())
    assert rows["Find"] == QKeySequence("Ctrl+F").toString(QKeySequence.SequenceFormat.NativeText)
    win.menus.actions["about"].trigger()
    assert win.commands.windows["about"].isVisible()
    shortcuts.close()
    win.commands.windows["about"].close()


def test_about_names_the_versions_a_bug_report_needs():
    v = versions()
    assert set(v) >= {"Python", "Qt", "PySide6", "websockets", "aiohttp"}
    text = about_text()
    assert all(value in text for value in v.values())


def test_ctrl_tab_and_ctrl_page_down_switch_the_windows_tabs_wherever_the_focus_is(win, qtbot):
    win.tabs.setCurrentWidget(win.sse_tab)
    start = win.tabs.currentIndex()
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    table = win.sse_tab.timeline.table
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Tab, ctrl)  # a table would move its current cell on Ctrl+Tab
    assert win.tabs.currentIndex() == start + 1
    qtbot.keyClick(QApplication.focusWidget() or win, Qt.Key.Key_Backtab, ctrl | shift)
    assert win.tabs.currentIndex() == start
    win.sse_tab.bar.url.setFocus()  # and from a text box
    qtbot.keyClick(win.sse_tab.bar.url, Qt.Key.Key_PageDown, ctrl)
    assert win.tabs.currentIndex() == start + 1
    qtbot.keyClick(QApplication.focusWidget() or win, Qt.Key.Key_PageUp, ctrl)
    assert win.tabs.currentIndex() == start
    win.tabs.setCurrentIndex(win.tabs.count() - 1)
    qtbot.keyClick(QApplication.focusWidget() or win, Qt.Key.Key_PageDown, ctrl)
    assert win.tabs.currentIndex() == 0  # round the end
