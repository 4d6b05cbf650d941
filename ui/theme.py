"""Light and dark themes: the palettes in resources/themes/, every colour of the app named once.

``theme()`` is the app's one :class:`Theme`. Its mode is ``system`` (follow the desktop's colour
scheme, and its changes), ``light`` or ``dark``. Widgets ask it for a named colour when they paint or
fill (``theme().colour("error")``) and connect ``changed`` when they hold a colour (a style sheet, a
chart's pen) to take the new one.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QPalette

MODES = ("system", "light", "dark")
MODE_TITLES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


@lru_cache(maxsize=None)
def palette_file(name: str) -> dict[str, Any]:
    """A theme's file (``light`` or ``dark``), read once."""
    text = (resources.files("resources") / "themes" / f"{name}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("theme") != 1:
        raise ValueError(f"resources/themes/{name}.json: unknown theme format {data.get('theme')!r}")
    return data


def system_is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


class Theme(QObject):
    changed = Signal(str)  # the theme now shown: "light" or "dark"

    def __init__(self) -> None:
        super().__init__()
        self.mode = "system"
        self.name = "light"
        self._colours: dict[str, QColor] = {}
        self._brushes: dict[str, QBrush] = {}
        self._load("light")
        self._following = False

    # -- choosing ---------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """``system``, ``light`` or ``dark``; the app's palette and every themed widget follow."""
        if mode not in MODES:
            raise ValueError(f"a theme is one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        app = QGuiApplication.instance()
        if mode == "system" and app is not None and not self._following:
            self._following = True
            QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_system_scheme)
        self._show(("dark" if system_is_dark() else "light") if mode == "system" else mode)

    def _on_system_scheme(self, _scheme: Qt.ColorScheme) -> None:
        if self.mode == "system":
            self._show("dark" if system_is_dark() else "light")

    def _show(self, name: str) -> None:
        self._load(name)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.setPalette(self.palette())
        self.changed.emit(name)

    def _load(self, name: str) -> None:
        data = palette_file(name)
        self.name = name
        self._colours = {key: QColor(value) for key, value in data["colours"].items()}
        self._brushes = {}

    # -- reading ----------------------------------------------------------------------------------
    @property
    def dark(self) -> bool:
        return self.name == "dark"

    def colour(self, key: str) -> QColor:
        return self._colours[key]

    def hex(self, key: str) -> str:
        return self._colours[key].name()

    def brush(self, key: str) -> QBrush:
        brush = self._brushes.get(key)
        if brush is None:
            brush = self._brushes[key] = QBrush(self._colours[key])
        return brush

    def palette(self) -> QPalette:
        """The Qt palette of the theme shown (the file's ``palette``; ``disabled.X`` for disabled widgets)."""
        pal = QPalette()
        for key, value in palette_file(self.name)["palette"].items():
            group, _, role_name = key.rpartition(".")
            role = getattr(QPalette.ColorRole, role_name)
            if group == "disabled":
                pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(value))
            else:
                pal.setColor(QPalette.ColorGroup.All, role, QColor(value))
        return pal


_theme: Theme | None = None


def theme() -> Theme:
    """The app's theme (made on first use; its mode is set by the app at start)."""
    global _theme
    if _theme is None:
        _theme = Theme()
    return _theme
