"""Socket.IO's connection-state recovery: through a dropped connection, a network outage and a slow link,
Duplex's Socket.IO client (which resumes with the session's pid and offset, as socket.io-client does) loses
nothing; through a restart of the server, what the server sent before the client was back is lost, and the
failure says so. Each tick carries {"seq": N}: seq="/seq" tells the ledger where the number is."""

from __future__ import annotations

import pytest


async def test_a_dropped_connection_is_recovered(sio_server, duplex_client):
    c = await duplex_client(sio_server.url, transport="socketio", seq="/seq", sio_transport="websocket")
    await c.wait_for(messages=10)
    await c.drop()
    # socket.io replays what was missed before it says the session is recovered: wait for its word
    await c.wait_for(recovered=1, sessions=1, timeout=10)
    await c.wait_for(messages=c.received + 10)
    c.assert_nothing_lost()
    assert c.ledger.sessions_recovered == 1


async def test_a_network_outage_then_a_slow_link_lose_nothing(sio_server, duplex_proxy, duplex_client):
    proxy = await duplex_proxy(upstream=f"127.0.0.1:{sio_server.port}")
    c = await duplex_client(proxy.url_for(sio_server.url), transport="socketio", seq="/seq")
    await c.wait_for(messages=10)
    await proxy.down(1.0)
    await c.wait_for(recovered=1, sessions=1, timeout=15)
    await proxy.toxic(type="latency", stream="downstream", attributes={"latency": 100, "jitter": 30})
    await c.wait_for(messages=c.received + 20, timeout=10)
    c.assert_nothing_lost()


async def test_a_restart_loses_what_the_server_sent_before_the_client_was_back(sio_server, duplex_proxy,
                                                                                duplex_client):
    """Socket.IO keeps what it would replay in memory: a restarted server cannot recover the session (it says
    so) and what it emitted while the client was away is gone. (A Redis streams adapter keeps it.)"""
    proxy = await duplex_proxy(upstream=f"127.0.0.1:{sio_server.port}")
    c = await duplex_client(proxy.url_for(sio_server.url), transport="socketio", seq="/seq")
    await c.wait_for(messages=10)
    await proxy.disable()  # the client is cut off while the server restarts
    sio_server.restart()
    witness = await duplex_client(sio_server.url, transport="socketio", seq="/seq")
    await witness.wait_for(messages=5)  # the restarted server emitted at least 5 ticks the client missed
    await proxy.enable()
    await c.wait_for(recovered=1, sessions=1, timeout=15)
    with pytest.raises(AssertionError) as failure:
        c.assert_nothing_lost()
    assert "the server said the session was missed" in str(failure.value)
    assert c.ledger.sessions_missed == 1 and c.ledger.lost >= 5
