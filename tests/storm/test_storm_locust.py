"""Storms on Locust, end to end: ``main.py storm`` runs Locust's master and two local workers whose users
are Duplex clients, against a real lab, with faults in the middle; the aggregated ledger is the proof.

Locust is only ever imported by the storm's own processes (this test runs the command as a child)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import start_lab, wait_until, wait_until_answered

ROOT = Path(__file__).resolve().parents[2]


def storm(*args: str, timeout: float = 120) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, "main.py", "storm", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{"duplex_storm"')]
    return proc.returncode, json.loads(lines[-1])["duplex_storm"] if lines else {}, proc.stderr


@pytest.fixture
def lab():
    lab = start_lab(rate=5)
    try:
        yield lab
    finally:
        lab.stop()


def down(transport: str) -> str:
    """How long the lab stays down: a short poll asks once a second, so it meets a restart of 2.5 s for sure
    (one of 1 s can fall between two of its polls: no drop for that user to prove)."""
    return "2.5" if transport == "short_poll" else "1"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("transport,users", [("ws", 200), ("sse", 200), ("socketio", 40), ("long_poll", 40),
                                             ("short_poll", 40), ("stream", 40)])
def test_a_storm_across_two_workers_survives_a_restart_with_nothing_lost(lab, transport, users):
    code, ledger, err = storm(lab.url, "--transport", transport, "--users", str(users), "--spawn-rate", str(users),
                              "--duration", "12", "--workers", "2", f"--admin-token={lab.token}",
                              "--restart-at", "3", "--down", down(transport))
    assert code == 0, (ledger.get("verdict"), err[-2000:])
    assert ledger["users"] == ledger["users_expected"] == users and ledger["users_with_messages"] == users
    assert (ledger["lost"], ledger["duplicated"], ledger["gap_declared"]) == (0, 0, 0)
    assert ledger["users_by_episodes"] == {"1": users}  # each user: one drop, recovered
    assert ledger["episodes_recovered"] == users
    assert ledger["faults"] == ["restart at 3 s"]
    assert "message" in err and "connect" in err  # Locust's own summary: messages and connects as requests


@pytest.mark.timeout(120)
def test_a_declared_gap_fails_the_storm():
    """Through the lab's fault proxy: every connection is reset for a second, and meanwhile the lab
    forgets its history, so each user's resume point is gone: the server declares the gap, the exit
    code says so."""
    lab = start_lab(rate=50)
    try:
        code, ledger, err = storm(lab.url, "--transport", "ws", "--users", "40", "--spawn-rate", "40",
                                  "--duration", "10", "--workers", "0", f"--admin-token={lab.token}",
                                  "--reset-peer-at", "2", "--down", "1", "--evict-history-at", "2.5")
    finally:
        lab.stop()
    assert code == 1, err[-2000:]
    assert ledger["users"] == 40 and ledger["gap_declared"] > 0 and ledger["lost"] >= ledger["gap_declared"]
    assert "lost" in ledger["verdict"] and "storm: " in err


def test_bad_arguments_are_one_sentence():
    proc = subprocess.run([sys.executable, "main.py", "storm", "http://127.0.0.1:9", "--restart-at", "3"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().startswith("storm: faults during the storm need the lab's admin token")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.timeout(120)
async def test_a_master_started_elsewhere_is_followed_and_stopped_with_every_ledger(lab):
    """The Faults page's "master: http://host:8089": a Locust master (and a worker) the user started with
    Duplex's locustfile; the GUI's side reads /duplex/status and stops it with Locust's own /stop."""
    from tests.helpers import free_port
    from transport.loadtest.control import LocustStormSpec, storm_runner

    web, bind = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    common = ["-f", "transport/loadtest/locustfile.py", "--duplex-transport", "ws"]
    master = subprocess.Popen([sys.executable, "-m", "locust", *common, "--master", "--host", lab.url,
                               "--web-host", "127.0.0.1", "--web-port", str(web), "--master-bind-host",
                               "127.0.0.1", "--master-bind-port", str(bind)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        base = f"http://127.0.0.1:{web}"
        async with aiohttp.ClientSession() as session:
            async def get(path: str) -> tuple[int, dict]:
                async with session.get(base + path) as resp:
                    return resp.status, await resp.json(content_type=None)

            await wait_until_answered(lambda: get("/duplex/status"), lambda a: a[0] == 200, 20,
                                      "the master's web UI")
            worker = subprocess.Popen([sys.executable, "-m", "locust", *common, "--worker", "--master-host",
                                       "127.0.0.1", "--master-port", str(bind)], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await wait_until_answered(lambda: get("/stats/requests"), lambda a: bool(a[1].get("workers")), 20,
                                      "the worker to join")
            async with session.post(f"{base}/swarm", data={"user_count": 20, "spawn_rate": 20, "host": lab.url}) \
                    as resp:
                assert resp.status == 200
        runner = storm_runner(LocustStormSpec(20, 20, master=base), "", "ws")
        seen: list[dict] = []
        result: list = []
        task = asyncio.ensure_future(runner.run(seen.append, lambda ledger, said: result.append((ledger, said))))
        await wait_until(lambda: seen and seen[-1]["open"] == 20, 30, "20 users open, as the master says")
        runner.stop()
        await asyncio.wait_for(task, 60)
        ledger, said = result[0]
        assert said == "" and ledger["users"] == 20 and ledger["ok"] and ledger["users_with_messages"] == 20
    finally:
        for p in (worker, master):
            if p is not None:
                p.terminate()
                p.wait(20)


@pytest.mark.timeout(150)
def test_two_storms_at_once_listen_on_loopback_only_and_leave_no_process(lab):
    """Two local storms on one machine: each master binds 127.0.0.1 on a port of its own, so neither joins the
    other's workers (each counts its own users); when they end, no process of either survives."""
    import psutil

    cmd = [sys.executable, "main.py", "storm", lab.url, "--transport", "ws", "--users", "20", "--spawn-rate", "20",
           "--duration", "8", "--workers", "2", f"--admin-token={lab.token}"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    seen: dict[int, psutil.Process] = {}
    listening: list[str] = []
    try:
        deadline = 60.0
        import time
        start = time.monotonic()
        # both storms up: the CLI, Locust's master and its two workers each (bounded by the deadline)
        while time.monotonic() - start < deadline:
            trees = [[psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)] for p in procs
                     if p.poll() is None]
            if len(trees) == 2 and all(len(t) >= 4 for t in trees):
                break
            time.sleep(0.2)  # polling the condition (process trees), bounded by the deadline
        else:
            raise AssertionError(f"the two storms did not both start their workers: {[p.poll() for p in procs]}")
        for tree in trees:
            for proc in tree:
                seen[proc.pid] = proc
                try:
                    for conn in proc.net_connections(kind="inet"):
                        if conn.status == psutil.CONN_LISTEN:
                            listening.append(f"{proc.pid} {' '.join(proc.cmdline()[:4])}: {conn.laddr.ip}")
                except psutil.NoSuchProcess:
                    pass
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert listening and all(line.endswith((": 127.0.0.1", ": ::1")) for line in listening), listening
    for p, (out, err) in zip(procs, outs):
        ledger = json.loads([line for line in out.splitlines() if line.startswith('{"duplex_storm"')][-1])["duplex_storm"]
        assert p.returncode == 0 and ledger["users"] == ledger["users_expected"] == 20, (ledger.get("verdict"), err[-1500:])
    alive = [pid for pid, proc in seen.items() if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"storm processes left behind: {alive}"


def test_locusts_own_reason_is_said_when_it_fails():
    from transport.loadtest.cli import locust_reason

    stderr = (b"[2026-12-07] master/INFO/locust.main: Starting Locust 2.37\nTraceback (most recent call last):\n"
              b'  File "x.py", line 1\nOSError: [Errno 98] Address already in use\n')
    assert locust_reason(stderr) == "OSError: [Errno 98] Address already in use"
    assert locust_reason(b"") == ""
