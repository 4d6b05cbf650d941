"""The cluster's supervisor (server/cluster.py) in this process, with real Redis, lab workers and HAProxy:
what it starts, what its actions do to them, what it says when something is missing, and that it leaves
nothing behind. (tests/e2e/test_cluster.py drives the same through ``python -m transport.server --cluster``.)"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import wait_until, wait_until_answered
from transport.clients.lab_admin import lab_stats
from transport.core.child_process import free_port
from transport.server.cluster import REDIS_NOT_FOUND, Cluster, ClusterError, Worker

needs_cluster = pytest.mark.skipif(not (shutil.which("redis-server") and shutil.which("haproxy")),
                                   reason="cluster mode needs redis-server and haproxy (CI installs both)")


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def lab_answer(url: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            resp.raise_for_status()
            return await resp.json()


@needs_cluster
async def test_two_workers_behind_haproxy_killed_restarted_and_stopped_with_nothing_left(tmp_path):
    cluster = Cluster(2, [], rate=20, folder=tmp_path / "cluster")
    cluster.folder.mkdir()
    try:
        await cluster.start()
        said = cluster.announce()
        assert said["url"] == f"http://127.0.0.1:{cluster.port}" and said["redis"].startswith("redis://127.0.0.1:")
        assert [w["id"] for w in said["workers"]] == ["w1", "w2"] and all(w["alive"] for w in said["workers"])
        assert len(said["admin_token"]) >= 40  # from secrets
        await wait_until_answered(lambda: lab_answer(said["url"]), lambda a: "endpoints" in a, 10,
                                  "the lab through HAProxy")

        assert await cluster.kill_worker("w9") == "no running worker 'w9'"
        w2 = cluster.worker("w2")
        assert w2 is not None and w2.pid is not None
        old_pid = w2.pid
        assert await cluster.kill_worker("w2") == "worker w2 killed"
        assert not alive(old_pid) and not w2.to_json()["alive"]
        # the balancer keeps answering from w1 (its health check marks w2 down)
        for _ in range(4):
            await wait_until_answered(lambda: lab_answer(said["url"]), lambda a: "endpoints" in a, 10,
                                      "the lab through HAProxy with w2 dead")

        restarted = await cluster.restart_worker("w2")
        assert restarted == f"worker w2 restarted on port {w2.port}" and w2.to_json()["alive"]
        assert w2.pid != old_pid and w2.port
        await wait_until_answered(lambda: lab_answer(f"http://127.0.0.1:{w2.port}"), lambda a: "endpoints" in a,
                                  10, "the restarted worker on its own port")
        # it says the cluster's feed rate (on Redis), not the 0 it was started with: the Server tab shows it
        await wait_until_answered(lambda: lab_stats(f"http://127.0.0.1:{w2.port}", said["admin_token"]),
                                  lambda st: st["feed"]["rate"] == 20.0, 10, "the restarted worker's feed rate")

        assert await cluster.set_balance("random") == "balance must be one of roundrobin, cookie, source"
        assert await cluster.set_balance("cookie") == "balancing cookie"
        assert "cookie DUPLEX_NODE" in (cluster.folder / "haproxy.cfg").read_text()
        await wait_until_answered(lambda: lab_answer(said["url"]), lambda a: "endpoints" in a, 10,
                                  "the lab after the balancer's reload")
    finally:
        pids = [w.pid for w in cluster.workers] + [p.pid for p in (cluster._haproxy, cluster._redis_proc) if p]
        await cluster.stop()
    assert not any(alive(pid) for pid in pids), "a worker, HAProxy or Redis outlived the cluster"
    assert not cluster.folder.exists()


@needs_cluster
async def test_redis_that_ends_is_restarted_on_its_port_and_the_cluster_says_so(tmp_path, capsys):
    cluster = Cluster(1, [], rate=0, folder=tmp_path / "cluster")
    cluster.folder.mkdir()
    watch = None
    try:
        await cluster.start()
        watch = asyncio.ensure_future(cluster.watch_redis())
        first = cluster._redis_proc
        assert first is not None
        first.kill()
        out: list[str] = []  # what the supervisor printed so far
        await wait_until(lambda: out.append(capsys.readouterr().out) or "Redis ended" in "".join(out), 10,
                         "the cluster's line about Redis", state=lambda: "".join(out)[-300:])
        assert cluster._redis_proc is not first and cluster._redis_proc is not None
        assert cluster._redis_proc.returncode is None
    finally:
        await cluster.stop()
        if watch is not None:
            await asyncio.wait_for(watch, 10)


def test_haproxy_listens_on_loopback_only_and_each_balance_is_its_config():
    cluster = Cluster(2, [], rate=0, folder=Path("/nonexistent"), port=8123)
    cluster.workers = [Worker("w1", port=9001), Worker("w2", port=9002)]
    config = cluster.haproxy_config()
    assert "bind 127.0.0.1:8123" in config and "balance roundrobin" in config and "cookie" not in config
    assert "server w1 127.0.0.1:9001" in config and "server w2 127.0.0.1:9002" in config
    cluster.balance = "cookie"
    config = cluster.haproxy_config()
    assert "cookie DUPLEX_NODE insert indirect nocache httponly" in config and "cookie w2" in config
    cluster.balance = "source"
    assert "balance source" in cluster.haproxy_config()


async def test_no_redis_on_the_machine_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without redis-server
    cluster = Cluster(1, [], rate=0, folder=tmp_path / "cluster")
    cluster.folder.mkdir()
    with pytest.raises(ClusterError) as err:
        await cluster.start()
    assert str(err.value) == REDIS_NOT_FOUND
    await cluster.stop()


async def test_a_redis_url_nobody_answers_on_is_one_sentence(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    cluster = Cluster(1, [], rate=0, redis_url=url, folder=tmp_path / "cluster")
    cluster.folder.mkdir()
    with pytest.raises(ClusterError) as err:
        await cluster.start()
    assert str(err.value).startswith(f"Redis at {url} cannot be used:") and "\n" not in str(err.value)
    await cluster.stop()
    assert os.path.exists(tmp_path) and not cluster.folder.exists()
