"""The ledger panel's verdict: a green check only when loss could be checked."""

from transport.core.ledger import Ledger
from ui.theme import theme
from ui.widgets.ledger_panel import LedgerPanel


def test_no_green_check_without_sequence_ids(qtbot):
    panel = LedgerPanel()
    qtbot.addWidget(panel)
    led = Ledger()
    panel.show_ledger(led)
    assert panel.verdict.text() == "? nothing received yet"
    led.unnumbered = 5
    panel.show_ledger(led)
    assert panel.verdict.text().startswith("? no sequence rule: loss cannot be checked")
    lab = Ledger(unnumbered=5, rule="lab")  # the lab's messages without a seq (binary)
    panel.show_ledger(lab)
    assert panel.verdict.text().startswith("? no sequence ids: loss cannot be checked")
    panel.show_ledger(led)
    assert theme().hex("muted") in panel.verdict.styleSheet()
    led.record(1)
    led.record(3)
    panel.show_ledger(led)
    assert panel.verdict.text().startswith("✘ 1 lost") and theme().hex("error") in panel.verdict.styleSheet()
    led.record(2)
    panel.show_ledger(led)
    assert panel.verdict.text().startswith("✔ 0 lost") and theme().hex("ok") in panel.verdict.styleSheet()
