"""The rows a timeline shows for a fixed set of WebSocket frames: every column but the clock, and the
detail pane's pages. ``python -m tests.ui.row_golden OUT`` writes them (how tests/data/rows_golden.json,
the record from before the feed's fast path, was made); tests/ui/test_row_golden.py compares."""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

T0 = 1_000_000_000_000
FRAMES: list[str | bytes] = [
    '{"seq":1,"ts":999999000000,"topic":"price","body":{"sym":"ACME","p":101.25}}',
    '{"seq":2,"ts":999998000000,"topic":"likes","body":{"post":7,"n":3}}',
    '{"seq":2,"ts":999998000000,"topic":"likes","body":{"post":7,"n":3}}',  # a duplicate
    '{"seq":5,"ts":999997000000,"topic":"chat","body":{"from":"ana","text":"héllo ⏎ wörld\\n"}}',
    '{"seq":4,"ts":999997500000,"topic":"chat","body":{"from":"bo","text":"late"}}',  # fills a hole
    '{"control":"live","seq":5}',
    '{"control":"gap","after":5,"first_available":9,"missing":3}',
    '{"seq":9,"ts":1000001000000,"topic":"price","body":{"p":1}}',  # ts after arrival: no latency
    '{"seq":10,"ts":999999999000,"topic":"pr\\"ice","body":{}}',  # an escape in the topic
    '{"seq": 11, "ts": 999999999500, "topic": "spaced", "body": null}',
    '{"seq":12,"ts":999999999600}',
    '{"ts":1,"seq":13,"topic":"order","body":1}',
    '{"seq":"14","topic":"not a number"}',
    '[1,2,3]',
    'plain text, not JSON',
    '',
    b"\x00\x01\xfe\xffbinary",
]


Deliver = Callable[[Any, list[tuple[str | bytes, int, int]], int, "float | None"], None]


def rows(deliver: Deliver, one_way: bool = True, rtt_ms: float | None = None) -> list[dict[str, Any]]:
    from PySide6.QtCore import Qt

    from transport.core.receiver import FeedReceiver
    from ui.models.timeline_model import CONN, EVENT, TimelineModel
    from ui.widgets.detail import pretty, record

    got: list = []
    receiver = FeedReceiver("websocket", got.append, one_way=one_way)
    receiver.note_epoch({"Duplex-Epoch": "golden"})  # the rows of the lab's feed
    receiver.conn = 3
    frames = []
    for f in FRAMES:
        size = len(f.encode()) if isinstance(f, str) else len(f)
        frames.append((f, size, size + 2))
    deliver(receiver, frames, T0, rtt_ms)
    model = TimelineModel()
    model.append_events(got)
    out = []
    for row in range(model.rowCount()):
        # the Event column came later than the record (a WebSocket frame has no event name): it is kept
        # beside the other columns, where a row has one; the Conn column came later still
        shown = [model.data(model.index(row, col), Qt.ItemDataRole.DisplayRole) for col in range(1, model.columnCount())
                 if col not in (EVENT, CONN)]
        e = model.event_at(row)
        item = {"columns": shown, "pretty": pretty(e), "record": record(e)}
        event = model.data(model.index(row, EVENT), Qt.ItemDataRole.DisplayRole)
        if event:
            item["event"] = event
        out.append(item)
    return out


def one_by_one(receiver: Any, frames: list[tuple[str | bytes, int, int]], t: int, rtt_ms: float | None) -> None:
    """How the WebSocket client handed messages to the receiver before the fast path."""
    for payload, size, wire in frames:
        if isinstance(payload, str):
            receiver.text(payload, t, wire, rtt_ms=rtt_ms, size=size)
        else:
            receiver.binary(payload, t, wire, rtt_ms)


def both(deliver: Deliver) -> dict[str, list[dict[str, Any]]]:
    """Against the lab (one-way latency) and against another server (the ping's round trip)."""
    return {"one_way": rows(deliver), "rtt": rows(deliver, one_way=False, rtt_ms=0.25)}


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with open(sys.argv[1], "w", encoding="utf-8") as fh:
        json.dump(both(one_by_one), fh, indent=1, ensure_ascii=False)
