"""The SSE endpoint resumes with Last-Event-ID: through a dropped connection, a restart of the server and a
slow network, Duplex's client (which reconnects as a browser's EventSource does) loses nothing."""

from __future__ import annotations


async def test_a_dropped_connection_resumes_where_it_left_off(sse_server, duplex_client):
    c = await duplex_client(sse_server.url, transport="sse", seq="id", resume="last-event-id")
    await c.wait_for(messages=10)
    await c.drop()  # as a network failure would: a TCP abort
    await c.wait_for(recovered=1, timeout=10)
    await c.wait_for(messages=c.received + 10)
    c.assert_nothing_lost()


async def test_a_restarted_server_resumes_from_its_history(sse_server, duplex_client):
    c = await duplex_client(sse_server.url, transport="sse", seq="id", resume="last-event-id")
    await c.wait_for(messages=10)
    c.mark("server restarted")
    sse_server.restart()
    await c.wait_for(recovered=1, timeout=15)
    await c.wait_for(messages=c.received + 10)
    c.assert_nothing_lost()


async def test_a_network_outage_then_a_slow_link_lose_nothing(sse_server, duplex_proxy, duplex_client):
    proxy = await duplex_proxy(upstream=f"127.0.0.1:{sse_server.port}")
    c = await duplex_client(proxy.url_for(sse_server.url), transport="sse", seq="id", resume="last-event-id")
    await c.wait_for(messages=10)
    await proxy.down(0.5)  # every connection cut, new ones refused, for half a second
    await c.wait_for(recovered=1, timeout=10)
    await proxy.toxic(type="latency", stream="downstream", attributes={"latency": 150, "jitter": 50})
    await c.wait_for(messages=c.received + 20, timeout=10)
    c.assert_nothing_lost()
    assert c.ledger.episodes == 1 and c.ledger.recovered == 1
