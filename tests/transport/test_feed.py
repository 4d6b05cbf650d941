import asyncio
import json

import pytest

from transport.server.feed import Feed, demo_body
from transport.server.journal import Journal


def test_seq_grows_by_one_and_envelope_is_json():
    feed = Feed(history=10, clock=iter(range(100, 200)).__next__)
    m1 = feed.publish("price", {"p": 1})
    m2 = feed.publish("likes", {"n": 2})
    assert (m1.seq, m2.seq) == (1, 2)
    assert json.loads(m2.text) == {"seq": 2, "ts": 101, "topic": "likes", "body": {"n": 2}}


def test_since_replays_from_history_and_reports_gaps():
    feed = Feed(history=5)
    for i in range(12):
        feed.publish("t", i)
    items, gap = feed.since(9)
    assert [m.seq for m in items] == [10, 11, 12] and gap is None
    items, gap = feed.since(2)
    assert [m.seq for m in items] == [8, 9, 10, 11, 12]
    assert gap is not None and (gap.after, gap.first_available, gap.missing) == (2, 8, 5)
    assert feed.since(12) == ([], None)


def test_evict_makes_every_resume_point_a_gap():
    feed = Feed(history=100)
    for i in range(5):
        feed.publish("t", i)
    assert feed.evict() == 5
    items, gap = feed.since(3)
    assert items == [] and gap is not None and gap.missing == 2


async def test_subscribers_get_batches_and_overflow_is_flagged():
    feed = Feed()
    sub = feed.subscribe(limit=3)
    for i in range(2):
        feed.publish("t", i)
    assert [m.seq for m in await asyncio.wait_for(sub.get_batch(), 1)] == [1, 2]
    for i in range(5):
        feed.publish("t", i)
    assert sub.overflowed
    feed.unsubscribe(sub)
    assert feed.subscribers == 0


def test_demo_bodies_have_two_topics():
    assert "price" in demo_body("price", 3) and "likes" in demo_body("likes", 3)
    with pytest.raises(ValueError):
        Feed(history=0)


def test_history_file_survives_a_new_feed_and_compacts(tmp_path):
    path = tmp_path / "history.ndjson"
    feed = Feed(history=5, journal=Journal(path, 5))
    epoch = feed.epoch
    for i in range(12):
        feed.publish("t", i)
    feed.journal.close()
    assert len(path.read_text().splitlines()) <= 11  # compacted at twice the history (+ the epoch line)
    again = Feed(history=5, journal=Journal(path, 5))
    assert again.last_seq == 12 and again.loaded == 5 and again.epoch == epoch
    items, gap = again.since(9)
    assert [m.seq for m in items] == [10, 11, 12] and gap is None
    assert again.publish("t", "next").seq == 13
    assert json.loads(items[0].text)["body"] == 9


def test_a_torn_last_line_is_skipped_not_fatal(tmp_path):
    path = tmp_path / "history.ndjson"
    feed = Feed(history=10, journal=Journal(path, 10))
    for i in range(3):
        feed.publish("t", i)
    feed.journal.close()
    with path.open("a") as f:
        f.write('{"seq": 4, "ts": 1, "topi')  # killed in the middle of a write
    again = Feed(history=10, journal=Journal(path, 10))
    assert again.last_seq == 3 and again.journal.skipped == 1


def test_resuming_past_the_last_seq_is_a_declared_reset():
    feed = Feed(history=10)  # a server restarted without its history
    for i in range(3):
        feed.publish("t", i)
    items, gap = feed.since(500)
    assert [m.seq for m in items] == [1, 2, 3]
    assert gap is not None and gap.reset and gap.to_dict() == {"after": 500, "first_available": 1,
                                                               "missing": 0, "reset": True}


def test_evict_empties_the_history_file(tmp_path):
    path = tmp_path / "history.ndjson"
    feed = Feed(history=10, journal=Journal(path, 10))
    feed.publish("t", 1)
    feed.evict()
    feed.journal.close()
    assert path.read_text() == json.dumps({"epoch": feed.epoch}) + "\n"  # the numbering goes on


def test_an_old_numbering_is_a_reset_even_below_the_last_seq(tmp_path):
    feed = Feed(history=100)  # restarted without history; already past the client's old resume point
    for i in range(50):
        feed.publish("t", i)
    items, gap = feed.since(12, epoch="0ld0ld00")
    assert len(items) == 50 and gap is not None and gap.reset
    assert feed.since(12, epoch=feed.epoch)[1] is None  # its own numbering: an ordinary resume
