"""One application id: the desktop entry (make desktop), the icon's file and QApplication's desktop file
name; the settings keep their old name."""

import configparser

from ui import identity


def test_the_desktop_entry_is_complete_and_installs_into_the_users_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    entry, icon = identity.install(tmp_path / "checkout" / "main.py", python="/usr/bin/python3")
    assert entry == tmp_path / "applications" / f"{identity.APP_ID}.desktop"
    assert icon.read_bytes().startswith(b"<") and icon.name == f"{identity.APP_ID}.svg"
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str  # keys are case-sensitive in desktop entries
    parsed.read_string(entry.read_text(encoding="utf-8"))
    desk = parsed["Desktop Entry"]
    assert desk["Type"] == "Application" and desk["Name"] == "Duplex"
    assert desk["Exec"] == f"/usr/bin/python3 {tmp_path / 'checkout' / 'main.py'}"
    assert desk["Icon"] == identity.APP_ID and desk["StartupWMClass"] == identity.APP_ID
    assert desk["Categories"] == "Development;Network;"


def test_the_icon_ships_with_the_package():
    assert identity.icon_path().is_file()
