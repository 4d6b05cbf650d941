"""The main window with its real lab process, shared by the tab tests."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from tests.helpers import wait_until
from ui.main_window import MainWindow


@pytest.fixture
async def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "duplex.ini"), QSettings.Format.IniFormat)
    win = MainWindow(rate=50, settings=settings)
    win.show()
    try:
        await wait_until(lambda: win.lab.url != "", 15, "the lab server")
        yield win
    finally:
        await win.shutdown()
        assert not win.lab.running
        win.close()
        win.deleteLater()


@pytest.fixture(autouse=True)
def light_theme_after():
    """The theme is the app's one object: a test that switches it leaves the next one in light."""
    yield
    from ui.theme import theme
    if theme().name != "light" or theme().mode != "light":
        theme().set_mode("light")
