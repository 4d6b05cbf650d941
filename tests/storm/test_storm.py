"""A reconnect storm: N real clients against the lab, counted."""

from __future__ import annotations

import pytest

from tests.helpers import wait_until
from transport.core.backoff import Policy
from transport.clients.websocket import WebSocketClient, WebSocketOptions
from transport.server.admin import close_websockets
from transport.apps.storm import MAX_CLIENTS, Storm


async def test_storm_connects_n_clients_and_counts_the_reconnect_storm(lab_server):
    url = f"ws://127.0.0.1:{lab_server.port}/ws"
    storm = Storm(lambda sink: WebSocketClient(WebSocketOptions(url, policy=Policy("exponential", 0.05, 0.5)), sink),
                  n=30)
    storm.start()
    try:
        await wait_until(lambda: storm.connected == 30, 10, "30 clients connected")
        first = storm.tick()
        assert first.connected == 30 and first.opens == 30
        await close_websockets(lab_server.app, 1012, "service restart")  # everyone at once
        await wait_until(lambda: storm.reconnects >= 30 and storm.connected == 30, 10, "the storm and recovery")
        second = storm.tick()
        assert second.reconnects >= 30 and second.opens >= 30 and len(storm.history) == 2
    finally:
        await storm.stop()
    assert storm.connected == 0 and not storm.running


def test_a_storm_is_bounded():
    with pytest.raises(ValueError):
        Storm(lambda sink: None, n=MAX_CLIENTS + 1)
