"""Test setup: headless Qt, the qasync loop for Qt tests, the lab process fixture."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from tests.helpers import LabProcess, start_lab  # noqa: E402
from transport.server import ServerConfig, create_app  # noqa: E402

QT_DIRS = ("tests/ui", "tests/e2e")
pytest_plugins = ["tests.leftovers", "pytester"]  # leftovers: the run leaves no file and no process behind


def _needs_qt(item: pytest.Item) -> bool:
    path = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
    return path.startswith(QT_DIRS)


_loops: list[asyncio.AbstractEventLoop] = []


def _qasync_loop() -> asyncio.AbstractEventLoop:
    from ui.event_loop import DuplexEventLoop

    loop = DuplexEventLoop()
    _loops.append(loop)
    return loop


async def _tick() -> None:
    return None


def _patch_pytestqt_event_processing() -> None:
    """pytest-qt calls processEvents() between tests. Outside a running qasync
    loop that dispatches asyncio callbacks with no running loop (websockets then
    fails in connection_made). Process those events through the loop instead."""
    import pytestqt.plugin as plugin

    original = plugin._process_events

    def process_events() -> None:
        loop = _loops[-1] if _loops else None
        if loop is not None and not loop.is_closed() and not loop.is_running():
            loop.run_until_complete(_tick())
        else:
            original()

    plugin._process_events = process_events


_patch_pytestqt_event_processing()


def pytest_asyncio_loop_factories(config, item):
    """Qt tests run on a qasync loop (DESIGN.md §8); pure tests on plain asyncio."""
    if _needs_qt(item):
        return {"qasync": _qasync_loop}
    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture
def lab() -> LabProcess:
    proc = start_lab(rate=50)
    try:
        yield proc
    finally:
        proc.stop()


# -- lab apps in this process (the transport and storm tests) -----------------------------------------
@pytest.fixture
async def lab_server():
    """The lab app without a ticker on 127.0.0.1:0 (modules with other settings override it)."""
    server = TestServer(create_app(ServerConfig(rate=0)), host="127.0.0.1", port=0)
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def serve():
    """Start a hand-made aiohttp app on 127.0.0.1:0; returns its base URL."""
    servers = []

    async def start(*routes: web.RouteDef) -> str:
        app = web.Application()
        app.add_routes(routes)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.close()
