"""Ctrl+Tab / Ctrl+Shift+Tab and Ctrl+PageDown / Ctrl+PageUp switch the window's tabs, wherever the focus is.

A table takes Ctrl+Tab for itself (it moves the current cell) and nothing in Qt switches tabs on
Ctrl+PageDown unless the tab bar has the focus; so the window reads these keys before any of its widgets
(an event filter on the application, for key presses in this window only).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget

NEXT = {Qt.Key.Key_Tab, Qt.Key.Key_PageDown}
PREVIOUS = {Qt.Key.Key_Backtab, Qt.Key.Key_PageUp}


def step_for(event: QKeyEvent) -> int:
    """+1, -1, or 0 when the key is not one of these."""
    mods = event.modifiers()
    if not mods & Qt.KeyboardModifier.ControlModifier or mods & Qt.KeyboardModifier.AltModifier:
        return 0
    key = Qt.Key(event.key())
    if key in PREVIOUS or (key == Qt.Key.Key_Tab and mods & Qt.KeyboardModifier.ShiftModifier):
        return -1
    return 1 if key in NEXT else 0


class TabKeys(QObject):
    """Installed on the application for ``window``: the keys switch ``tabs`` (cycling at the ends)."""

    def __init__(self, window: QWidget, tabs: QTabWidget) -> None:
        super().__init__(window)
        self._window, self._tabs = window, tabs
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) or not isinstance(event, QKeyEvent):
            return False
        if not isinstance(watched, QWidget) or watched.window() is not self._window:
            return False
        step = step_for(event)
        if not step:
            return False
        if kind == QEvent.Type.ShortcutOverride:  # claim the key, so no shortcut and no widget takes it first
            event.accept()
            return True
        n = self._tabs.count()
        if n:
            self._tabs.setCurrentIndex((self._tabs.currentIndex() + step) % n)
        return True
