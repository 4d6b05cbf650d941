"""Reconnect policies side by side: three SSE clients, one fault, each policy's attempts and recovery."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from tests.helpers import wait_until
from transport.core.backoff import Policy
from transport.clients.sse import SSEClient, SSEOptions
from transport.apps.policy_race import PolicyRace
from transport.server import ServerConfig, create_app
from transport.server.keys import FEED
from transport.server.sse import end_streams


async def test_each_policy_reconnects_by_its_own_waits_and_recovers_without_loss():
    server = TestServer(create_app(ServerConfig(rate=0, sse_retry_ms=80)), host="127.0.0.1", port=0)
    await server.start_server()
    url = f"http://127.0.0.1:{server.port}/sse"
    race = PolicyRace(lambda sink: SSEClient(SSEOptions(url, policy=Policy("fixed", 9.0)), sink),
                      [("fixed", Policy("fixed", 0.05)), ("exponential", Policy("exponential", 0.2, 1.0, 2.0, 0.0)),
                       ("server", None)])
    race.start()
    feed = server.app[FEED]
    try:
        await wait_until(lambda: all(r.opens == 1 for r in race.runners), 10, "three clients open")
        feed.publish("t", 1)
        await wait_until(lambda: all(r.client.ledger.received == 1 for r in race.runners), 10, "first message")
        end_streams(server.app)
        feed.publish("t", 2)  # published while they are away: replayed on return
        await wait_until(lambda: all(r.opens == 2 for r in race.runners), 10, "all three back")
        feed.publish("t", 3)
        await wait_until(lambda: all(r.client.ledger.received == 3 for r in race.runners), 10, "all caught up")
        rows = {row["policy"]: row for row in race.rows()}
        waits = {r.label: [w for _t, w in r.attempts] for r in race.runners}
        assert waits == {"fixed": [0.05], "exponential": [0.2], "server": [0.08]}  # nobody used the 9 s default
        assert all(row["lost"] == 0 and row["duplicated"] == 0 and row["recovered"] == 1 for row in rows.values())
        assert all(row["median_recover_ms"] > 0 for row in rows.values())
    finally:
        await race.stop()
        await server.close()
    assert all(r.client.state == "closed" for r in race.runners)
