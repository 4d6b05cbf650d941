"""The lab as a cluster, end to end with real Redis and HAProxy (``python -m transport.server --cluster N``):
every feed transport through the balancer while one worker is killed and another restarted — nothing lost,
nothing twice, and the resumes served by other workers; sessions shared through Redis, or node-local (then
round-robin balancing logs users out: the 401s the document's readers meet in production)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys

import aiohttp
import pytest

from tests.helpers import ROOT, read_line, stop_child, wait_until, wait_until_answered
from transport.clients.lab_admin import post_fault
from transport.clients.registry import TRANSPORTS
from transport.core.wire import WORKER_HEADER

HAVE = shutil.which("redis-server") is not None and shutil.which("haproxy") is not None
pytestmark = pytest.mark.skipif(not HAVE and not os.environ.get("CI"),
                                reason="cluster mode needs redis-server and haproxy (apt install redis-server "
                                       "haproxy); .ci/run installs them and these tests do not skip there")


class ClusterProcess:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "transport.server", "--watch-parent", "--cluster", *args,
                                      "--log-level", "WARNING"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.info = json.loads(read_line(self.proc.stdout, 30))
        assert self.info["event"] == "listening", self.info
        self.url, self.token = self.info["url"], self.info["admin_token"]

    def stop(self) -> None:
        stop_child(self.proc, 20)


@pytest.fixture
def cluster3():
    c = ClusterProcess("3", "--rate", "20")
    try:
        yield c
    finally:
        c.stop()


async def _port_open(port: int) -> bool:
    try:
        _r, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


def worker_of(e) -> str | None:
    """The worker that served a row: the response's header, or the WebSocket handshake's."""
    headers = e.meta.get("headers") or e.meta.get("response_headers") or {}
    return next((v for k, v in headers.items() if k.lower() == WORKER_HEADER.lower()), None)


def connections(events) -> list[str]:
    """Which worker served each connection (or each poll), in order."""
    return [w for e in events if e.kind in ("open", "response") and (w := worker_of(e))]


FEED = {"websocket": {}, "sse": {}, "long_poll": {}, "short_poll": {"interval": 0.2}, "stream": {},
        "socketio": {"transports": "websocket"}}


@pytest.mark.timeout(120)
async def test_every_transport_survives_a_killed_and_a_restarted_worker(cluster3):
    c = cluster3
    assert [w["id"] for w in c.info["workers"]] == ["w1", "w2", "w3"] and c.info["redis"].startswith("redis://")
    runs = {}
    for name, options in FEED.items():
        info = TRANSPORTS[name]
        events: list = []
        client = info.make(info.lab_url(c.url), events.append, **options)
        runs[name] = (client, events, asyncio.ensure_future(client.run()))
    try:
        await wait_until(lambda: all(cl.ledger.received >= 20 for cl, _e, _t in runs.values()), 30, "20 each")
        before = {name: connections(ev) for name, (_c, ev, _t) in runs.items()}
        assert {w.split("/")[0] for ws in before.values() for w in ws} >= {"w1", "w2", "w3"}  # round robin
        await post_fault(c.url, c.token, {"action": "kill_worker", "worker": "w2"})
        w2 = next(w["port"] for w in c.info["workers"] if w["id"] == "w2")
        await wait_until_answered(lambda: _port_open(w2), lambda is_open: not is_open, 10, "w2 gone")
        await post_fault(c.url, c.token, {"action": "restart_worker", "worker": "w3"})
        mark = {name: cl.ledger.received for name, (cl, _e, _t) in runs.items()}
        try:
            await wait_until(lambda: all(cl.ledger.received >= mark[name] + 40 for name, (cl, _e, _t) in
                                         runs.items()), 40, "40 more each after the faults")
        except AssertionError:
            raise AssertionError({name: (cl.state, cl.ledger.received - mark[name],
                                         [str(e.data)[:90] for e in ev if e.direction == "state"][-4:])
                                  for name, (cl, ev, _t) in runs.items()}) from None
    finally:
        for client, _events, task in runs.values():
            await client.close()
            await asyncio.wait_for(task, 10)
    for name, (client, events, _t) in runs.items():
        assert any(" · served by w" in str(e.data) for e in events), name  # the timeline names the worker
        led = client.ledger
        assert (led.lost, led.duplicated) == (0, 0), (name, led.summary())
        hit = [w for w in before[name][-1:] if w.split("/")[0] in ("w2", "w3")]
        if hit and name in ("websocket", "sse", "stream", "socketio"):  # a held connection on a worker that went
            assert led.episodes and all(ep.recovered for ep in led.episodes), (name, led.summary())
            after = connections(events)[len(before[name]):]
            assert after and after[0] != hit[0], (name, hit, after)  # resumed on another worker process


async def login_and_ask(url: str, times: int) -> list[int]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # cookies of an IP
        async with session.post(f"{url}/session/login", json={"user": "ana"}) as resp:
            assert resp.status == 200
        statuses = []
        for _ in range(times):
            async with session.get(f"{url}/session/me") as resp:
                statuses.append(resp.status)
                await resp.read()
        return statuses


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sessions,balance", [("local", "roundrobin"), ("shared", "roundrobin"),
                                              ("local", "cookie")])
async def test_node_local_sessions_need_sticky_balancing(sessions, balance):
    c = ClusterProcess("2", "--rate", "0", "--sessions", sessions, "--balance", balance)
    try:
        statuses = await login_and_ask(c.url, 6)
    finally:
        c.stop()
    if sessions == "local" and balance == "roundrobin":
        assert 401 in statuses and 200 in statuses  # the other worker never heard of the session
    else:
        assert statuses == [200] * 6


async def test_a_missing_balancer_or_redis_is_one_sentence(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # neither redis-server nor haproxy on the PATH
    proc = subprocess.run([sys.executable, "-m", "transport.server", "--cluster", "2"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    first = json.loads(proc.stdout.splitlines()[0])
    assert proc.returncode == 1 and first["event"] == "error"
    assert first["error"].startswith("Cluster mode needs Redis: install it")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("balance", ["roundrobin", "source"])
async def test_socketio_polling_needs_sticky_balancing_and_says_so(balance):
    """Engine.IO's long polling keeps a session on the server that opened it: round robin breaks it (one
    sentence says why and which workers), balancing by source address keeps it and the upgrade goes through."""
    c = ClusterProcess("2", "--rate", "20", "--balance", balance)
    events: list = []
    info = TRANSPORTS["socketio"]
    client = info.make(info.lab_url(c.url), events.append, transports="upgrade", max_failures=1)
    task = asyncio.ensure_future(client.run())
    try:
        if balance == "roundrobin":
            err = await asyncio.wait_for(task, 30)
            assert err is not None and "needs every request of a session on the server that opened it" in \
                err.sentence and "sticky sessions" in err.sentence
        else:
            await wait_until(lambda: client.ledger.received >= 10 and client.via == "websocket", 20, "upgraded")
    finally:
        await client.close()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
        c.stop()


async def served(session: aiohttp.ClientSession, url: str, n: int) -> list[str]:
    out = []
    for _ in range(n):
        async with session.get(f"{url}/api/poll?after=0&limit=1") as resp:
            await resp.read()
            out.append(resp.headers.get(WORKER_HEADER, "?").split("/")[0])
    return out


@pytest.mark.timeout(60)
async def test_the_balancing_switches_at_run_time():
    c = ClusterProcess("2", "--rate", "0")
    try:
        async with aiohttp.ClientSession() as session:
            assert set(await served(session, c.url, 4)) == {"w1", "w2"}  # round robin
            await post_fault(c.url, c.token, {"action": "balance", "mode": "source"})
            await wait_until_answered(lambda: served(session, c.url, 4), lambda got: len(set(got)) == 1, 15,
                                      "one worker for one source address", every=0.2)
    finally:
        c.stop()


@pytest.mark.timeout(60)
async def test_sticky_balancing_with_node_local_sessions_logs_out_when_the_worker_dies():
    """The production failure the document's readers meet: sticky sessions keep a user logged in only as long
    as their server lives; killing it moves them to another worker that never heard of the session: 401."""
    c = ClusterProcess("2", "--rate", "0", "--sessions", "local", "--balance", "cookie")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.post(f"{c.url}/session/login", json={"user": "ana"}) as resp:
                assert resp.status == 200
                home = resp.headers[WORKER_HEADER].split("/")[0]
            statuses = []
            for _ in range(4):
                async with session.get(f"{c.url}/session/me") as resp:
                    statuses.append(resp.status)
            assert statuses == [200] * 4  # the balancer's cookie keeps ana on her worker
            await post_fault(c.url, c.token, {"action": "kill_worker", "worker": home})
            await wait_until_answered(lambda: _me(session, c.url), lambda got: got[0] == 401, 15, "the 401")
            status, reason, worker = await _me(session, c.url)
            assert reason == "unknown" and worker != home  # another worker: the session is not there
    finally:
        c.stop()


async def _me(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with session.get(f"{url}/session/me") as resp:
        try:  # while HAProxy fails over from the killed worker it may answer 502/503 with no JSON body
            body = await resp.json(content_type=None)
        except ValueError:
            body = None
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        return resp.status, str(reason), resp.headers.get(WORKER_HEADER, "?").split("/")[0]


def redis_pid(port: int) -> int:
    """The Redis the cluster started, by the port it serves (its command line says it)."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if cmd and b"redis-server" in cmd[0] and f":{port}".encode() in b" ".join(cmd):
                return int(pid)
    raise AssertionError(f"no redis-server on port {port}")


@pytest.mark.timeout(90)
async def test_redis_killed_is_a_503_with_the_reason_then_restarted_under_a_new_numbering():
    c = ClusterProcess("2", "--rate", "0")
    try:
        port = int(c.info["redis"].rsplit(":", 1)[1].split("/")[0])
        async with aiohttp.ClientSession() as http:
            async with http.post(c.url + "/api/messages", json={"body": "before"}) as r:
                assert r.status == 200, await r.text()
            async with http.get(c.url + "/api/poll?after=0") as r:
                old_epoch = r.headers["Duplex-Epoch"]
            os.kill(redis_pid(port), 9)
            # while it is down: one sentence, not "500 Server got itself in trouble"
            async def refused():
                async with http.post(c.url + "/api/messages", json={"body": "during"}) as r:
                    return r.status, await r.json(content_type=None)
            status, said = await wait_until_answered(refused, lambda a: a[0] == 503, 10, "a 503 while Redis is down")
            assert "does not answer" in said["error"] and "until Redis is back" in said["error"]
            # the supervisor restarts it, and says so
            line = json.loads(await asyncio.to_thread(read_line, c.proc.stdout, 20))
            assert line["action"] == "redis" and "restarted" in line["said"], line

            async def published():
                async with http.post(c.url + "/api/messages", json={"body": "after"}) as r:
                    return r.status, await r.json(content_type=None)
            status, answer = await wait_until_answered(published, lambda a: a[0] == 200, 20, "publishing again")
            # a new numbering on every worker (each takes it when its reader is back): a client resuming from
            # the old one is told, not handed old seqs numbered again
            async def resumed():
                async with http.get(c.url + "/api/poll?after=1", headers={"Duplex-Epoch": old_epoch}) as r:
                    return r.headers.get("Duplex-Epoch"), await r.json(content_type=None)
            for _ in range(4):  # each worker, whichever the balancer picks
                epoch, items = await wait_until_answered(resumed, lambda a: a[0] not in (None, old_epoch), 10,
                                                         "a poll under the new numbering")
                gap = next(i for i in items if i.get("control") == "gap")
                assert gap["reset"] is True and all(i.get("body") != "before" for i in items), items
    finally:
        c.stop()


async def test_the_postback_page_and_the_ajax_value_work_under_round_robin():
    """Each request to another worker: the page state one worker signed, another checks; the value one worker
    stored, the next one reads (both shared through the cluster, as sessions are)."""
    import re

    c = ClusterProcess("2", "--rate", "0", "--balance", "roundrobin")
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            workers = set()
            for _ in range(2):  # two requests in a row: the two workers (round robin)
                async with http.get(f"{c.url}/_admin/stats", headers={"Authorization": f"Bearer {c.token}"}) as resp:
                    workers.add((await resp.json())["worker"])
            assert workers == {"w1", "w2"}
            for i in range(4):  # each GET of the form and its POST: two requests in a row, two workers
                async with http.get(f"{c.url}/form") as resp:
                    assert resp.status == 200
                    page = await resp.text()
                state = re.search(r'name="state" value="([^"]+)"', page).group(1)
                async with http.post(f"{c.url}/form", data={"state": state.replace("&#x27;", "'"),
                                                            "value": f"v{i}"}) as resp:
                    answer = await resp.text()
                    assert resp.status == 200, answer[:300]
                    assert "Saved." in answer and f"{i + 1} edits" in answer
                async with http.get(f"{c.url}/api/session-value") as resp:
                    assert f">v{i}<" in await resp.text()
    finally:
        c.stop()


async def test_a_fault_proxy_made_through_the_balancer_is_found_by_every_later_request():
    """Proxies live in one worker's process: the balancer sends every request about them to the same worker,
    so a routed tab's proxy, its toxics and its next URL change all meet it (round robin or not)."""
    from transport.apps.fault_runner import FaultRoute, lab_call

    c = ClusterProcess("2", "--rate", "0", "--balance", "roundrobin")
    try:
        call = lab_call(c.url, c.token)
        route = FaultRoute("tab-websocket")
        assert (await route.open(call, f"{c.url.replace('http', 'ws')}/ws")).startswith("routed: ")
        for i in range(4):
            status, answer = await call("POST", "/proxies/tab-websocket/toxics",
                                        {"name": f"l{i}", "type": "latency", "attributes": {"latency": 1}})
            assert status == 200, answer
        for _ in range(4):
            status, answer = await call("GET", "/proxies/tab-websocket/toxics", None)
            assert status == 200 and len(answer) == 4, answer
        # the tab's URL moves to another server: the same proxy is made again in front of it
        said = await route.follow(call, "ws://127.0.0.1:9/ws")
        assert said is not None and "now in front of 127.0.0.1:9" in said
    finally:
        c.stop()
