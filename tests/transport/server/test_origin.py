"""Host and Origin are checked against the lab's own addresses, not the request's own Host."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.helpers import ROOT, read_line
from transport.server import ServerConfig, create_app
from transport.server.keys import CONFIG


@pytest.fixture
async def client():
    async with TestClient(TestServer(create_app(ServerConfig(rate=0)), host="127.0.0.1", port=0)) as c:
        yield c


async def raw(port: int, head: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    return data


@pytest.mark.parametrize("host, allowed", [
    ("127.0.0.1:{port}", True), ("localhost:{port}", True), ("127.0.0.7:{port}", True),
    ("evil.example:{port}", False),  # a DNS name rebound to 127.0.0.1: its page sends its own Host
    # a TCP proxy of the user's own (Toxiproxy, socat, mitmproxy) keeps the Host the client sent: any port
    # with a loopback literal is accepted (it was refused before issue 25: docs/decisions.md says why)
    ("127.0.0.1:1", True), ("127.0.0.1", True), ("[::1]:8474", True), ("localhost:20000", True),
    # names, not loopback literals: ipaddress parses them as nothing, so a rebinding page cannot use them
    ("0x7f.1:{port}", False), ("2130706433:{port}", False), ("localhost.:{port}", False),
    ("127.1:{port}", False), ("localhost.evil.example:{port}", False),
])
async def test_the_host_header_must_name_the_lab(client, host, allowed):
    port = client.server.port
    answer = await raw(port, f"GET / HTTP/1.1\r\nHost: {host.format(port=port)}\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200" if allowed else b"HTTP/1.1 403"), answer[:200]
    if not allowed:
        assert b"names neither this lab nor one of its fault proxies" in answer


async def test_host_and_origin_both_foreign_is_refused_although_they_agree(client):
    port = client.server.port
    head = (f"POST /api/messages HTTP/1.1\r\nHost: evil.example:{port}\r\nOrigin: http://evil.example:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    assert (await raw(port, head)).startswith(b"HTTP/1.1 403")


@pytest.mark.parametrize("origin, allowed", [
    ("http://127.0.0.1:{port}", True), ("http://localhost:{port}", True),
    ("http://127.0.0.1:1", False), ("https://evil.example", False), ("null", False),
])
async def test_origin_must_be_the_labs_own(client, origin, allowed):
    port = client.server.port
    resp = await client.post("/api/messages", json={"body": 1}, headers={"Origin": origin.format(port=port)})
    assert resp.status == (200 if allowed else 403)


async def test_a_fault_proxys_address_is_the_labs_own(client):
    headers = {"Authorization": f"Bearer {client.server.app[CONFIG].admin_token}"}
    port = client.server.port
    resp = await client.post("/_admin/proxies", json={"name": "p", "upstream": f"127.0.0.1:{port}"},
                             headers=headers)
    listen = (await resp.json())["listen"]
    async with aiohttp.ClientSession() as http:  # a page loaded through the proxy, posting back to it
        async with http.post(f"http://{listen}/api/messages", json={"body": 1},
                             headers={"Origin": f"http://{listen}"}) as r:
            assert r.status == 200
        async with http.ws_connect(f"ws://{listen}/ws", origin=f"http://{listen}") as ws:
            msg = await ws.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.TEXT


def test_binding_beyond_loopback_warns_and_announces_a_reachable_url():
    """Bound to every address; the test talks only to loopback."""
    proc = subprocess.Popen([sys.executable, "-m", "transport.server", "--port", "0", "--host", "0.0.0.0",
                             "--rate", "0", "--log-level", "WARNING"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        info = json.loads(read_line(proc.stdout, 15))
        warning = read_line(proc.stderr, 5).decode()
        assert info["url"] == f"http://127.0.0.1:{info['port']}"
        assert warning.startswith("warning: the lab listens on every address of this machine (--host 0.0.0.0)")
    finally:
        proc.terminate()
        proc.wait(5)
        for stream in (proc.stdout, proc.stderr, proc.stdin):
            stream.close()


@pytest.mark.parametrize("transport, path", [
    ("ws", "/ws"), ("sse", "/sse"), ("short_poll", "/api/poll"), ("long_poll", "/api/longpoll"),
    ("stream", "/api/stream"), ("socketio", ""),
])
async def test_a_tcp_proxy_of_ones_own_in_front_of_the_lab_works_for_every_feed_transport(lab, transport, path):
    """A plain TCP proxy (as Toxiproxy or socat) keeps the Host the client sent, 127.0.0.1:PROXYPORT: the lab
    answers, the client knows it is the lab (its ledger numbers by the envelope), nothing is refused."""
    from tests.proxy import CountingProxy

    async with CountingProxy("127.0.0.1", lab.port) as proxy:
        scheme = "ws" if transport == "ws" else "http"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "main.py", "probe", f"{scheme}://127.0.0.1:{proxy.port}{path}", "--transport", transport,
            "--count", "3", "--timeout", "20", "--poll-interval", "0.1", cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    lines = [json.loads(x) for x in out.decode().splitlines()]
    assert not [x for x in lines[:-1] if x.get("meta", {}).get("status") == 403]
    ledger = lines[-1]["ledger"]
    assert ledger["rule"] == "lab" and ledger["received"] >= 3 and proxy.connections >= 1
