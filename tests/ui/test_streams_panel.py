"""The Browser tab's Streams per origin: which series a run makes (HTTP/1.1 alone on a plain lab, with one
sentence why; both on the TLS lab), and the panel's rows (a fake run: the real one is tests/e2e)."""

from __future__ import annotations

from ui.controllers.streams import NO_TLS, StreamsController
from ui.widgets.streams_panel import StreamsPanel


def test_a_plain_lab_runs_http1_alone_and_says_why_the_tls_lab_runs_both(qtbot):
    marks: list = []
    run = StreamsController(marks.append)
    said: list[str] = []
    run.progress.connect(said.append)
    run.run(10, "sse")
    assert said == ["The lab is not running yet."]
    run.set_lab("http://127.0.0.1:5000", None)
    assert run.series() == [("HTTP/1.1", "http://127.0.0.1:5000")] and "HTTP/2 only over TLS" in NO_TLS
    run.set_lab("https://127.0.0.1:5001", {"ca": "/x/ca.pem", "alpn": ["h2", "http/1.1"],
                                           "http1_url": "https://127.0.0.1:5002"})
    assert run.series() == [("HTTP/1.1", "https://127.0.0.1:5002"), ("HTTP/2", "https://127.0.0.1:5001")]
    run.set_lab("https://127.0.0.1:5001", {"ca": "/x/ca.pem", "alpn": ["http/1.1"],
                                           "http1_url": "https://127.0.0.1:5002"})
    assert [t for t, _o in run.series()] == ["HTTP/1.1"]  # a lab started with --http1 offers no HTTP/2


def test_the_panel_shows_each_stream_and_asks_for_a_run(qtbot):
    panel = StreamsPanel()
    qtbot.addWidget(panel)
    asked: list = []
    panel.runRequested.connect(lambda n, kind: asked.append((n, kind)))
    panel.count.setValue(8)
    panel.kind.setCurrentIndex(1)
    panel.run_button.click()
    assert asked == [(8, "fetch")]
    panel.show_rows([
        {"series": "HTTP/1.1", "stream": 0, "state": "open", "protocol": "http/1.1", "connection": 12,
         "opened_ms": 31.5, "after_close": False},
        {"series": "HTTP/1.1", "stream": 6, "state": "pending", "protocol": "http/1.1", "connection": 19,
         "opened_ms": 1561.0, "after_close": True},
        {"series": "HTTP/1.1", "stream": 7, "state": "pending", "protocol": None, "connection": None,
         "opened_ms": None, "after_close": False}])
    cells = [[panel.table.item(r, c).text() for c in range(panel.table.columnCount())] for r in range(3)]
    assert cells[0] == ["HTTP/1.1", "0", "open", "http/1.1", "12", "31.5"]
    assert cells[1][2] == "pending → opened after a close" and cells[2][3:] == ["—", "—", "—"]
