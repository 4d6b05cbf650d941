"""Storms on Locust, end to end: ``main.py storm`` runs Locust's master and two local workers whose users
are Duplex clients, against a real lab, with faults in the middle; the aggregated ledger is the proof.

Locust is only ever imported by the storm's own processes (this test runs the command as a child)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import start_lab

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


@pytest.mark.timeout(180)
@pytest.mark.parametrize("transport,users", [("ws", 200), ("sse", 200), ("socketio", 40), ("long_poll", 40),
                                             ("short_poll", 40), ("stream", 40)])
def test_a_storm_across_two_workers_survives_a_restart_with_nothing_lost(lab, transport, users):
    code, ledger, err = storm(lab.url, "--transport", transport, "--users", str(users), "--spawn-rate", str(users),
                              "--duration", "14", "--workers", "2", "--admin-token", lab.token,
                              "--restart-at", "4", "--down", "1")
    assert code == 0, (ledger.get("verdict"), err[-2000:])
    assert ledger["users"] == ledger["users_expected"] == users and ledger["users_with_messages"] == users
    assert (ledger["lost"], ledger["duplicated"], ledger["gap_declared"]) == (0, 0, 0)
    assert ledger["users_by_episodes"] == {"1": users}  # each user: one drop, recovered
    assert ledger["episodes_recovered"] == users
    assert ledger["faults"] == ["restart at 4 s"]
    assert "message" in err and "connect" in err  # Locust's own summary: messages and connects as requests


@pytest.mark.timeout(120)
def test_a_declared_gap_fails_the_storm():
    """Through the lab's fault proxy: every connection is reset for a second, and meanwhile the lab
    forgets its history, so each user's resume point is gone: the server declares the gap, the exit
    code says so."""
    lab = start_lab(rate=50)
    try:
        code, ledger, err = storm(lab.url, "--transport", "ws", "--users", "40", "--spawn-rate", "40",
                                  "--duration", "10", "--workers", "0", "--admin-token", lab.token,
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
