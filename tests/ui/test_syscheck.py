from ui.syscheck import problem


def test_no_display_is_one_sentence():
    sentence = problem({"QT_QPA_PLATFORM": ""})
    assert sentence is not None and sentence.startswith("Duplex needs a display")
    assert "\n" not in sentence


def test_offscreen_needs_no_display():
    assert problem({"QT_QPA_PLATFORM": "offscreen"}) is None
