"""The SSE tab's response checks: status, timing, retry, Last-Event-ID and warnings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from transport.core.events import Event

from ..theme import theme

def mark(good: bool) -> str:
    """✔ or ⚠ in the theme's colour, before a check's sentence."""
    return f"<span style='color:{theme().hex('ok' if good else 'warning')}'>{'✔' if good else '⚠'}</span> "
CHECKS = (("cache-control", "Cache-Control", "no-cache"), ("compression", "Encoding", "not compressed"),
          ("buffering", "Delivery", "no buffering seen"))


class StreamChecks(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Stream", parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.labels: dict[str, QLabel] = {}
        for key, title in (("status", "Response"), ("ttfb", "Time to first byte"),
                           ("first", "First event after"), ("retry", "Reconnection time"),
                           ("last_id", "Last-Event-ID"), ("reconnects", "Reconnects"),
                           *((k, t) for k, t, _ in CHECKS)):
            label = QLabel("—")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[key] = label
            form.addRow(title, label)
        self.reconnects = 0
        self._warned: set[str] = set()

    def reset(self) -> None:
        """A new stream: nothing of the last one is carried over (its reconnects, its first event, its answer)."""
        for label in self.labels.values():
            label.setText("—")
        self.reconnects = 0
        self._warned.clear()

    def show_events(self, events: list[Event]) -> None:
        lab = self.labels
        last_id = None
        for e in events:
            kind = e.kind
            if kind == "message":
                last_id = e.meta.get("last_event_id")
            elif kind == "retry":
                lab["retry"].setText(f"{e.meta.get('retry_ms')} ms (server retry)")
            elif kind == "response":
                lab["status"].setText(str(e.data))
                lab["ttfb"].setText(f"{e.meta.get('ttfb_ms', 0):.1f} ms")
                if e.meta.get("status") == 200:
                    self._warned.clear()
                    for key, _, good in CHECKS:
                        lab[key].setText(mark(True) + good)
            elif kind == "first_event":
                lab["first"].setText(f"{e.meta.get('from_request_ms', 0):.1f} ms from the request")
            elif kind == "reconnect":
                self.reconnects += 1
                lab["reconnects"].setText(f"{self.reconnects} (last wait {e.meta.get('delay_s', 0):.2f} s)")
            elif kind == "warning":
                check = e.meta.get("check", "")
                if check in lab:
                    self._warned.add(check)
                    lab[check].setText(mark(False) + str(e.data))
        if last_id is not None:
            lab["last_id"].setText(last_id or "(none)")

    def show_default_retry(self, ms: int) -> None:
        self.labels["retry"].setText(f"{ms} ms (default, until the server sends retry:)")

    @property
    def warnings(self) -> set[str]:
        return set(self._warned)
