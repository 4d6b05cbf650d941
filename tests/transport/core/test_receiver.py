"""The feed receiver with raw frames: envelope → ledger → resume point → epoch → latency → Event."""

from __future__ import annotations

import json

from transport.core.receiver import FeedReceiver
from transport.core.wire import EPOCH_HEADER


def envelope(seq: int, ts: int = 1_000_000, topic: str = "price") -> str:
    return json.dumps({"seq": seq, "ts": ts, "topic": topic, "body": seq}, separators=(",", ":"))


LAB = {EPOCH_HEADER: "e1"}  # what every response and handshake of the lab carries: the lab's mark


def make(one_way: bool = True, after: int | None = None, lab: bool = True) -> tuple[FeedReceiver, list]:
    events: list = []
    rx = FeedReceiver("websocket", events.append, one_way=one_way, after=after)
    if lab:
        rx.note_epoch(LAB)
    return rx, events


def test_envelopes_become_message_events_with_latency_and_the_resume_point():
    rx, events = make()
    rx.conn = 3
    for seq in (1, 2, 3):
        rx.text(envelope(seq, ts=1_000_000), 3_000_000, wire=80)
    assert [(e.kind, e.seq, e.conn, e.wire) for e in events] == [("message", s, 3, 80) for s in (1, 2, 3)]
    assert events[0].latency_ms == 2.0 and events[0].meta == {"topic": "price"}
    assert rx.after == 3 and rx.delivered == 3 and rx.stats.messages == 3
    assert rx.ledger.summary()["lost"] == 0


def test_duplicates_and_holes_are_in_the_ledger_and_on_the_rows():
    rx, events = make()
    for seq in (1, 2, 4, 2, 3):
        rx.text(envelope(seq), 2_000_000)
    assert [e.meta.get("ledger") for e in events] == [None, None, None, "duplicate", "reordered"]
    assert rx.ledger.duplicated == 1 and rx.ledger.lost == 0 and rx.delivered == 4


def test_a_drop_and_a_resume_replay_until_live():
    rx, events = make()
    rx.text(envelope(1), 2)
    rx.connection_lost()
    rx.resume_started()
    rx.text(envelope(2), 3)  # replayed from history
    assert rx.text(json.dumps({"control": "live", "seq": 2}), 4) is None
    rx.text(envelope(3), 5)
    episode = rx.ledger.episodes[0]
    assert episode.recovered and episode.replayed == 1 and episode.lost == 0
    assert [e.kind for e in events] == ["message", "message", "live", "message"]


def test_a_declared_gap_is_lost_and_said():
    rx, events = make()
    rx.text(envelope(1), 2)
    rx.connection_lost()
    rx.text(json.dumps({"control": "gap", "after": 1, "first_available": 5, "missing": 3}), 3)
    rx.text(envelope(5), 4)
    gap = events[1]
    assert gap.kind == "gap" and "seq 2–4" in gap.meta["sentence"]
    assert rx.ledger.lost == 3 and rx.ledger.gap_declared == 3


def test_a_reset_starts_a_new_numbering_without_counting_duplicates():
    rx, _ = make()
    for seq in (1, 2, 3):
        rx.text(envelope(seq), 2)
    rx.connection_lost()
    rx.text(json.dumps({"control": "gap", "after": 3, "first_available": 1, "missing": 0, "reset": True}), 3)
    assert rx.after == 0
    rx.text(envelope(1), 4)
    assert rx.ledger.duplicated == 0 and rx.ledger.resets == 1 and rx.after == 1


def test_sse_controls_come_by_event_type_and_a_foreign_live_event_is_a_message():
    events: list = []
    rx = FeedReceiver("sse", events.append, one_way=True)
    rx.note_epoch(LAB)
    assert rx.text('{"seq":7}', 1, control="live") is None and rx.after == 7
    msg = rx.text('{"seq":8,"user":"x"}', 2, control="live")  # not the lab's shape
    assert msg is not None and msg.kind == "message"


def test_parsed_values_of_polls_and_streams():
    events: list = []
    rx = FeedReceiver("long_poll", events.append, one_way=False, after=10)
    rx.note_epoch(LAB)
    text = envelope(11)
    rx.value(text, json.loads(text), 5)
    rx.value("[1,2]", [1, 2], 6)  # not an envelope: a message without a seq
    assert rx.after == 11 and events[0].latency_ms is None and events[1].seq is None
    assert rx.delivered == 2


def test_round_trip_latency_where_one_way_is_unknown():
    rx, events = make(one_way=False)
    rx.text("hello", 1, rtt_ms=4.5)
    assert events[0].latency_ms == 4.5 and events[0].meta["latency"] == "rtt"


def test_the_epoch_is_kept_and_echoed():
    rx, _ = make(lab=False)
    assert rx.epoch_headers() == [] and not rx.lab
    rx.note_epoch({EPOCH_HEADER: "abc"})
    assert rx.epoch == "abc" and rx.epoch_headers() == [(EPOCH_HEADER, "abc")] and rx.lab


def test_the_labs_mark_is_kept_through_error_answers_and_dropped_by_a_successful_one():
    """A balancer's 502 or a fault's 403 on the way (no Duplex-Epoch) does not un-mark the lab, so resuming
    with ?after= goes on through exactly the faults meant to test it; a successful answer without it does."""
    rx, _ = make()
    rx.note_epoch({}, ok=False)
    assert rx.lab and rx.epoch == "e1"
    rx.note_epoch({"Content-Type": "text/plain"}, ok=True)
    assert not rx.lab and rx.epoch_headers() == []


def test_another_servers_json_is_a_message_whatever_its_keys():
    """The issue's plain WebSocket server: {"control": "pause"}, {"control": "live", "seq": 5} and
    {"seq": 1, …} are three messages; no rule numbers them, so the ledger says loss cannot be checked."""
    rx, events = make(lab=False)
    for text in ('{"control": "pause"}', '{"control": "live", "seq": 5}', '{"seq": 1, "price": 10}',
                 '{"seq":1,"ts":1,"topic":"t","body":0}'):
        rx.text(text, 1)
    rx.texts([('{"seq":2,"ts":1,"topic":"t","body":0}', 30, None)], 2)
    assert [e.kind for e in events] == ["message"] * 5 and all(e.seq is None for e in events)
    assert rx.after is None and rx.ledger.verdict().startswith("no sequence rule: loss cannot be checked")
    assert not rx.ledger.to_json()["ok"]


def test_a_sequence_rule_numbers_another_servers_messages():
    from transport.core.sequence import parse_seq

    events: list = []
    rx = FeedReceiver("websocket", events.append, one_way=False, seq_rule=parse_seq("/data/n"))
    for n in (1, 2, 4, 2):
        rx.text(json.dumps({"data": {"n": n}}), 1)
    rx.text('{"control": "live", "seq": 9}', 1)  # a message like any other: no number at /data/n
    assert [e.seq for e in events] == [1, 2, 4, 2, None]
    assert rx.after == 4 and rx.ledger.lost == 1 and rx.ledger.duplicated == 1
    rx.connection_lost()
    rx.resume_started()  # no replay marker from this server: the first new message closes the episode
    rx.text('{"data": {"n": 5}}', 2)
    led = rx.ledger.counts()
    assert (led["episodes"], led["recovered"], led["lost"], led["rule"]) == (1, 1, 1, "/data/n")


from hypothesis import given, settings, strategies as st  # noqa: E402

_steps = st.lists(st.one_of(
    st.tuples(st.just("msgs"), st.lists(st.integers(1, 40), max_size=8)),
    st.tuples(st.just("lost"), st.just([])),
    st.tuples(st.just("resume"), st.just([])),
    st.tuples(st.just("live"), st.just([])),
), max_size=25)


@settings(max_examples=150)
@given(_steps)
def test_a_read_handed_at_once_counts_what_one_at_a_time_counts(steps):
    """The batch path's shortcut for the plainly next seq keeps the ledger exactly as record() would:
    across drops, replays and live markers, duplicates and holes."""
    def run(batched):
        rows = []
        r = FeedReceiver("websocket", rows.append, one_way=True)
        r.note_epoch(LAB)
        for op, seqs in steps:
            if op == "msgs":
                frames = [(f'{{"seq":{s},"ts":1,"topic":"t","body":0}}', 30, 32) for s in seqs]
                if batched:
                    r.texts(frames, 5)
                else:
                    for text, size, wire in frames:
                        r.text(text, 5, wire, size=size)
            elif op == "lost":
                r.connection_lost()
            elif op == "resume":
                r.resume_started()
            else:
                r.text(f'{{"control":"live","seq":{r.after or 0}}}', 5)
        led = r.ledger
        return (led.summary(), [(e.first_after, e.replayed, e.lost, e.duplicated, e.reordered, e.recovered)
                                for e in led.episodes], r.after, r.delivered, [(e.kind, e.seq, e.meta) for e in rows])
    assert run(True) == run(False)
