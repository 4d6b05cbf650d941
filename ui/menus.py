"""The menu bar (File, Edit, View, Connection, Help) with the platform's standard shortcuts.

:class:`Menus` builds the actions and calls the window's methods; every action is also kept by name
(``menus.actions["find"]``) for the keyboard-shortcuts list and the tests.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

from .models.timeline_model import COLUMNS, HEADER_TIPS
from .theme import MODE_TITLES, MODES

Key = QKeySequence.StandardKey


class Menus:
    def __init__(self, bar: QMenuBar, w: Any) -> None:
        """``w``: the window's commands (ui/commands.py): each action calls one."""
        self.actions: dict[str, QAction] = {}

        file = bar.addMenu("&File")
        self._add(file, "open_workspace", "&Open workspace…", w.ask_open_workspace, Key.Open)
        self._add(file, "save_workspace", "&Save workspace", w.save_workspace, Key.Save)
        self._add(file, "save_workspace_as", "Save workspace &as…", w.ask_save_workspace, Key.SaveAs)
        file.addSeparator()
        self._add(file, "export", "&Export timeline…", w.export_current, "Ctrl+E")
        self._add(file, "import", "&Import timeline…", w.import_timeline, "Ctrl+I")
        file.addSeparator()
        self._add(file, "preferences", "&Preferences…", w.show_preferences, "Ctrl+,")
        file.addSeparator()
        self._add(file, "quit", "&Quit", w.quit_app, Key.Quit)

        edit = bar.addMenu("&Edit")
        self._add(edit, "copy", "&Copy payload", w.copy_selected, Key.Copy,
                  tip="Copy the selected row's payload (in a text box: its selected text)")
        self._add(edit, "find", "&Find…", w.find, Key.Find, tip="Focus the current timeline's filter")
        self._add(edit, "clear", "C&lear timeline", w.clear_current, "Ctrl+Shift+K")

        view = bar.addMenu("&View")
        self.columns = view.addMenu("&Columns")
        self.column_actions: list[QAction] = []
        for col, name in enumerate(COLUMNS[:-1]):
            if name == "Conn":  # offered in a timeline's own header menu, where rows have several
                continue
            action = self.columns.addAction(name)
            action.setCheckable(True)
            action.setChecked(True)
            action.setToolTip(HEADER_TIPS[col])
            action.toggled.connect(lambda _on: w.set_hidden_columns(self.hidden_columns()))
            self.column_actions.append(action)
        self.columns.setToolTipsVisible(True)
        self._add(view, "follow", "&Follow newest", w.follow_current, "End",
                  tip="Keep the newest row in view (End in a timeline)")
        themes = view.addMenu("&Theme")
        group = QActionGroup(themes)
        self.theme_actions: dict[str, QAction] = {}
        for mode in MODES:
            action = themes.addAction(MODE_TITLES[mode])
            action.setCheckable(True)
            group.addAction(action)
            action.triggered.connect(lambda _checked=False, m=mode: w.set_theme(m))
            self.theme_actions[mode] = action

        connection = bar.addMenu("&Connection")
        self._add(connection, "connect", "&Connect", w.connect_current, "Ctrl+Return")
        self._add(connection, "disconnect", "&Disconnect", w.disconnect_current, "Ctrl+Shift+Return")
        connection.addSeparator()
        self._add(connection, "drop", "&Drop connection", w.drop_current, "Ctrl+D",
                  tip="Abort the current tab's TCP connection, without a close")
        self._add(connection, "restart", "&Restart server", w.restart_current, "Ctrl+R",
                  tip="The lab stops listening for the chosen seconds, then comes back")
        self.connection_menu = connection

        help_ = bar.addMenu("&Help")
        self._add(help_, "shortcuts", "&Keyboard shortcuts", w.show_shortcuts, Key.HelpContents)
        self._add(help_, "show_log", "Show &log", w.show_log)
        help_.addSeparator()
        self._add(help_, "about", "&About Duplex", w.show_about)

    def _add(self, menu: QMenu, name: str, text: str, slot: Callable[[], object],
             shortcut: QKeySequence.StandardKey | str | None = None, tip: str = "") -> QAction:
        action = menu.addAction(text)
        if isinstance(shortcut, str):
            action.setShortcut(QKeySequence(shortcut))
        elif shortcut is not None:
            action.setShortcuts(shortcut)
            if action.shortcut().isEmpty() and shortcut == Key.Preferences:
                action.setShortcut(QKeySequence("Ctrl+,"))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.actions[name] = action
        return action

    # -- state the window shows -----------------------------------------------------------------
    def hidden_columns(self) -> list[str]:
        return [a.text() for a in self.column_actions if not a.isChecked()]

    def show_hidden_columns(self, names: list[str]) -> None:
        for action in self.column_actions:
            action.blockSignals(True)
            action.setChecked(action.text() not in names)
            action.blockSignals(False)

    def show_theme(self, mode: str) -> None:
        self.theme_actions[mode].setChecked(True)

    def set_transport_tab(self, on: bool) -> None:
        """The Connection menu and the timeline actions act on the current tab: off elsewhere."""
        for name in ("connect", "disconnect", "drop", "restart"):
            self.actions[name].setEnabled(on)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(action, shortcut) for every action that has one, in menu order."""
        return [(a.text().replace("&", "").rstrip("…"), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                for a in self.actions.values() if not a.shortcut().isEmpty()]
