"""Storms on Locust against the lab on this machine: ``python -m tests.bench.storm``.

For WebSocket and SSE: a fresh lab at its default feed (5 msg/s), ``main.py storm`` with USERS users
across 2 local workers (Locust's master and workers on the same cores as the lab), the lab restarted
RESTART_AT_S s after every user was started. Prints one JSON line per transport's figures: users held,
the peak of users open at once, the peak connects per second (Locust's live status), and the aggregated
ledger after the restart.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import start_lab

ROOT = Path(__file__).resolve().parents[2]
USERS = 10_000
SPAWN_RATE = 1000
DURATION_S = 60
RESTART_AT_S = 20


def one(transport: str) -> dict:
    lab = start_lab(rate=5)
    try:
        res = subprocess.run([sys.executable, "main.py", "storm", lab.url, "--transport", transport,
                              "--users", str(USERS), "--spawn-rate", str(SPAWN_RATE), "--duration", str(DURATION_S),
                              "--workers", "2", f"--admin-token={lab.token}", "--restart-at", str(RESTART_AT_S),
                              "--status"], cwd=ROOT, capture_output=True, text=True, timeout=DURATION_S + 240)
    finally:
        lab.stop()
    status, ledger = [], None
    for line in res.stdout.splitlines():
        obj = json.loads(line) if line.startswith("{") else {}
        if "duplex_status" in obj:
            status.append(obj["duplex_status"])
        elif "duplex_storm" in obj:
            ledger = obj["duplex_storm"]
    if ledger is None:
        raise SystemExit(f"storm {transport} gave no ledger: {res.stderr.strip().splitlines()[-1:]}")
    clean = ledger["lost"] == 0 and ledger["duplicated"] == 0
    return {"transport": transport, "exit": res.returncode, "users": ledger["users"],
            "held": ledger["episodes_recovered"] if clean else 0,
            "open_peak": max((s["open"] for s in status), default=0),
            "connects_per_s_peak": max((s["connects_per_s"] for s in status), default=0),
            "lost": ledger["lost"], "duplicated": ledger["duplicated"], "received": ledger["received"],
            "users_by_episodes": ledger["users_by_episodes"], "recover_ms_p50": ledger["recover_ms_p50"],
            "recover_ms_p99": ledger["recover_ms_p99"], "recover_ms_max": ledger["recover_ms_max"],
            "verdict": ledger["verdict"]}


if __name__ == "__main__":
    print(json.dumps({t: one(t) for t in ("ws", "sse")}))
