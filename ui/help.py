"""Help and settings windows: keyboard shortcuts, About (versions), the log, Preferences. All non-modal."""

from __future__ import annotations

import asyncio
import platform
from pathlib import Path
from typing import Callable

import aiohttp
import PySide6
import websockets
from PySide6.QtCore import Qt, QUrl, Signal, qVersion
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QPlainTextEdit, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from .identity import NAME
from .tasks import TaskGroup
from .theme import MODE_TITLES, MODES

LOG_TAIL = 256 * 1024  # the log window shows the file's last 256 KiB


def versions() -> dict[str, str]:
    from .widgets.timeline_files import VERSION
    return {NAME: VERSION, "Python": platform.python_version(), "Qt": qVersion(), "PySide6": PySide6.__version__,
            "websockets": websockets.__version__, "aiohttp": aiohttp.__version__}


def about_text() -> str:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
    return (f"<h3>{NAME}</h3><p>A lab and monitor for real-time transports: polling, long polling, HTTP "
            f"streaming, AJAX, WebSocket and Server-Sent Events on one message stream.</p><table>{rows}</table>")


def _dialog(parent: QWidget | None, title: str) -> tuple[QDialog, QVBoxLayout]:
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    layout = QVBoxLayout(dialog)
    return dialog, layout


def _close_row(dialog: QDialog, layout: QVBoxLayout) -> None:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    layout.addWidget(buttons)


def shortcuts_dialog(parent: QWidget | None, rows: list[tuple[str, str]]) -> QDialog:
    dialog, layout = _dialog(parent, "Keyboard shortcuts")
    extra = [("Follow newest (in a timeline)", "End"), ("Connect to the typed URL", "Enter in the URL box"),
             ("Next / previous tab", "Ctrl+Tab / Ctrl+Shift+Tab")]
    table = QTableWidget(len(rows) + len(extra), 2)
    table.setHorizontalHeaderLabels(["Action", "Shortcut"])
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, (what, keys) in enumerate(rows + extra):
        table.setItem(r, 0, QTableWidgetItem(what))
        table.setItem(r, 1, QTableWidgetItem(keys))
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    table.resizeColumnToContents(1)
    layout.addWidget(table)
    _close_row(dialog, layout)
    dialog.resize(460, 480)
    dialog.show()
    return dialog


def about_dialog(parent: QWidget | None) -> QDialog:
    dialog, layout = _dialog(parent, f"About {NAME}")
    label = QLabel(about_text())
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    layout.addWidget(label)
    _close_row(dialog, layout)
    dialog.show()
    return dialog


class LogWindow(QDialog):
    """The log file's end, read off the GUI thread; Refresh reads it again, Open folder shows the file."""

    def __init__(self, path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Log")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.path = path
        self.where = QLabel(str(path) if path else "No log file (it could not be created; see the terminal).")
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        refresh = QPushButton("Refresh")
        folder = QPushButton("Open folder")
        folder.setEnabled(path is not None)
        row = QHBoxLayout()
        row.addWidget(self.where, 1)
        row.addWidget(refresh)
        row.addWidget(folder)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.text, 1)
        self._tasks = TaskGroup(self.text.setPlainText)
        refresh.clicked.connect(self.refresh)
        folder.clicked.connect(self._open_folder)
        self.resize(900, 520)

    def refresh(self) -> asyncio.Task | None:
        if self.path is None:
            return None
        path = self.path

        def tail() -> str:
            with open(path, "rb") as fh:
                fh.seek(0, 2)
                size = fh.tell()
                fh.seek(max(0, size - LOG_TAIL))
                data = fh.read(LOG_TAIL)
            return data.decode("utf-8", "replace")

        async def read() -> None:
            try:
                text = await asyncio.to_thread(tail)
            except OSError as err:
                text = f"Could not read {path}: {err.strerror or err}."
            self.text.setPlainText(text)
            self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())

        return self._tasks.spawn(read())

    def _open_folder(self) -> None:
        if self.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path.parent)))


class Preferences(QDialog):
    """Theme and whether the last workspace reopens at start; each change applies at once."""

    themeChosen = Signal(str)
    reopenChanged = Signal(bool)

    def __init__(self, mode: str, reopen: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.theme = QComboBox()
        for m in MODES:
            self.theme.addItem(MODE_TITLES[m], m)
        self.theme.setCurrentIndex(self.theme.findData(mode))
        self.reopen = QCheckBox("Reopen the last workspace at start")
        self.reopen.setChecked(reopen)
        form = QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("", self.reopen)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.theme.activated.connect(lambda _i: self.themeChosen.emit(self.theme.currentData()))
        self.reopen.toggled.connect(self.reopenChanged)


def open_once(holder: dict[str, QWidget], key: str, make: Callable[[], QWidget]) -> QWidget:
    """One window of a kind: raise it if open, else make it."""
    window = holder.get(key)
    try:
        if window is not None and window.isVisible():
            window.raise_()
            window.activateWindow()
            return window
    except RuntimeError:  # deleted on close
        pass
    window = holder[key] = make()
    window.show()
    return window
