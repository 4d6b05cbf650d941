"""Virtual vs real asks first, in the Browser tab itself, before it restarts the lab every tab shares."""

from __future__ import annotations

from ui.controllers.agreement import AgreementController
from ui.widgets.agreement_panel import AgreementPanel


def test_the_run_asks_first_what_it_does_to_the_shared_lab(qtbot):
    panel = AgreementPanel()
    qtbot.addWidget(panel)
    panel.show()
    runs: list[bool] = []
    panel.runConfirmed.connect(lambda: runs.append(True))
    panel.ask_first(AgreementController().warning())
    assert "restarts the shared lab" in panel.warning.text() and "put back after" in panel.warning.text()
    panel.run_button.click()
    assert panel.confirm.isVisible() and runs == []
    panel.cancel_button.click()
    assert not panel.confirm.isVisible() and runs == []
    panel.run_button.click()
    panel.go_button.click()
    assert runs == [True] and not panel.confirm.isVisible()
