"""A long status sentence is elided at the window's edge, never cut mid-word without a trace: the tooltip has it."""

from __future__ import annotations

from ui.widgets.status_line import StatusLine


def test_a_long_sentence_is_elided_with_the_whole_in_the_tooltip(qtbot):
    line = StatusLine()
    qtbot.addWidget(line)
    line.resize(300, 24)
    line.show()
    sentence = "Connection refused by 127.0.0.1:38913: nothing is listening there. " * 3
    line.say(sentence)
    assert line.shown_text().endswith("…") and line.fontMetrics().horizontalAdvance(line.shown_text()) <= 300
    assert sentence.strip() in line.toolTip() and sentence in line.text()
    line.resize(2000, 24)  # room enough: the whole sentence shows
    assert not line.shown_text().endswith("…") and sentence in line.shown_text()
    line.say("connected again")
    assert "earlier:" in line.toolTip() and "refused" in line.toolTip()
