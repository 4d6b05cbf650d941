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


def start_on(path, keep=100):
    return Feed(history=keep, journal=Journal(path, keep))


def test_a_rewrite_that_fails_at_start_takes_a_new_numbering_and_ends_the_old_one(tmp_path):
    path = tmp_path / "history.ndjson"
    old = publish_and_close(path, 5)
    (tmp_path / "history.ndjson.tmp").mkdir()  # where the rewrite goes: it cannot
    again = start_on(path)
    report = again.journal.report
    assert again.epoch != old.epoch and report.epoch == "new" and "cannot be rewritten" in report.why
    assert again.publish("t", "x").seq == 1 and again.journal.error
    again.journal.close()
    (tmp_path / "history.ndjson.tmp").rmdir()
    third = start_on(path)  # the old file was marked ended: its numbering is never carried on again
    assert third.epoch not in (old.epoch, again.epoch) and "ended" in third.journal.report.why
    third.journal.close()


def test_a_compaction_that_fails_ends_the_numbering(tmp_path):
    path = tmp_path / "history.ndjson"
    feed = start_on(path, keep=5)
    (tmp_path / "history.ndjson.tmp").mkdir()
    for i in range(30):  # compactions are due at 10 lines: they fail
        feed.publish("t", i)
    assert feed.journal.error and feed.last_seq == 30  # the feed went on in memory
    feed.journal.close()
    (tmp_path / "history.ndjson.tmp").rmdir()
    again = start_on(path)
    assert again.epoch != feed.epoch and "ended" in again.journal.report.why
    assert again.since(20, epoch=feed.epoch)[1].reset
    again.journal.close()


def test_a_second_lab_on_the_same_history_file_refuses_to_start(tmp_path):
    from transport.server.journal import HistoryInUse

    path = tmp_path / "history.ndjson"
    first = start_on(path)
    first.publish("t", 1)
    with pytest.raises(HistoryInUse, match="another lab is using it"):
        start_on(path)
    first.journal.close()
    assert start_on(path).epoch == first.epoch  # once it is free, the numbering goes on


def test_a_line_edited_into_other_valid_json_ends_the_numbering(tmp_path):
    path = tmp_path / "history.ndjson"
    old = publish_and_close(path, 5)
    lines = path.read_bytes().split(b"\n")
    assert lines[3].startswith(b'{"seq":3') and b"\t" in lines[3]
    lines[3] = lines[3].replace(b'"body":2', b'"body":666')  # still valid JSON, same seq
    path.write_bytes(b"\n".join(lines))
    again = start_on(path)
    assert again.epoch != old.epoch and "line 4 is damaged" in again.journal.report.why
    again.journal.close()


def test_a_file_of_the_earlier_format_without_checksums_is_read_as_before(tmp_path):
    path = tmp_path / "history.ndjson"
    head = '{"epoch":"e1","first":"00000000000000000001","published":"00000000000000000002"}\n'
    path.write_text(head + '{"seq":1,"ts":1,"topic":"t","body":1}\n{"seq":2,"ts":2,"topic":"t","body":2}\n')
    again = start_on(path)
    assert again.epoch == "e1" and again.last_seq == 2
    again.journal.close()
    assert '"sum":"crc32"' in path.read_text().splitlines()[0]  # rewritten in the current format
