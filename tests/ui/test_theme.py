"""Light and dark themes: the palettes come from resources/, every widget takes the new colours."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from transport.core.events import Event
from ui.main_window import MainWindow
from ui.models.timeline_model import KIND
from ui.theme import palette_file, theme

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def win(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "duplex.ini"), QSettings.Format.IniFormat)
    w = MainWindow(rate=5, start_lab=False, settings=settings)
    qtbot.addWidget(w)
    return w


def test_both_palettes_name_the_same_colours():
    light, dark = palette_file("light"), palette_file("dark")
    assert set(light["colours"]) == set(dark["colours"]) and set(light["palette"]) == set(dark["palette"])


def test_the_theme_switch_repaints_the_window_and_the_rows(win):
    win.ws_tab.timeline.append_events([Event("websocket", "state", "error", 1, 1, data="refused")])
    model = win.ws_tab.timeline.model
    win.commands.set_theme("light")
    light_window = QApplication.palette().color(QPalette.ColorRole.Window)
    light_error = model.data(model.index(0, KIND), Qt.ItemDataRole.ForegroundRole).color()
    win.menus.theme_actions["dark"].trigger()
    assert theme().name == "dark" and win.menus.theme_actions["dark"].isChecked()
    dark_window = QApplication.palette().color(QPalette.ColorRole.Window)
    assert dark_window.lightness() < 80 < light_window.lightness()
    assert model.data(model.index(0, KIND), Qt.ItemDataRole.ForegroundRole).color() != light_error
    assert theme().hex("banner_background") in win.ws_tab.banner.styleSheet()
    assert win.settings.value("view/theme") == "dark"


def test_following_the_system_picks_a_theme_and_is_the_default(win):
    assert theme().mode == "system" and win.menus.theme_actions["system"].isChecked()
    assert theme().name in ("light", "dark")


def test_no_colour_literal_is_left_in_the_ui_code():
    """Colours are named once, in resources/themes/: none is written in a widget."""
    found = []
    for path in (ROOT / "ui").rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b['\"]|QColor\(\s*['\"]", line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_palettes_ship_as_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "themes/*.json" in pyproject
    assert json.loads((ROOT / "resources" / "themes" / "dark.json").read_text())["theme"] == 1
