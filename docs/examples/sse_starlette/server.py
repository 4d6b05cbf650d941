"""A small Server-Sent Events endpoint, as people write one with Starlette: a ticker publishes a message every
INTERVAL seconds, ``GET /events`` streams them with ``id:`` lines, and a reconnecting client's
``Last-Event-ID`` resumes where it left off (what it missed comes first). The history is kept in a file
(``--store``), so a restarted server still holds it, as a database would.

    python server.py --port 8080 [--store events.log] [--interval 0.02] [--broken-resume]

``--broken-resume`` is the bug this example's tests catch: the server ignores ``Last-Event-ID`` and a
reconnecting client gets only what comes next (the messages sent while it was away are lost).
It prints ``listening on http://127.0.0.1:PORT`` once it serves (``--port 0``: a port the OS picks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import time
from pathlib import Path
from typing import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

MAX_HISTORY = 100_000  # messages kept for resumes


class Hub:
    """The messages so far, and a condition every stream waits on for the next one."""

    def __init__(self, store: Path | None) -> None:
        self.store = store
        self.history: list[tuple[int, str]] = []
        if store is not None and store.exists():
            for line in store.read_text().splitlines()[-MAX_HISTORY:]:
                seq, _, data = line.partition(" ")
                self.history.append((int(seq), data))
        self.changed = asyncio.Condition()

    @property
    def last(self) -> int:
        return self.history[-1][0] if self.history else 0

    async def publish(self, data: str) -> None:
        seq = self.last + 1
        self.history.append((seq, data))
        del self.history[:-MAX_HISTORY]
        if self.store is not None:
            with self.store.open("a") as f:
                f.write(f"{seq} {data}\n")
        async with self.changed:
            self.changed.notify_all()

    def after(self, seq: int) -> list[tuple[int, str]]:
        return [m for m in self.history if m[0] > seq]


def make_app(hub: Hub, interval: float, broken_resume: bool) -> Starlette:
    async def ticker() -> None:
        while True:
            await hub.publish(json.dumps({"at": time.time(), "text": "tick"}))
            await asyncio.sleep(interval)

    async def events(request: Request) -> StreamingResponse:
        last_id = request.headers.get("last-event-id", "")
        sent = hub.last  # a new client starts with what comes next
        if last_id.isdigit() and not broken_resume:
            sent = int(last_id)  # a reconnecting one: from where it left off

        async def stream() -> AsyncIterator[str]:
            nonlocal sent
            yield "retry: 200\n\n"
            while True:
                for seq, data in hub.after(sent):
                    yield f"id: {seq}\ndata: {data}\n\n"
                    sent = seq
                async with hub.changed:
                    await hub.changed.wait_for(lambda: hub.last > sent)
        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"last": hub.last})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(ticker())
        yield
        task.cancel()

    return Starlette(routes=[Route("/events", events), Route("/health", health)], lifespan=lifespan)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--store", type=Path, default=None)
    p.add_argument("--interval", type=float, default=0.02)
    p.add_argument("--broken-resume", action="store_true")
    args = p.parse_args()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart takes its port again at once
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)  # connections wait in the backlog from now on, not refused
    app = make_app(Hub(args.store), args.interval, args.broken_resume)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
