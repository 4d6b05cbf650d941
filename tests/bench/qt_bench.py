"""What the UI benches share: the Qt event loop's lag (a 10 ms timer's lateness) and running a
coroutine on the app's own qasync loop. The benches run as child processes
(``python -m tests.bench.<name>`` from the project root, offscreen Qt) and print one JSON object."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Callable, Coroutine

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from transport.core.percentile import percentile

INTERVAL_MS = 10


class LagProbe:
    def __init__(self) -> None:
        self.lags: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0

    def _tick(self) -> None:
        now = self._clock.elapsed()
        self.lags.append(max(0.0, now - self._last - INTERVAL_MS))
        self._last = now

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.elapsed()
        self._timer.start()

    def stop(self) -> float:
        """Stop; the lag p99 in ms."""
        self._timer.stop()
        return percentile(sorted(self.lags), 0.99) or 0.0


def print_from_app_loop(main: Callable[[], Coroutine[Any, Any, dict]]) -> None:
    """Run ``main()`` on the app's qasync loop (ui.event_loop) and print its result as JSON."""
    from ui.event_loop import DuplexEventLoop

    app = QApplication.instance() or QApplication([])
    loop = DuplexEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        print(json.dumps(loop.run_until_complete(main())))
