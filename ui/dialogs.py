"""File dialogs that start where the user keeps files: the documents folder, then the last folder used.

Every Open / Save / Export / Import dialog of the app goes through :func:`ask_path` (non-modal:
``open()``, never ``exec()``, so no nested event loop runs under qasync).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from .identity import NAME, ORGANIZATION

KEY = "dialogs/last_folder"
_settings: QSettings | None = None


def use_settings(settings: QSettings) -> None:
    """The settings the last folder is kept in (the window's)."""
    global _settings
    _settings = settings


def settings() -> QSettings:
    global _settings
    if _settings is None:
        _settings = QSettings(ORGANIZATION, NAME)
    return _settings


def documents() -> str:
    """The user's documents folder; their home when there is none (a dialog given a folder that does not
    exist opens in the working directory, the project checkout: the very thing to avoid)."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def start_folder() -> str:
    """The last folder a file was chosen in, if it still exists; else the user's documents folder."""
    last = settings().value(KEY)
    if isinstance(last, str) and last and Path(last).is_dir():
        return last
    return documents()


def remember(path: str) -> None:
    settings().setValue(KEY, str(Path(path).parent))


def ask_path(parent: QWidget, title: str, chosen: Callable[[str], object], *, save: bool, name: str = "",
             filters: str = "") -> QFileDialog:
    """Ask for a file (to save, or an existing one to open); ``chosen(path)`` once the user picks it."""
    dialog = QFileDialog(parent, title, str(Path(start_folder()) / name) if name else start_folder(), filters)
    if save:
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    else:
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)

    def on_selected(path: str) -> None:
        remember(path)
        chosen(path)

    dialog.fileSelected.connect(on_selected)
    dialog.open()
    return dialog
