"""The SSE tab with the real lab process, as a user drives it."""

from __future__ import annotations

from tests.helpers import drop_then_restart, press, wait_until
from transport.core.rows import NAMED, UNNAMED
from ui.models.timeline_model import EVENT, KIND, SEQ


def events_of(tab, kind):
    return [e for e in tab.timeline.model.events() if e.kind == kind]


async def connected(tab, n=1):
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected
                     and tab.controller.client.ledger.received >= n, 15, f"SSE open with {n} events")


async def test_connects_to_the_lab_stream_and_shows_events_and_checks(window):
    tab = window.sse_tab
    assert tab.bar.url_text() == window.lab.url + "/sse"
    await connected(tab, 6)
    model = tab.timeline.model
    # the rows reach the model one bridge flush after the client has them: wait for the rows themselves
    await wait_until(lambda: len(events_of(tab, "message")) >= 3 and all(events_of(tab, k) for k in
                                                                         ("request", "response", "retry")),
                     10, "the request, response, retry and message rows",
                     state=lambda: [e.kind for e in model.events()][:12])
    for first in events_of(tab, "message")[:3]:  # price, likes (named) and chat (unnamed)
        row = model.events().index(first)
        assert model.data(model.index(row, KIND)) == "message"
        assert model.data(model.index(row, EVENT)) == first.meta["type"]  # "message" for an unnamed one
        assert model.data(model.index(row, SEQ)) == str(first.seq) == first.meta["last_event_id"]
    assert events_of(tab, "request") and events_of(tab, "response") and events_of(tab, "retry")
    labels = tab.checks.labels
    assert labels["status"].text() == "200 OK"
    assert labels["ttfb"].text().endswith(" ms") and labels["retry"].text() == "1000 ms (server retry)"
    assert labels["last_id"].text() == events_of(tab, "message")[-1].meta["last_event_id"]
    assert "✔" in labels["cache-control"].text() and "✔" in labels["compression"].text()
    assert tab.checks.warnings == set()
    assert "open" in tab.bar.light.text()


async def test_filter_by_event_type_separates_named_and_unnamed(window):
    tab = window.sse_tab
    await connected(tab, 9)
    tl = tab.timeline
    shown = lambda: [tl.model.event_at(r) for r in range(tl.model.rowCount())]  # noqa: E731
    tl.set_type_filter(UNNAMED)
    assert shown() and all(e.meta["type"] == "message" for e in shown())
    tl.set_type_filter(NAMED)
    assert shown() and {e.meta["type"] for e in shown()} == {"price", "likes"}
    tl.set_type_filter("price")
    assert tl.type_filter.currentText() == "Named: price"
    assert shown() and all(e.meta["type"] == "price" for e in shown())
    before = len(shown())
    await wait_until(lambda: len(shown()) > before, 10, "new price rows while filtered")
    tl.set_type_filter(None)
    assert len(shown()) == tl.model.stored


async def test_drop_and_restart_lose_nothing_and_resume_by_last_event_id(window):
    tab = window.sse_tab
    led = lambda: tab.controller.client.ledger  # noqa: E731
    await connected(tab, 10)
    await drop_then_restart(tab)
    assert led().lost == 0 and led().duplicated == 0
    assert tab.ledger.verdict.text() == "✔ 0 lost, 0 duplicated"
    resumed = [e for e in events_of(tab, "request") if e.meta["last_event_id"]]
    assert len(resumed) >= 2 and all(e.meta["headers"]["Last-Event-ID"] == e.meta["last_event_id"] for e in resumed)
    assert events_of(tab, "reconnect") and events_of(tab, "fault")


async def test_a_url_that_is_not_an_event_stream_fails_with_a_sentence(window):
    tab = window.sse_tab
    await connected(tab)
    await press(tab, "Disconnect")
    await wait_until(lambda: tab.controller.client is None, 10, "disconnect")
    await wait_until(lambda: tab.checks.labels["first"].text() != "—", 5, "the lab stream's first event shown")
    tab.bar.url.setCurrentText(window.lab.url + "/")  # JSON, not text/event-stream
    tab.bar.connect_button.click()
    await wait_until(lambda: "not text/event-stream" in tab.status.text(), 10, "status message")
    assert "failed" in tab.bar.light.text()
    # the panel describes this stream, not the last one: no first event, no reconnects carried over
    assert tab.checks.labels["first"].text() == "—" and tab.checks.reconnects == 0
    assert tab.checks.labels["reconnects"].text() == "—"
    tab.bar.url.setCurrentText("ws://127.0.0.1:1/sse")
    tab.bar.connect_button.click()
    await wait_until(lambda: "http:// or https://" in tab.status.text(), 10, "invalid URL")
    tab.bar.url.setCurrentText(window.lab.url + "/sse")
    tab.bar.connect_button.click()
    await wait_until(lambda: tab.controller.client is not None and tab.controller.client.connected, 15, "usable again")


async def test_max_event_size_and_policy_from_the_bar_reach_the_client(window):
    tab = window.sse_tab
    await connected(tab)
    await press(tab, "Disconnect")
    await wait_until(lambda: tab.controller.client is None, 10, "disconnect")
    tab.max_event.setValue(2)
    tab.bar.policy.setCurrentIndex(tab.bar.policy.findData("fixed"))
    assert tab.bar.interval.isEnabled()
    tab.bar.connect_button.click()
    await connected(tab)
    assert tab.controller.client.options.max_event_size == 2 << 20 and tab.controller.client.options.policy.name == "fixed"


async def test_a_post_stream_shows_its_tokens_and_the_answer_text(window):
    tab = window.sse_tab
    await connected(tab, 1)
    tab.method.setCurrentText("POST")
    assert tab.post_row.isVisibleTo(tab)
    tab.body.setText('{"stream": true, "pace_ms": 1, "tokens": 30}')
    tab.bar.url.setCurrentText(window.lab.url + "/api/chat")
    tab.bar.urlEntered.emit()
    await wait_until(lambda: any(e.kind == "done" for e in tab.timeline.model.events()), 15, "the answer's [DONE]")
    await wait_until(lambda: tab.text.toPlainText().count(" ") == 30, 5, "the text view")
    assert tab.text_box.isVisibleTo(tab)
    requests = [e for e in tab.timeline.model.events() if e.kind == "request" and e.data.startswith("POST ")]
    assert len(requests) == 1
    await wait_until(lambda: "closed" in tab.bar.light.text(), 5, "the exchange complete, not retried")
