"""What a transport's traffic cost: bytes on the socket, payload, overhead per message, timing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QSizePolicy, QWidget

from transport.core.wirestats import WireStats

ROWS = (
    ("exchanges", "Requests / responses"),
    ("empty", "Empty responses"),
    ("messages", "Messages"),
    ("bytes", "On the wire (sent / received)"),
    ("payload", "Payload"),
    ("overhead", "Overhead"),
    ("split", "  of which heads / cookies / framing"),
    ("per_message", "Wire per message"),
    ("timing", ""),
)


def _bytes(n: float) -> str:
    if n < 10_240:
        return f"{n:,.0f} B"
    if n < 10 << 20:
        return f"{n / 1024:,.1f} KiB"
    return f"{n / (1 << 20):,.1f} MiB"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} ms"


class WirePanel(QGroupBox):
    """``timing``: which timing the transport has: ``staleness``, ``hold`` or ``chunks``."""

    def __init__(self, timing: str = "", parent: QWidget | None = None) -> None:
        super().__init__("Wire: measured on the socket", parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)  # rows never squeezed
        self.timing = timing
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.labels: dict[str, QLabel] = {}
        titles = {"staleness": "Staleness (receive − publish)", "hold": "Hold / re-arm gap (mean)",
                  "chunks": "HTTP chunks", "": "Round trip (mean)"}
        for key, title in ROWS:
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[key] = label
            form.addRow(titles[timing] if key == "timing" else title, label)

    def show_stats(self, s: WireStats) -> None:
        lab = self.labels
        lab["exchanges"].setText(f"{s.requests:,} / {s.responses:,}")
        share = s.empty_share
        idle = s.per_idle_poll
        lab["empty"].setText(f"{s.empty:,}" + (f" ({share:.0%})" if share is not None else "")
                             + (f", {idle:,.0f} B each" if idle is not None else "")
                             + (f", {s.not_modified:,} × 304" if s.not_modified else ""))
        lab["messages"].setText(f"{s.messages:,}")
        lab["bytes"].setText(f"{_bytes(s.sent)} / {_bytes(s.received)}")
        lab["payload"].setText(_bytes(s.payload))
        lab["overhead"].setText(_bytes(s.overhead) + (f" ({s.overhead / s.wire:.0%} of the wire)" if s.wire else ""))
        lab["split"].setText(f"{_bytes(s.heads)} / {_bytes(s.cookies)} / {_bytes(s.framing)}")
        per = s.per_message(s.wire)
        over = s.per_message(s.overhead)
        lab["per_message"].setText("—" if per is None else f"{per:,.0f} B ({over:,.0f} B overhead)")
        if self.timing == "staleness":
            lab["timing"].setText(_ms(s.staleness_ms.value))
        elif self.timing == "hold":
            lab["timing"].setText(f"{_ms(s.hold_ms.value)} / {_ms(s.rearm_ms.value)}")
        elif self.timing == "chunks":
            lab["timing"].setText(f"{s.chunks:,}")
        else:
            lab["timing"].setText(_ms(s.rtt_ms.value))
