"""What the timeline shows is exactly what it showed before the feed's fast path (issue 14): every
column but the clock, the detail pane's pretty JSON and record, for the same frames."""

import json
from pathlib import Path

from tests.ui.row_golden import both, one_by_one

GOLDEN = json.loads((Path(__file__).parents[1] / "data" / "rows_golden.json").read_text(encoding="utf-8"))


def batched(receiver, frames, t, rtt_ms):
    """How the WebSocket client hands them now: one read's messages as one list."""
    receiver.texts(frames, t, rtt_ms)


def test_rows_of_the_fast_path_show_what_they_showed_before(qapp):
    assert both(batched) == GOLDEN


def test_rows_handed_one_at_a_time_show_what_they_showed_before(qapp):
    assert both(one_by_one) == GOLDEN
