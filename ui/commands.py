"""What the menus do: the window's commands, on the current tab (a connection, its timeline), the
workspace, the theme and the help windows. A QObject beside the window, not a widget: the menus
(ui/menus.py) call these, the window owns what they act on."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QLineEdit, QPlainTextEdit, QStatusBar, QTabWidget, QWidget

from . import dialogs
from .controllers.workspace import FILTER as WORKSPACE_FILTER
from .controllers.workspace import WorkspaceFiles
from .help import LogWindow, Preferences, about_dialog, open_once, shortcuts_dialog
from .logs import current_log
from .tabs.transport_tab import TransportTab
from .theme import theme
from .widgets.timeline import TimelineWidget
from .workspace import Connection, Workspace

STATUS_MS = 10_000


class MenuView(Protocol):
    """What the commands show in the menus (ui/menus.py)."""

    actions: dict[str, QAction]

    def set_transport_tab(self, on: bool) -> None: ...

    def show_hidden_columns(self, names: list[str]) -> None: ...

    def show_theme(self, mode: str) -> None: ...

    def shortcut_rows(self) -> list[tuple[str, str]]: ...


class CommandHost(Protocol):
    """What the commands act on: the window's tabs, settings, workspace files, menus and status bar (the
    main window; not imported: it imports us)."""

    tabs: QTabWidget
    transport_tabs: list[TransportTab]
    settings: QSettings
    workspaces: WorkspaceFiles
    menus: MenuView

    def statusBar(self) -> QStatusBar: ...

    def setWindowTitle(self, title: str) -> None: ...

    def close(self) -> bool: ...


class WindowCommands(QObject):
    def __init__(self, window: CommandHost, parent: QWidget) -> None:
        """``window``: what the commands act on; ``parent``: the widget their dialogs belong to (the window)."""
        super().__init__(parent)
        self.w = window
        self.parent_widget = parent
        self._unknown_connections: list[Connection] = []  # a newer Duplex's kinds: kept for the next save
        self.windows: dict[str, QWidget] = {}  # the help and settings windows (one of each)

    def current_transport_tab(self) -> TransportTab | None:
        tab = self.w.tabs.currentWidget()
        return tab if isinstance(tab, TransportTab) else None

    def current_timeline(self) -> TimelineWidget | None:
        tab = self.w.tabs.currentWidget()
        if isinstance(tab, TimelineWidget):
            return tab
        timeline = getattr(tab, "timeline", None)  # a transport tab's, the Browser tab's
        return timeline if isinstance(timeline, TimelineWidget) else None

    def _say(self, text: str) -> None:
        tab = self.current_transport_tab()
        if tab is not None:
            tab.status.say(text)
        else:
            self.w.statusBar().showMessage(text, STATUS_MS)

    def on_current_changed(self, _index: int) -> None:
        self.w.menus.set_transport_tab(self.current_transport_tab() is not None)
        has_timeline = self.current_timeline() is not None
        for name in ("export", "copy", "find", "clear", "follow"):
            self.w.menus.actions[name].setEnabled(has_timeline)

    def workspace(self) -> Workspace:
        """The connections of every transport tab (and any kept from a newer Duplex's workspace)."""
        return Workspace([tab.connection() for tab in self.w.transport_tabs] + self._unknown_connections)

    def ask_open_workspace(self) -> None:
        dialogs.ask_path(self.parent_widget, "Open a workspace", self.w.workspaces.open, save=False, filters=WORKSPACE_FILTER)

    def save_workspace(self) -> None:
        if self.w.workspaces.path is None:
            self.ask_save_workspace()
        else:
            self.w.workspaces.save(self.workspace(), self.w.workspaces.path)

    def ask_save_workspace(self) -> None:
        dialogs.ask_path(self.parent_widget, "Save the workspace", lambda path: self.w.workspaces.save(self.workspace(), path),
                         save=True, name="workspace.duplex.json", filters=WORKSPACE_FILTER)

    def on_workspace_opened(self, workspace: Workspace, path: str) -> None:
        for tab in self.w.transport_tabs:
            conn = workspace.connection(tab.transport)
            if conn is not None:
                tab.apply_connection(conn)
        self._unknown_connections = [c for c in workspace.connections if c.unknown is not None]
        self.w.setWindowTitle(f"Duplex — {path.rsplit('/', 1)[-1]}")

    def export_current(self) -> None:
        timeline = self.current_timeline()
        if timeline is not None:
            timeline.files.ask_export()

    def import_timeline(self) -> None:
        timeline = self.current_timeline() or self.w.transport_tabs[0].timeline
        timeline.files.ask_import()

    def copy_selected(self) -> None:
        """Edit → Copy: a text box copies its selection; a timeline its selected row's payload."""
        focus = QApplication.focusWidget()
        if isinstance(focus, (QLineEdit, QPlainTextEdit)):
            focus.copy()
            return
        timeline = self.current_timeline()
        if timeline is not None and not timeline.copy_selected():
            self._say("Select a row first: Copy takes its payload.")

    def find(self) -> None:
        timeline = self.current_timeline()
        if timeline is not None:
            timeline.focus_filter()

    def clear_current(self) -> None:
        timeline = self.current_timeline()
        if timeline is not None and timeline.clear_button.isVisible():
            timeline.model.clear()

    def follow_current(self) -> None:
        timeline = self.current_timeline()
        if timeline is not None:
            timeline.set_following(True)

    def set_hidden_columns(self, names: list[str]) -> None:
        """View → Columns (and every timeline's header menu): the same columns in every timeline."""
        for tab in self.w.transport_tabs:
            tab.timeline.set_hidden_columns(names)
        self.w.menus.show_hidden_columns(names)
        self.w.settings.setValue("timeline/hidden_columns", names)

    def set_theme(self, mode: str) -> None:
        theme().set_mode(mode)
        self.w.menus.show_theme(mode)
        self.w.settings.setValue("view/theme", mode)

    def connect_current(self) -> None:
        tab = self.current_transport_tab()
        if tab is not None:
            tab.connect_client(new_connection=tab.controller.client is not None)

    def disconnect_current(self) -> None:
        tab = self.current_transport_tab()
        if tab is not None:
            tab.controller.disconnect_client()

    def drop_current(self) -> None:
        tab = self.current_transport_tab()
        if tab is not None:
            if tab.controller.connected:
                tab.controller.drop()
            else:
                tab.status.say("Nothing to drop: the connection is not open.")

    def restart_current(self) -> None:
        tab = self.current_transport_tab()
        if tab is not None:
            if tab.controller.lab_url:
                tab.controller.restart_server(tab.down_s())
            else:
                tab.status.say("The lab server is not running yet: nothing to restart.")

    def show_preferences(self) -> None:
        def make() -> QWidget:
            prefs = Preferences(theme().mode, bool(self.w.settings.value("workspace/reopen", True, type=bool)),
                                self.parent_widget)
            prefs.themeChosen.connect(self.set_theme)
            prefs.reopenChanged.connect(lambda on: self.w.settings.setValue("workspace/reopen", on))
            return prefs
        open_once(self.windows, "preferences", make)

    def show_shortcuts(self) -> None:
        open_once(self.windows, "shortcuts", lambda: shortcuts_dialog(self.parent_widget, self.w.menus.shortcut_rows()))

    def show_about(self) -> None:
        open_once(self.windows, "about", lambda: about_dialog(self.parent_widget))

    def show_log(self) -> None:
        def make() -> QWidget:
            window = LogWindow(current_log(), self.parent_widget)
            window.refresh()
            return window
        open_once(self.windows, "log", make)

    def quit_app(self) -> None:
        self.w.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()
