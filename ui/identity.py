"""The application's one identity: its id (QApplication's desktop file name, the desktop entry's and
the icon's file names), its name and organisation (QSettings: unchanged, so existing settings keep
working), and its resources. ``python -m ui.identity --install`` installs the desktop entry and the
icon for this user (``make desktop``)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from importlib import resources
from pathlib import Path

APP_ID = "dev.duplex.Duplex"
NAME = "Duplex"
ORGANIZATION = "Duplex"


def icon_path() -> Path:
    """The app icon (SVG), wherever the package is installed."""
    return Path(str(resources.files("resources") / "duplex.svg"))


def desktop_entry(command: str, icon: str) -> str:
    """The desktop entry for ``command`` (what Exec runs) and ``icon`` (a name or a path)."""
    template = (resources.files("resources") / "duplex.desktop").read_text(encoding="utf-8")
    return template.replace("@EXEC@", command).replace("@ICON@", icon).replace("@APP_ID@", APP_ID)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def install(main: Path, python: str = sys.executable) -> list[Path]:
    """Write the desktop entry and the icon into the user's data folder; the paths written."""
    home = data_home()
    icon = home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    entry = home / "applications" / f"{APP_ID}.desktop"
    icon.parent.mkdir(parents=True, exist_ok=True)
    entry.parent.mkdir(parents=True, exist_ok=True)
    icon.write_bytes(icon_path().read_bytes())
    entry.write_text(desktop_entry(f"{shlex.quote(python)} {shlex.quote(str(main))}", APP_ID), encoding="utf-8")
    return [entry, icon]


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m ui.identity")
    p.add_argument("--install", action="store_true", help="install the desktop entry and icon for this user")
    args = p.parse_args()
    if args.install:
        for path in install(Path(__file__).resolve().parents[1] / "main.py"):
            print(f"wrote {path}")
