"""The lab server application, through aiohttp's test server on 127.0.0.1:0."""

import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from transport.server import ServerConfig, create_app
from transport.server.keys import CONFIG, FEED


@pytest.fixture
async def client():
    app = create_app(ServerConfig(rate=0, history=20, max_msg_size=4096))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        yield c


def auth(c):
    return {"Authorization": f"Bearer {c.server.app[CONFIG].admin_token}"}


async def recv_json(ws):
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def test_ws_replays_history_after_n_then_goes_live(client):
    feed = client.server.app[FEED]
    for i in range(5):
        feed.publish("price", {"i": i})
    ws = await client.ws_connect("/ws?after=2")
    got = [await recv_json(ws) for _ in range(4)]
    assert [m.get("seq") for m in got[:3]] == [3, 4, 5]
    assert got[3] == {"control": "live", "seq": 5}
    feed.publish("likes", {"n": 1})
    live = await recv_json(ws)
    assert live["seq"] == 6 and set(live) == {"seq", "ts", "topic", "body"}
    await ws.close()


async def test_resume_point_out_of_history_gets_an_explicit_gap(client):
    feed = client.server.app[FEED]
    for i in range(30):  # history holds 20: seqs 11..30
        feed.publish("t", i)
    ws = await client.ws_connect("/ws?after=5")
    gap = await recv_json(ws)
    assert gap == {"control": "gap", "after": 5, "first_available": 11, "missing": 5}
    first = await recv_json(ws)
    assert first["seq"] == 11
    await ws.close()


async def test_text_and_binary_from_a_client_are_broadcast(client):
    ws1 = await client.ws_connect("/ws")
    ws2 = await client.ws_connect("/ws")
    assert (await recv_json(ws1))["control"] == "live"
    assert (await recv_json(ws2))["control"] == "live"
    await ws1.send_str(json.dumps({"topic": "chat", "body": "hi"}))
    m = await recv_json(ws2)
    assert (m["topic"], m["body"]) == ("chat", "hi")
    await ws1.send_bytes(b"\x01\x02")
    m = await recv_json(ws2)
    assert (m["topic"], m["body"]) == ("binary", "0102")
    await ws1.close()
    await ws2.close()


async def test_foreign_origin_is_refused_own_origin_allowed(client):
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws", origin="https://evil.example")
    assert info.value.status == 403
    own = f"http://{client.server.host}:{client.server.port}"
    ws = await client.ws_connect("/ws", origin=own)
    await ws.close()


async def test_bad_after_is_a_400(client):
    resp = await client.get("/ws?after=abc")
    assert resp.status == 400


async def test_oversized_client_message_is_closed_with_1009(client):
    ws = await client.ws_connect("/ws")
    await recv_json(ws)
    await ws.send_str("x" * 10_000)
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1009


async def test_admin_needs_the_token_and_refuses_cross_origin(client):
    resp = await client.post("/_admin/faults", json={"action": "evict_history"})
    assert resp.status == 401
    resp = await client.post("/_admin/faults", json={"action": "evict_history"},
                             headers={**auth(client), "Origin": "https://evil.example"})
    assert resp.status == 403
    resp = await client.post("/_admin/faults", json={"action": "nope"}, headers=auth(client))
    assert resp.status == 400 and "unknown action" in (await resp.json())["error"]


async def test_admin_close_websockets_with_a_chosen_code(client):
    ws = await client.ws_connect("/ws")
    await recv_json(ws)
    resp = await client.post("/_admin/faults", json={"action": "close_websockets", "code": 1011,
                                                     "reason": "boom"}, headers=auth(client))
    assert (await resp.json())["closed"] == 1
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1011 and msg.extra == "boom"


async def test_admin_restart_without_the_lab_runner_says_so(client):
    resp = await client.post("/_admin/faults", json={"action": "restart", "down_s": 1}, headers=auth(client))
    assert resp.status == 501


async def test_admin_burst_publishes_in_order(client):
    resp = await client.post("/_admin/faults", json={"action": "burst", "count": 7}, headers=auth(client))
    body = await resp.json()
    assert (body["first"], body["last"]) == (1, 7)


async def test_close_ws_is_an_alias_of_close_websockets(client):
    ws = await client.ws_connect("/ws")
    assert (await recv_json(ws))["control"] == "live"
    resp = await client.post("/_admin/faults", json={"action": "close_ws", "code": 4000}, headers=auth(client))
    assert (await resp.json())["closed"] == 1
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4000


async def test_stats_show_open_connections_and_requests_and_need_the_token(client):
    assert (await client.get("/_admin/stats")).status == 401
    ws = await client.ws_connect("/ws")
    await recv_json(ws)  # live
    await client.get("/api/poll")
    await client.get("/api/poll")
    stats = await (await client.get("/_admin/stats", headers=auth(client))).json()
    assert stats["open"]["websocket"] == 1
    assert stats["requests"]["websocket"] == 1 and stats["requests"]["short_poll"] == 2
    assert stats["rss_bytes"] > 1_000_000 and stats["cpu_s"] > 0 and stats["feed"]["last_seq"] == 0
    await ws.close()


async def test_a_resume_point_the_server_never_reached_is_a_declared_reset(client):
    client.server.app[FEED].publish("t", 1)  # as if restarted without history, now at seq 1
    ws = await client.ws_connect("/ws?after=700")
    assert await recv_json(ws) == {"control": "gap", "after": 700, "first_available": 1, "missing": 0,
                                   "reset": True}
    assert (await recv_json(ws))["seq"] == 1
    await ws.close()


async def test_a_closed_websocket_no_longer_counts_as_open(client):
    from transport.server.admin import close_websockets
    from transport.server.keys import WEBSOCKETS

    ws = await client.ws_connect("/ws")
    await recv_json(ws)
    assert await close_websockets(client.server.app, 1012, "restart") == 1
    assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
    await ws.close()
    ws2 = await client.ws_connect("/ws")  # the reconnect
    await recv_json(ws2)
    assert len(client.server.app[WEBSOCKETS]) == 1  # the closed one is gone, not waiting for the GC
    assert await close_websockets(client.server.app, 1012, "restart") == 1
    await ws2.close()


async def test_the_feed_rate_changes_while_the_lab_runs():
    app = create_app(ServerConfig(rate=0))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        headers = auth(c)
        bad = await c.post("/_admin/settings", json={"rate": -1, "idle": 5}, headers=headers)
        assert bad.status == 400 and "rate must be" in (await bad.json())["error"]
        assert (await (await c.get("/_admin/settings", headers=headers)).json())["idle"] != 5  # nothing applied
        ok = await (await c.post("/_admin/settings", json={"rate": 200}, headers=headers)).json()
        assert ok["ok"] and ok["rate"] == 200.0 and ok["previous"] == 0
        # a script written for earlier releases sends it as a fault: the same setting
        old = await (await c.post("/_admin/faults", json={"action": "rate", "rate": 200}, headers=headers)).json()
        assert old["action"] == "rate" and old["rate"] == 200.0 and old["previous"] == 200.0
        unknown = await c.post("/_admin/settings", json={"speed": 3}, headers=headers)
        assert unknown.status == 400 and "unknown setting" in (await unknown.json())["error"]
        assert (await c.get("/_admin/settings")).status == 401  # the one guard of the admin API
        ws = await c.ws_connect("/ws")
        await recv_json(ws)  # live
        first = await recv_json(ws)
        assert first["seq"] >= 1  # the ticker publishes now
        stats = await (await c.get("/_admin/stats", headers=headers)).json()
        assert stats["feed"]["rate"] == 200.0
        await ws.close()
