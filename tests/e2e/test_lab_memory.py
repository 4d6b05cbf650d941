"""1 000 maximum-size posts keep the lab's resident memory within --history-bytes + 100 MB of its idle size."""

from __future__ import annotations

import aiohttp

from tests.helpers import start_lab
from transport.clients.lab_admin import lab_stats

MIB = 1 << 20


async def test_a_thousand_maximum_size_posts_stay_within_history_bytes():
    lab = start_lab(rate=0)  # the defaults: --max-size 1 MiB, --history-bytes 64 MiB
    try:
        idle = (await lab_stats(lab.url, lab.token))["rss_bytes"]
        body = '{"topic": "big", "body": "' + "x" * (MIB - 64) + '"}'
        async with aiohttp.ClientSession() as http:
            for i in range(1000):
                async with http.post(lab.url + "/api/messages", data=body,
                                     headers={"Content-Type": "application/json"}) as resp:
                    assert resp.status == 200, (i, await resp.text())
            async with http.post(lab.url + "/api/messages", data=body + " " * 100,
                                 headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 413 and "1 MiB limit" in (await resp.json())["error"]
        stats = await lab_stats(lab.url, lab.token)
        grown = stats["rss_bytes"] - idle
        assert grown <= 64 * MIB + 100 * 1000 * 1000, f"grew {grown / 1e6:.0f} MB"
        assert stats["feed"]["history"] <= 64  # 64 MiB of ~1 MiB envelopes
    finally:
        lab.stop()
