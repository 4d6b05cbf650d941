"""The Toxiproxy-shaped API refuses what it cannot use, with a JSON reason, and the lab stays up."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from transport.server import ServerConfig, create_app
from transport.server.keys import CONFIG


@pytest.fixture
async def client():
    async with TestClient(TestServer(create_app(ServerConfig(rate=0)), host="127.0.0.1", port=0)) as c:
        c.headers = {"Authorization": f"Bearer {c.server.app[CONFIG].admin_token}"}
        yield c


async def post(client, path: str, raw: str):
    resp = await client.post("/_admin" + path, data=raw, headers={**client.headers,
                                                                   "Content-Type": "application/json"})
    return resp.status, await resp.json()


@pytest.mark.parametrize("body, said", [
    ({"name": "a/b", "upstream": "127.0.0.1:1"}, "a proxy's name must be"),
    ({"name": "", "upstream": "127.0.0.1:1"}, "a proxy's name must be"),
    ({"name": "x" * 65, "upstream": "127.0.0.1:1"}, "a proxy's name must be"),
    ({"name": "p", "upstream": "127.0.0.1:1", "listen": "0.0.0.0:0"}, "listen must be a loopback address"),
    ({"name": "p", "upstream": "127.0.0.1:1", "listen": "10.1.2.3:0"}, "listen must be a loopback address"),
    ({"name": "p", "upstream": "nohostport"}, "upstream must look like host:port"),
    ({"name": "p", "upstream": 5}, "must be strings"),
    ({"name": "p", "upstream": "127.0.0.1:1", "enabled": "yes"}, "enabled a boolean"),
])
async def test_a_proxy_it_cannot_make_is_a_400_with_the_reason(client, body, said):
    status, answer = await post(client, "/proxies", json.dumps(body))
    assert status == 400 and said in answer["error"]
    assert (await client.get("/_admin/proxies", headers=client.headers)).status == 200  # still up


@pytest.mark.parametrize("raw, said", [
    ('{"type": "latency", "attributes": {"latency": NaN}}', "attributes.latency is nan: only finite numbers"),
    ('{"type": "latency", "attributes": {"latency": Infinity}}', "attributes.latency is inf"),
    ('{"type": "latency", "attributes": {"latency": 1e308}}', "latency must be a finite number from 0 to 1e+09"),
    ('{"type": "latency", "attributes": {"latency": 1e999}}', "attributes.latency is inf"),
    ('{"type": "latency", "attributes": {"latency": -1}}', "latency must be a finite number"),
    ('{"type": "latency", "attributes": {"latency": true}}', "latency must be a finite number"),
    ('{"type": "latency", "toxicity": NaN}', "toxicity is nan"),
    ('{"type": "latency", "toxicity": 2}', "toxicity must be a finite number from 0 to 1"),
    ('{"type": "latency", "name": "x/y"}', "a toxic's name must be"),
    ('{"type": "nope"}', "unknown toxic type"),
])
async def test_a_toxic_it_cannot_use_is_a_400_and_nothing_non_standard_is_echoed(client, raw, said):
    status, _ = await post(client, "/proxies", json.dumps({"name": "p", "upstream": "127.0.0.1:1"}))
    assert status == 201
    resp = await client.post("/_admin/proxies/p/toxics", data=raw,
                             headers={**client.headers, "Content-Type": "application/json"})
    text = await resp.text()

    def strict(constant: str) -> None:
        raise AssertionError(f"non-standard JSON echoed: {constant}")

    assert resp.status == 400 and said in json.loads(text, parse_constant=strict)["error"]
    listed = await client.get("/_admin/proxies/p/toxics", headers=client.headers)
    assert await listed.json() == []


async def test_a_proxy_may_listen_on_any_loopback_address_and_the_upstream_anywhere(client):
    status, answer = await post(client, "/proxies", json.dumps(
        {"name": "ok.name-1", "listen": "127.0.0.2:0", "upstream": "example.invalid:443", "enabled": False}))
    assert status == 201 and answer["listen"].startswith("127.0.0.2:")


async def test_no_chain_of_proxies_may_loop_back_to_one_of_them(client):
    from tests.helpers import free_port

    port = free_port()
    status, answer = await post(client, "/proxies", json.dumps(
        {"name": "self", "listen": f"127.0.0.1:{port}", "upstream": f"localhost:{port}"}))
    assert status == 400 and "leads back to this proxy (self → self)" in answer["error"]
    # a → b's address (not listening yet), then b → a: the second closes the loop and is refused
    port_b = free_port()
    status, a = await post(client, "/proxies", json.dumps({"name": "a", "upstream": f"127.0.0.1:{port_b}"}))
    assert status == 201
    status, answer = await post(client, "/proxies", json.dumps(
        {"name": "b", "listen": f"127.0.0.1:{port_b}", "upstream": a["listen"]}))
    assert status == 400 and "(b → a → b)" in answer["error"]
    # and the port it gave back is free again: b can be made with another upstream
    status, _ = await post(client, "/proxies", json.dumps(
        {"name": "b", "listen": f"127.0.0.1:{port_b}", "upstream": "127.0.0.1:1"}))
    assert status == 201


async def test_a_toxic_update_whose_attributes_are_not_an_object_is_a_400(client):
    assert (await post(client, "/proxies", json.dumps({"name": "p", "upstream": "127.0.0.1:1"})))[0] == 201
    assert (await post(client, "/proxies/p/toxics", json.dumps({"name": "l", "type": "latency",
                                                                "attributes": {"latency": 5}})))[0] == 200
    for attributes in ("[1]", '"x"', "5"):
        status, answer = await post(client, "/proxies/p/toxics/l", '{"attributes": ' + attributes + "}")
        assert status == 400 and '"attributes" must be an object' in answer["error"]
