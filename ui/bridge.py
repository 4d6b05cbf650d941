"""The one bridge from transport events to Qt signals.

Clients call :meth:`EventBridge.push` (a plain callable, so ``transport/``
stays Qt-free). Events are coalesced and emitted once per interval, whole
(``events``) and per transport (``delivered``: what each tab takes): one
signal and one model insert per tab per flush, never one per message.
A timed flush hands the tabs their batches one per turn of the event loop, so
six busy tabs never hold it for all six inserts at once (the window stays
responsive between them); an explicit :meth:`flush` delivers everything now.
"""

from __future__ import annotations

from collections import Counter, deque

from PySide6.QtCore import QObject, QTimer, Signal

from transport.core.events import Event


class EventBridge(QObject):
    # list[Event] in arrival order. ``object``, not ``list``: PySide6 converts a list signal's every element on
    # each emit (~350 µs for a 700-event batch), an object signal passes the reference (~2 µs)
    events = Signal(object)
    delivered = Signal(str, object)  # per transport: its events of the flush, in arrival order

    def __init__(self, interval_ms: int = 33, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: list[Event] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timeout)
        self._queue: deque[tuple[str, list[Event]]] = deque()  # per-transport batches not yet delivered
        self._step = QTimer(self)  # the next batch, on the loop's next turn
        self._step.setSingleShot(True)
        self._step.setInterval(0)
        self._step.timeout.connect(self._deliver_one)
        self.pushed = 0
        self._armed = False  # the flush timer is running (kept here: QTimer.isActive() per event costs)
        self.counts: Counter[str] = Counter()  # pushed, per transport

    def push(self, event: Event) -> None:
        self._pending.append(event)
        self.pushed += 1
        self.counts[event.transport] += 1
        if not self._armed:
            self._armed = True
            self._timer.start()

    __call__ = push  # the bridge is a client's sink

    def many(self, events: list[Event]) -> None:
        """One client's events of one read, in order (one append and one timer check for all)."""
        if not events:
            return
        self._pending += events
        self.pushed += len(events)
        self.counts[events[0].transport] += len(events)  # one client's list: one transport
        if not self._armed:
            self._armed = True
            self._timer.start()

    def flush(self) -> None:
        """Everything pushed so far, delivered before this returns (a stop, a shutdown)."""
        self._take_pending()
        self._step.stop()
        while self._queue:
            self.delivered.emit(*self._queue.popleft())

    def _on_timeout(self) -> None:
        self._take_pending()
        self._deliver_one()

    def _take_pending(self) -> None:
        self._armed = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self.events.emit(batch)
        by_transport: dict[str, list[Event]] = {}
        for e in batch:
            got = by_transport.get(e.transport)
            if got is None:
                by_transport[e.transport] = [e]
            else:
                got.append(e)
        self._queue.extend(by_transport.items())

    def _deliver_one(self) -> None:
        if self._queue:
            self.delivered.emit(*self._queue.popleft())
        if self._queue and not self._step.isActive():
            self._step.start()
