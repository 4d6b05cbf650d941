"""Connection-state recovery (Socket.IO 4.6+: pid / offset) against Node's own socket.io server, installed
from npm into tests/data/socketio_recovery (``.ci/run`` installs it)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import read_line, stop_child, wait_until
from transport.clients.socketio import SocketIOClient, SocketIOOptions

PEER = Path(__file__).resolve().parents[2] / "data" / "socketio_recovery"
pytestmark = pytest.mark.skipif(shutil.which("node") is None or not (PEER / "node_modules" / "socket.io").is_dir(),
                                reason="node and the npm package socket.io (cd tests/data/socketio_recovery && "
                                       "npm install) are needed; .ci/run installs them")


@pytest.fixture
def node_server():
    proc = subprocess.Popen(["node", "server.js"], cwd=PEER, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        port = json.loads(read_line(proc.stdout, 15))["port"]
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_child(proc)


def ticks(events):
    return [json.loads(e.data)[0]["n"] for e in events if e.kind == "message" and e.meta.get("event") == "tick"]


@pytest.mark.parametrize("mode", ["websocket", "upgrade"])
async def test_a_dropped_connection_is_recovered_with_nothing_missed(node_server, mode):
    events: list = []
    client = SocketIOClient(SocketIOOptions(node_server, transports=mode), events.append)
    run = asyncio.ensure_future(client.run())
    try:
        await wait_until(lambda: len(ticks(events)) >= 20 and client.via == "websocket", 15, "ticks")
        first = [e for e in events if e.kind == "open"][0]
        assert first.meta["pid"] and first.meta["recovered"] is False
        assert client.drop()
        await wait_until(lambda: len([e for e in events if e.kind == "open"]) >= 2, 15, "the reconnect")
        before = len(ticks(events))
        await wait_until(lambda: len(ticks(events)) >= before + 20, 15, "ticks after")
        second = [e for e in events if e.kind == "open"][1]
        assert second.meta["recovered"] is True and "recovered (pid)" in second.data
        got = ticks(events)
        assert got == list(range(got[0], got[0] + len(got)))  # the ticks missed while down came on recovery
        ledger = client.receiver.ledger
        assert (ledger.sessions_recovered, ledger.sessions_missed) == (1, 0)
        assert ledger.episodes[-1].session == "recovered" and ledger.episodes[-1].recovered
        assert "the server recovered the session after 1 of 1 reconnect" in ledger.verdict()
    finally:
        await client.close()
        await asyncio.wait_for(run, 10)


async def test_the_servers_pings_keep_the_connection_and_each_is_answered(node_server):
    """The Node peer pings every 2 s with a 2 s timeout: past 4 s the connection is still there, pongs sent."""
    events: list = []
    client = SocketIOClient(SocketIOOptions(node_server, transports="websocket"), events.append)
    run = asyncio.ensure_future(client.run())
    try:
        await wait_until(lambda: len([e for e in events if e.kind == "ping"]) >= 3, 15, "three pings")
        assert client.connected and len([e for e in events if e.kind == "open"]) == 1
        assert len([e for e in events if e.kind == "pong"]) >= 3
        assert not [e for e in events if e.kind == "ping" and e.meta.get("late")]
    finally:
        await client.close()
        await asyncio.wait_for(run, 10)
