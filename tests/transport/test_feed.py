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
    feed.publish("t", 2)
    feed.evict()
    feed.journal.close()
    again = Feed(history=10, journal=Journal(path, 10))  # the numbering goes on, with nothing to replay
    assert again.epoch == feed.epoch and again.last_seq == 2 and len(again) == 0
    assert again.journal.report.epoch == "kept"


def test_an_old_numbering_is_a_reset_even_below_the_last_seq(tmp_path):
    feed = Feed(history=100)  # restarted without history; already past the client's old resume point
    for i in range(50):
        feed.publish("t", i)
    items, gap = feed.since(12, epoch="0ld0ld00")
    assert len(items) == 50 and gap is not None and gap.reset
    assert feed.since(12, epoch=feed.epoch)[1] is None  # its own numbering: an ordinary resume


def publish_and_close(path, n: int, keep: int = 100) -> Feed:
    feed = Feed(history=keep, journal=Journal(path, keep))
    for i in range(n):
        feed.publish("t", i)
    feed.journal.close()
    return feed


def test_a_torn_last_line_keeps_the_numbering(tmp_path):
    path = tmp_path / "history.ndjson"
    old = publish_and_close(path, 5)
    with path.open("ab") as f:
        f.write(b'{"seq":6,"ts":1,"to')  # killed in the middle of a write: no client had seq 6
    again = Feed(history=100, journal=Journal(path, 100))
    assert again.epoch == old.epoch and again.last_seq == 5 and again.journal.report.epoch == "kept"
    assert again.journal.report.skipped == 1


def test_a_file_cut_in_its_middle_ends_the_numbering(tmp_path):
    path = tmp_path / "history.ndjson"
    old = publish_and_close(path, 60)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the second half is gone, and the last line is torn
    again = Feed(history=100, journal=Journal(path, 100))
    report = again.journal.report
    assert again.epoch != old.epoch and report.epoch == "new" and "lost its end" in report.why
    assert again.last_seq == 0 and again.publish("t", "x").seq == 1  # a new numbering, declared to resumers
    assert again.since(45, epoch=old.epoch)[1].reset


def test_a_damaged_line_in_the_middle_ends_the_numbering(tmp_path):
    path = tmp_path / "history.ndjson"
    old = publish_and_close(path, 10)
    lines = path.read_bytes().split(b"\n")
    lines[4] = b'{"seq": "garbage'
    path.write_bytes(b"\n".join(lines))
    again = Feed(history=100, journal=Journal(path, 100))
    assert again.epoch != old.epoch and "line 5 is damaged" in again.journal.report.why


def test_a_write_that_fails_goes_on_in_memory_and_ends_the_numbering(tmp_path):
    """A full disk, simulated with a file-size limit (RLIMIT_FSIZE) in a child process."""
    import subprocess
    import sys

    path = tmp_path / "history.ndjson"
    code = f"""
import resource, json
from transport.server.feed import Feed
from transport.server.journal import Journal
feed = Feed(history=1000, journal=Journal({str(path)!r}, 1000))
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
for i in range(200):
    feed.publish("t", "x" * 40)  # never an exception: the feed goes on in memory
feed.journal.close()
print(json.dumps({{"epoch": feed.epoch, "last": feed.last_seq, "error": feed.journal.error}}))
"""
    from tests.helpers import ROOT
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)
    assert first["last"] == 200 and "cannot be written" in first["error"]
    again = Feed(history=1000, journal=Journal(path, 1000))
    assert again.epoch != first["epoch"] and "ended" in again.journal.report.why
    assert again.since(150, epoch=first["epoch"])[1].reset  # resuming clients get a declared reset
