"""The cluster's feed on a real Redis (started here on a free loopback port): numbering under Redis's epoch,
every worker's reader handing it on, and a Redis that loses the stream meaning a new numbering."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
import redis.asyncio as aioredis

from tests.helpers import free_port, wait_until, wait_until_answered
from transport.server.backplane import EPOCH, Backplane, RedisDown
from transport.server.feed import Feed

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is needed (apt install redis-server; .ci/run installs it)")


@pytest.fixture
async def redis_url(tmp_path):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = aioredis.from_url(url)

    async def ping() -> bool:
        try:
            return bool(await client.ping())
        except aioredis.ConnectionError:  # not listening yet
            return False

    try:
        await wait_until_answered(ping, bool, 10, "Redis answering")
        yield url
    finally:
        await client.aclose()
        proc.terminate()
        proc.wait(10)


async def test_two_workers_number_one_feed_and_a_redis_that_lost_it_means_a_new_numbering(redis_url):
    w1, w2 = Backplane(redis_url, Feed(100), "w1"), Backplane(redis_url, Feed(100), "w2")
    renumbered: list[str] = []
    w2.on_renumbered = renumbered.append
    await w1.start()
    await w2.start()
    try:
        assert w1.feed.epoch == w2.feed.epoch  # one numbering, Redis's
        first = await w1.publish_many([("t", 1), ("t", 2)])
        third = await w2.publish("t", 3)
        assert [m.seq for m in first] + [third.seq] == [1, 2, 3]
        await wait_until(lambda: w1.feed.last_seq == w2.feed.last_seq == 3, 10, "both readers at seq 3")
        old = w1.feed.epoch
        await w1.redis.flushall()  # Redis came back without the stream
        fresh = await w1.publish("t", "after")  # refused under the old epoch, numbered under a new one
        assert fresh.seq == 1 and w1.feed.epoch != old and await w1.redis.get(EPOCH) == w1.feed.epoch
        items, gap = w1.feed.since(3, epoch=old)
        assert gap is not None and gap.reset  # a client resuming from the old numbering is told
        await w2.check_epoch()  # what w2's reader does when it finds Redis again
        assert w2.feed.epoch == w1.feed.epoch and renumbered == [w1.feed.epoch]
    finally:
        await w1.stop()
        await w2.stop()


async def test_redis_down_is_redis_down_with_the_reason():
    w = Backplane(f"redis://127.0.0.1:{free_port()}/0", Feed(10), "w1")  # nothing listens there
    with pytest.raises(RedisDown) as down:
        await w.publish("t", 1)
    assert "does not answer" in str(down.value) and w.down
    assert (await w.figures())["redis_down"] == w.down
    await asyncio.gather(w.redis.aclose(), return_exceptions=True)


async def test_a_worker_that_starts_while_the_feed_is_published_serves_every_message(redis_url):
    """A worker's start reads the history and the counter as one snapshot: read apart, a message published
    between the two reads was counted but never read, and each poll this worker served skipped it (Compare's
    cluster run lost a few short-polled messages that way)."""
    leader = Backplane(redis_url, Feed(100_000), "w1")
    await leader.start()
    stop = asyncio.Event()

    async def publish() -> None:
        i = 0
        while not stop.is_set():  # as fast as Redis numbers them, until the test has started its workers
            await leader.publish("t", i)
            i += 1

    publisher = asyncio.ensure_future(publish())
    workers = []
    try:
        for n in range(8):  # each start races the publisher
            w = Backplane(redis_url, Feed(100_000), f"w{n + 2}")
            await w.start()
            workers.append(w)
        stop.set()
        await publisher
        last = leader.feed.last_seq
        await wait_until(lambda: all(w.feed.last_seq >= last for w in workers), 10, "every reader at the end",
                         state=lambda: [w.feed.last_seq for w in workers])
        for w in workers:
            backlog, gap = w.feed.since(0)
            seqs = [m.seq for m in backlog]
            assert gap is None or gap.first_available == seqs[0]
            assert seqs == list(range(seqs[0], seqs[-1] + 1)), f"{w.worker}: holes in what it serves"
            mid = seqs[len(seqs) // 2]
            assert [m.seq for m in w.feed.since(mid)[0]] == list(range(mid + 1, seqs[-1] + 1))
    finally:
        stop.set()
        await asyncio.gather(publisher, return_exceptions=True)
        for w in [*workers, leader]:
            await w.stop()
