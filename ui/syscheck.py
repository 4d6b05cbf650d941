"""Say in one sentence what a bare machine lacks for Qt, before Qt aborts.

Qt's own message for a missing library is a plugin dump and an abort; this
check runs first and names the Debian/Ubuntu packages to install.
"""

from __future__ import annotations

import ctypes
import os
import sys

CORE_LIBS = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
XCB_LIBS = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libX11-xcb.so.1": "libx11-xcb1",
}


def _missing(libs: dict[str, str]) -> list[str]:
    missing = []
    for soname, package in libs.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(package)
    return missing


def problem(environ: dict[str, str] | None = None) -> str | None:
    """One sentence naming what is missing, or None when Qt can start."""
    if not sys.platform.startswith("linux"):
        return None
    env = os.environ if environ is None else environ
    platform = env.get("QT_QPA_PLATFORM", "")
    headless = platform.startswith(("offscreen", "minimal", "vnc"))
    wayland = platform.startswith("wayland") or (not platform and env.get("WAYLAND_DISPLAY"))
    if not headless and not wayland and not env.get("DISPLAY"):
        return ("Duplex needs a display: no DISPLAY or WAYLAND_DISPLAY is set "
                "(run it in a desktop session, or under Xvfb with DISPLAY=:99).")
    packages = _missing(CORE_LIBS)
    if not headless and not wayland:
        packages += _missing(XCB_LIBS)
    if packages:
        return ("Duplex needs system packages that are missing: "
                f"{', '.join(packages)} — install them with: sudo apt-get install {' '.join(packages)}")
    return None
