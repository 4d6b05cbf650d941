"""Build the QApplication, the qasync loop and the window; run until quit."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from .event_loop import DuplexEventLoop
from .logs import setup_logging, stop_logging
from .heap import freeze_startup, map_big_buffers
from .identity import APP_ID, NAME, ORGANIZATION, icon_path
from .lab_process import LabProcess

SMOKE_TIMEOUT_S = 20.0
ICON = icon_path()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="duplex", description="Duplex: a lab and monitor for real-time transports")
    p.add_argument("--smoke", action="store_true",
                   help="start, wait for the first live WebSocket message, print the time, exit")
    p.add_argument("--rate", type=float, default=5.0, help="lab feed messages per second")
    p.add_argument("--cap", type=int, default=1_000_000, help="timeline rows kept per tab")
    args = p.parse_args(argv)
    if args.rate < 0 or args.cap < 1:
        p.error("--rate >= 0 and --cap >= 1 are required")
    return args


def run(argv: list[str], started: float | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic() if started is None else started
    map_big_buffers()
    setup_logging()
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName(NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setDesktopFileName(APP_ID)  # the desktop entry (make desktop) and the window are one app
    if ICON.is_file():  # once, before the window and the loop exist
        app.setWindowIcon(QIcon(str(ICON)))
    # Ctrl+C or a session logout: quit cleanly. A signal that lands before the loop exists is kept and
    # acted on once it runs; installed before the lab process starts, so one that comes as soon as the lab
    # exists still finds it.
    asked: list[bool] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: asked.append(True))
    # The lab first: its process imports and binds (~0.5 s) on the other core while this one imports the
    # window's modules and builds it (the window adopts it); the launch waits for the slower of the two.
    lab = LabProcess(rate=args.rate)
    lab.start()
    try:
        from .main_window import MainWindow  # the window's modules: most of the launch
    except BaseException:
        lab.stop()
        raise
    loop = DuplexEventLoop(app)
    asyncio.set_event_loop(loop)
    outcome = {"code": 0}
    quit_event = asyncio.Event()
    app.aboutToQuit.connect(quit_event.set)
    # Through the asyncio event, not app.quit(): a signal that lands before the Qt loop runs would be lost.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(quit_event.set))
    if asked:
        quit_event.set()
    window = MainWindow(rate=args.rate, cap=args.cap, workspace=not args.smoke, lab=lab)
    if args.smoke:
        window.lab.process.failed.connect(lambda sentence: _smoke_fail(sentence, outcome, app))
        def on_first(_event: object) -> None:
            print(json.dumps({"first_message_s": round(time.monotonic() - started, 3)}), flush=True)
            app.quit()
        window.ws_tab.controller.firstMessage.connect(on_first)
        QTimer.singleShot(int(SMOKE_TIMEOUT_S * 1000), lambda: _smoke_fail(
            f"no live WebSocket message within {SMOKE_TIMEOUT_S:g} s", outcome, app))
    window.show()
    freeze_startup()
    try:
        with loop:
            loop.run_until_complete(quit_event.wait())
            loop.run_until_complete(window.shutdown())
    finally:
        window.lab.process.stop()
        stop_logging()
    return outcome["code"]


def _smoke_fail(reason: str, outcome: dict, app: QApplication) -> None:
    if outcome["code"] == 0:
        print(f"smoke: {reason}", file=sys.stderr, flush=True)
        outcome["code"] = 1
    app.quit()
