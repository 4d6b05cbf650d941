"""A bench-only server: ``GET /sse?n=N`` writes N lab-format SSE events at once.

Run as a child process (``python -m tests.bench.stream_server``; prints its
port), so the clients under test do not share a loop or a GIL with it. The
stream is generated once and written in 256 KiB pieces as fast as the socket
takes it; then the response stays open (no reconnect noise) until the client
leaves. Only loopback, port 0.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiohttp import web

from transport.server.feed import TOPICS, Feed, demo_body
from transport.server.sse import encode

PIECE = 256 * 1024


def stream_bytes(n: int) -> bytes:
    feed = Feed(history=max(1, n))
    for i in range(1, n + 1):
        topic = TOPICS[i % len(TOPICS)]
        feed.publish(topic, demo_body(topic, i))
    return "".join(encode(m) for m in feed.since(0)[0]).encode()


async def sse(request: web.Request) -> web.StreamResponse:
    n = min(int(request.query.get("n", "1000")), 1_000_000)
    blob = request.app["cache"].get(n) or request.app["cache"].setdefault(n, stream_bytes(n))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    for i in range(0, len(blob), PIECE):
        await resp.write(blob[i:i + PIECE])
    try:
        await asyncio.wait_for(asyncio.Event().wait(), 120)  # hold, bounded
    except asyncio.TimeoutError:
        pass
    return resp


async def main() -> None:
    app = web.Application()
    app["cache"] = {}
    app.router.add_get("/sse", sse)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"port": runner.addresses[0][1], "t": time.time()}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
