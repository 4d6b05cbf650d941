"""The Qt event loop's lag, as the UI benches measure it: a 10 ms timer's lateness."""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QTimer

from transport.compare import percentile

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
