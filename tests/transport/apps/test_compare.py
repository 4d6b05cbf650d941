"""Comparing transports: each tally adds up to what its client's socket carried."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from tests.helpers import lab_starter, wait_until
from transport.apps.compare import TRANSPORTS, Tally, make_client, to_csv
from transport.server import ServerConfig, create_app
from transport.server.keys import FEED


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_tally_splits_the_socket_bytes_into_payload_headers_and_framing(transport):
    server = TestServer(create_app(ServerConfig(rate=0)), host="127.0.0.1", port=0)
    await server.start_server()
    tally = Tally(transport)
    client = make_client(transport, f"http://127.0.0.1:{server.port}", tally.sink, poll_interval=0.05, hold=5)
    tally.client = client
    task = asyncio.ensure_future(client.run())
    try:
        await wait_until(lambda: client.state == "open", 10, "open")
        feed = server.app[FEED]
        for i in range(40):
            feed.publish("price", {"i": i})
        await wait_until(lambda: tally.messages == 40, 10, "40 messages")
        row = tally.row()
        assert row["messages"] == 40 and row["lost"] == 0 and row["duplicated"] == 0
        assert row["payload_per_msg"] > 40 and row["headers_per_msg"] > 0 and row["framing_per_msg"] >= 0
        assert row["p50_ms"] is not None and row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
        assert row["requests"] >= 1
        stats = client.stats if client.stats.counter is not None else None  # the HTTP clients count their socket
        if transport == "socketio":  # its rows also carry WebSocket frames, which no socket counter sees
            pass
        elif stats is not None and transport in ("long_poll", "socketio_polling"):  # a held poll's request is on the socket, not yet a row
            assert 0 <= stats.wire - tally.wire < 400
        elif stats is not None:  # HTTP clients count their socket: the rows add up to it
            await wait_until(lambda: tally.wire == stats.wire, 5, "the rows to add up to the socket count")
        split = row["payload_per_msg"] + row["headers_per_msg"] + row["framing_per_msg"]
        assert split == pytest.approx(row["wire_per_msg"], abs=0.2)
        assert transport + "," in to_csv([row]).splitlines()[1] + ","
    finally:
        await client.close()
        await asyncio.wait_for(task, 10)
        await server.close()


async def test_a_compare_run_under_a_fault_measures_every_transport_on_a_lab_of_its_own():
    """The run below the UI: its lab injected (here in-process), clients through the registry and the
    fault proxy, the fault on the proxy, a refresh once a second, the lab's stats before and after."""
    from transport.apps.compare import CompareRun
    from transport.core.faults import FaultSpec

    seconds: list[float] = []
    run = CompareRun(["websocket", "sse", "stream"], rate=50, duration=2.0, start_lab=lab_starter(),
                     on_second=lambda at, stats: seconds.append(at), spec=FaultSpec("latency", value=20),
                     poll_interval=0.1)
    await run.run()
    assert len(seconds) == 2 and run.before is not None and run.after is not None
    for name, tally in run.tallies.items():
        row = tally.row()
        assert row["messages"] > 10, name
        assert row["lost"] == 0 and row["duplicated"] == 0, name
        assert row["p50_ms"] >= 20, name  # through the proxy, under the latency fault


async def test_a_compare_run_under_a_message_fault_shows_the_losses_in_every_ledger():
    """A toxic that reads new connections is on before the clients connect: every one of them meets it."""
    from transport.apps.compare import CompareRun
    from transport.core.faults import FaultSpec

    run = CompareRun(["websocket", "sse", "stream"], rate=100, duration=2.0, start_lab=lab_starter(),
                     on_second=lambda at, stats: None, spec=FaultSpec("message_drop", value=20), poll_interval=0.1)
    await run.run()
    for name, tally in run.tallies.items():
        row = tally.row()
        assert row["messages"] > 100 and row["lost"] >= 5, (name, row)
