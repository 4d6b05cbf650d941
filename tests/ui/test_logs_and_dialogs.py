"""The log: everything to the file, only warnings to the terminal and each kind once; file dialogs start
in the documents folder, then where the user last chose a file."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from ui import dialogs
from ui.help import LogWindow
from ui.logs import OncePerKind


def test_a_repeating_warning_reaches_the_terminal_once_per_kind():
    once = OncePerKind()

    def record(msg, *args, name="duplex.ui"):
        return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)

    assert once.filter(record("lab unreachable: %s", "refused"))
    assert not once.filter(record("lab unreachable: %s", "timed out"))  # the same kind, other details
    assert once.filter(record("slow consumer %s", 1))
    assert once.filter(record("lab unreachable: %s", "x", name="duplex.other"))


def test_dialogs_start_in_documents_then_in_the_last_folder(qtbot, tmp_path):
    dialogs.use_settings(QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat))
    parent = QWidget()
    qtbot.addWidget(parent)
    first = dialogs.ask_path(parent, "Export", lambda _p: None, save=True, name="timeline.har")
    assert first.directory().absolutePath() == dialogs.documents().rstrip("/")
    first.close()
    chosen = []
    second = dialogs.ask_path(parent, "Import", chosen.append, save=False)
    second.fileSelected.emit(str(tmp_path / "x.har"))
    assert chosen == [str(tmp_path / "x.har")]
    second.close()
    third = dialogs.ask_path(parent, "Export", lambda _p: None, save=True, name="ledger.json")
    assert third.directory().absolutePath() == str(tmp_path)
    third.close()


async def test_the_log_window_shows_the_files_end(qtbot, tmp_path):
    path = tmp_path / "duplex.log"
    path.write_text("".join(f"line {i}\n" for i in range(50_000)))  # larger than the window reads
    window = LogWindow(path)
    qtbot.addWidget(window)
    await window.refresh()
    text = window.text.toPlainText()
    assert text.rstrip().endswith("line 49999") and "line 0\n" not in text
