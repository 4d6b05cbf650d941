"""What the timeline shows is exactly what it showed before the feed's fast path (issue 14): every
column but the clock, the detail pane's pretty JSON and record, for the same frames."""

import json
from pathlib import Path

from tests.ui.row_golden import FRAMES, both, one_by_one

GOLDEN = json.loads((Path(__file__).parents[1] / "data" / "rows_golden.json").read_text(encoding="utf-8"))


def batched(receiver, frames, t, rtt_ms):
    """How the WebSocket client hands them now: one read's messages as one list."""
    receiver.texts(frames, t, rtt_ms)


def test_rows_of_the_fast_path_show_what_they_showed_before(qapp):
    assert both(batched) == GOLDEN


def test_rows_handed_one_at_a_time_show_what_they_showed_before(qapp):
    assert both(one_by_one) == GOLDEN


def test_sse_events_batched_show_what_one_at_a_time_shows(qapp):
    """SSE hands each event's type and id as the meta to start from; the fast path keeps them, in the
    general path's key order."""
    def metas():
        return [{"type": "price" if i % 2 else "message", "last_event_id": str(i)} for i in range(len(FRAMES))]

    def one(receiver, frames, t, rtt_ms):
        for (payload, size, wire), meta in zip(frames, metas()):
            if isinstance(payload, str):
                receiver.text(payload, t, wire, meta, rtt_ms=rtt_ms, size=size)
            else:
                receiver.binary(payload, t, wire, rtt_ms)

    def batch(receiver, frames, t, rtt_ms):
        receiver.texts(frames, t, rtt_ms, metas=metas())

    assert both(batch) == both(one)
