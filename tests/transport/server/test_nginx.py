"""The real middlebox agrees with the emulated one: Debian's nginx, with its default buffering, in front of
the lab delivers SSE in blocks, and event by event once the lab says ``X-Accel-Buffering: no`` — the shape
the fault proxy's ``buffer`` toxic gives."""

from __future__ import annotations

import asyncio
import statistics

import aiohttp
import pytest

from tests.helpers import in_process_lab
from transport.server.admin import apply_settings
from transport.server.config import ServerConfig
from transport.server.faultproxy import Proxy, Toxic
from transport.server.nginx import Nginx

pytestmark = pytest.mark.xdist_group("nginx")
READ_S = 1.5


@pytest.fixture
async def feed_lab():
    async with in_process_lab(ServerConfig(rate=100)) as server:
        yield server


async def events_per_read(url: str) -> tuple[list[int], float]:
    """How many SSE events each read brought, over READ_S seconds, and when the first event came (s)."""
    counts: list[int] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    first = READ_S
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        while (left := start + READ_S - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(resp.content.readany(), left)
            except asyncio.TimeoutError:
                break
            n = chunk.count(b'data: {"seq"')
            if n:
                if not counts:
                    first = loop.time() - start
                counts.append(n)
    return counts, first


async def shapes(feed_lab, url: str) -> dict[bool, tuple[list[int], float]]:
    out = {}
    for accel in (False, True):
        await apply_settings(feed_lab.app, {"accel_buffering": accel})
        out[accel] = await events_per_read(url)
    return out


def assert_blocks_then_events(seen: dict[bool, tuple[list[int], float]]) -> None:
    blocks, first_block = seen[False]
    events, first_event = seen[True]
    assert max(blocks, default=0) >= 10 and first_block > 0.2, f"no blocks without the header: {seen[False]}"
    assert statistics.median(events) <= 2 and first_event < 0.2, f"blocks with the header: {seen[True]}"


async def test_nginx_buffers_sse_into_blocks_until_the_lab_says_x_accel_buffering_no(feed_lab):
    async with Nginx(f"127.0.0.1:{feed_lab.port}") as nginx:
        seen = await shapes(feed_lab, f"{nginx.url}/sse")
    assert_blocks_then_events(seen)


async def test_the_buffer_toxic_gives_the_same_shape(feed_lab):
    proxy = Proxy("p", "127.0.0.1:0", f"127.0.0.1:{feed_lab.port}")
    proxy.add_toxic(Toxic.from_json({"type": "buffer", "attributes": {"bytes": 4096}}))
    await proxy.set_enabled(True)
    try:
        seen = await shapes(feed_lab, f"http://127.0.0.1:{proxy.port}/sse")
    finally:
        await proxy.close()
    assert_blocks_then_events(seen)


async def test_nginx_passes_websocket_upgrades_and_is_gone_after(feed_lab):
    async with Nginx(f"127.0.0.1:{feed_lab.port}") as nginx:
        folder = nginx.folder
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{nginx.url}/ws") as ws:
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.TEXT
    assert folder is not None and not folder.exists()
