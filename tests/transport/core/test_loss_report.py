"""The loss report: what a failed "nothing lost" tells a developer, from rows and a ledger alone."""

from __future__ import annotations

import time

from transport.core.events import Event
from transport.core.ledger import Ledger
from transport.core.loss_report import loss_report, spans, span_text

T0 = 1_000_000_000


def msg(seq: int, t: int, verdict: str | None = None) -> Event:
    return Event("sse", "in", "message", t=t, seq=seq, data=f"m{seq}", meta={"ledger": verdict} if verdict else {})


def test_spans_read_as_runs() -> None:
    assert spans([9, 3, 4, 5, 5]) == [(3, 5), (9, 9)]
    assert span_text(spans(range(0, 100, 2)), limit=3) == "0, 2, 4, …"


def test_nothing_lost_is_no_report_and_no_rule_is_never_a_pass() -> None:
    led = Ledger(rule="id")
    for s in range(1, 6):
        led.record(s)
    assert loss_report([], led.to_json(), started_ns=T0, what="sse x") is None
    plain = Ledger()
    plain.record_unnumbered()
    said = loss_report([], plain.to_json(), started_ns=T0, what="ws x")
    assert said is not None and said.startswith("ws x: no sequence rule: loss cannot be checked (1 messages")
    assert loss_report([], Ledger(rule="id").to_json(), started_ns=T0, what="sse x") == \
        "sse x: nothing received: loss cannot be checked."


def test_a_hole_across_a_drop_names_its_episode_its_fault_the_reconnect_and_the_rows() -> None:
    led, rows = Ledger(rule="id"), []
    now = time.monotonic_ns()
    for s in range(1, 11):
        led.record(s)
        rows.append(msg(s, now + s))
    rows.append(Event("sse", "state", "fault", t=now + 20, data="proxy p: down for 1 s", meta={"fault": "proxy"}))
    led.connection_lost()
    rows.append(Event("sse", "out", "request", t=now + 10**9, data="GET http://h/events",
                      meta={"last_event_id": "10"}))
    for s in range(15, 18):
        led.record(s)
        rows.append(msg(s, now + 10**9 + s))
    said = loss_report(rows, led.to_json(), started_ns=now, what="sse http://h/events")
    assert said is not None
    assert said.splitlines()[0] == "sse http://h/events: 4 lost, 0 duplicated of 13 messages received, across 1 drop " \
                                   "episode."
    assert "missing seqs: 11–14" in said and "11–14: across drop episode 1" in said
    assert 'episode 1 (after the fault "proxy p: down for 1 s"' in said
    assert "the reconnect asked GET http://h/events with Last-Event-ID: 10" in said
    lines = said.splitlines()
    hole = next(i for i, line in enumerate(lines) if "----- seq 11–14 missing here -----" in line)
    assert "seq=10" in lines[hole - 3] and "seq=15" in lines[hole + 1]


def test_a_duplicate_and_a_live_hole_are_told_apart() -> None:
    led, rows = Ledger(rule="id"), []
    for s, t in ((1, 1), (2, 2), (4, 3), (4, 4)):
        verdict = led.record(s)
        rows.append(msg(s, T0 + t, None if verdict == "new" else verdict))
    said = loss_report(rows, led.to_json(), started_ns=T0, what="ws x")
    assert said is not None
    assert "1 lost, 1 duplicated" in said
    assert "3: on a live connection (no drop)" in said
    assert "arrived more than once: 4 (on the first connection)" in said


def test_an_episode_that_never_recovered_fails_even_with_nothing_counted_lost() -> None:
    led = Ledger(rule="id")
    led.record(1)
    led.connection_lost()
    said = loss_report([msg(1, T0)], led.to_json(), started_ns=T0, what="sse x")
    assert said is not None and "NOT recovered: no new message came after the reconnect" in said
