"""TLS in the tabs without a server: the connection bar's CA file and Insecure switch (one sentence for a CA
file that cannot serve), the ⚠ on every row of an insecure connection, and a workspace keeping both (and the
Short poll tab's Conditional requests)."""

from __future__ import annotations

import pytest

from transport.core.errors import DuplexError
from transport.core.events import Event
from ui.models.timeline_model import INSECURE, PAYLOAD, TimelineModel
from ui.tabs.feed_tabs import ShortPollTab
from ui.widgets.connection_bar import ConnectionBar


def test_the_bar_gives_the_clients_tls_options_and_refuses_a_bad_ca_file_in_one_sentence(qtbot, tmp_path):
    bar = ConnectionBar()
    qtbot.addWidget(bar)
    assert bar.tls_options() == {"verify_tls": True, "ca_file": None}
    bar.insecure.setChecked(True)
    assert bar.tls_options() == {"verify_tls": False, "ca_file": None}
    bad = tmp_path / "ca.pem"
    bad.write_text("hello")
    bar.ca_file.setText(str(bad))
    with pytest.raises(DuplexError, match="clear one of them"):
        bar.tls_options()
    bar.insecure.setChecked(False)
    with pytest.raises(DuplexError) as said:
        bar.tls_options()
    assert said.value.sentence.startswith(f"The CA file {bad} holds no PEM certificate")


def test_every_row_of_an_insecure_connection_says_so(qtbot):
    model = TimelineModel(100)
    model.append_events([Event("sse", "in", "message", seq=1, data='{"n": 1}', meta={"insecure": True}),
                         Event("sse", "in", "message", seq=2, data='{"n": 2}')])
    first = model.data(model.index(0, PAYLOAD))
    assert first.startswith(INSECURE) and not model.data(model.index(1, PAYLOAD)).startswith("⚠")
    assert "does not verify" in model.data(model.index(0, PAYLOAD), 3)  # the tooltip says what it means


def test_a_workspace_keeps_the_tls_options_and_conditional_requests(qtbot):
    tab = ShortPollTab(lambda _e: None)
    qtbot.addWidget(tab)
    tab.bar.url.setEditText("https://example.test/api/poll")
    tab.bar.ca_file.setText("/etc/ssl/my-ca.pem")
    tab.conditional.setChecked(True)
    kept = tab.connection()
    assert kept.options == {"conditional": True, "ca_file": "/etc/ssl/my-ca.pem"}
    other = ShortPollTab(lambda _e: None)
    qtbot.addWidget(other)
    other.apply_connection(kept)
    assert other.bar.ca_file.text() == "/etc/ssl/my-ca.pem" and other.conditional.isChecked()
    assert not other.bar.insecure.isChecked()
