"""The lab's Socket.IO with python-socketio's own ``AsyncClient`` (a client we did not write)."""

from __future__ import annotations

import asyncio
import time

import socketio
from engineio import payload as eio_payload

from tests.helpers import start_lab, wait_until
from transport.clients.lab_admin import post_fault


async def test_the_official_client_over_polling_gets_a_burst_and_says_goodbye_at_once(monkeypatch):
    """A burst over polling reaches python-socketio's client whole (its decoder must be let take more than 16
    packets an answer: the lab, as python-engineio's own server, answers a poll with all that waits), and its
    ``disconnect()`` returns at once: the lab answers the poll it holds when the client closes (python-engineio
    held it until the ping timed out, ~30 s)."""
    monkeypatch.setattr(eio_payload.Payload, "max_decode_packets", 1_000)
    lab = start_lab(rate=0)
    sio = socketio.AsyncClient(reconnection=False)
    got: list[int] = []
    sio.on("burst", lambda envelope: got.append(envelope["seq"]))
    try:
        await sio.connect(lab.url, transports=["polling"], wait_timeout=10)
        await post_fault(lab.url, lab.token, {"action": "burst", "count": 300})
        await wait_until(lambda: len(got) >= 300, 10, f"the burst ({len(got)} of 300)")
        assert got == sorted(got) and len(set(got)) == 300
        t0 = time.monotonic()
        await asyncio.wait_for(sio.disconnect(), 10)
        assert time.monotonic() - t0 < 2.0, f"disconnect took {time.monotonic() - t0:.1f} s"
    finally:
        if sio.connected:
            await sio.disconnect()
        lab.stop()
