"""Fixtures shared by the transport tests."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from transport.server import ServerConfig, create_app


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
