"""Hostile or unlucky input gets a 4xx with a JSON reason that names the field or limit (a close code with
a reason on /ws), and the lab stays up; the feed's history is bounded by bytes as well as count."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import wait_until
from transport.server import ServerConfig, create_app
from transport.server.bodies import MAX_DEPTH
from transport.server.feed import Feed, MessageTooLarge
from transport.server.keys import CONFIG, FEED

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
async def client():
    app = create_app(ServerConfig(rate=0, history_bytes=4 << 20))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        yield c


async def alive(client) -> None:
    resp = await client.get("/")
    assert resp.status == 200


async def post_raw(client, path: str, data: bytes | str, **headers: str):
    resp = await client.post(path, data=data, headers={"Content-Type": "application/json", **headers})
    return resp.status, await resp.json()


@pytest.mark.parametrize("body, status, said", [
    ('{"topic": "t", "body": NaN}', 400, "body is nan: only finite numbers"),
    ('{"topic": "t", "body": {"x": [1, Infinity]}}', 400, "body.x[1] is inf"),
    ('{"topic": "t", "body": 1e999}', 400, "body is inf"),
    (DEEP, 400, f"nests deeper than {MAX_DEPTH} levels"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), 400, f"nests deeper than {MAX_DEPTH} levels"),
    (b'{"body": "\xff\xfe"}', 400, "is not UTF-8"),
    ('{"topic": 5, "body": 1}', 400, '"topic" must be a string'),
    ("{not json", 400, "is not JSON"),
    (json.dumps({"body": "x" * (1 << 20)}), 413, "larger than the 1 MiB limit (--max-size)"),
])
async def test_a_post_that_breaks_the_rules_is_a_4xx_naming_what(client, body, status, said):
    last = client.server.app[FEED].last_seq
    got, answer = await post_raw(client, "/api/messages", body)
    assert got == status and said in answer["error"], answer
    assert client.server.app[FEED].last_seq == last  # nothing published, no seq used
    await alive(client)


async def test_the_deepest_allowed_json_and_plain_values_are_published(client):
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    got, answer = await post_raw(client, "/api/messages", json.dumps({"body": json.loads(ok)}).replace(" ", ""))
    assert got == 400  # the envelope's "body" key adds a level: 65
    got, answer = await post_raw(client, "/api/messages", "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))
    assert got == 200 and answer["ok"]


async def test_other_json_endpoints_answer_the_same_way(client):
    token = client.server.app[CONFIG].admin_token
    for path, headers in (("/_admin/faults", {"Authorization": f"Bearer {token}"}), ("/session/login", {}),
                          ("/api/session-value", {}), ("/_admin/proxies", {"Authorization": f"Bearer {token}"})):
        got, answer = await post_raw(client, path, '{"a": NaN}', **headers)
        assert got == 400 and "a is nan" in answer["error"], (path, answer)
        got, answer = await post_raw(client, path, DEEP, **headers)
        assert got == 400 and "deeper than" in answer["error"], (path, answer)
    await alive(client)


async def raw_request(port: int, head: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    return data


async def test_a_non_utf8_authorization_header_is_a_401_not_a_500(client):
    port = client.server.port
    answer = await raw_request(port, b"GET /_admin/stats HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port +
                                     b"Authorization: Bearer \xff\xfe\xfd\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 401") and b"wrong admin token" in answer
    await alive(client)


async def test_a_forged_page_state_with_non_ascii_is_a_400_page(client):
    resp = await client.post("/form", data={"state": "eyJ2IjoxfQ==.ünïcödé", "value": "x", "action": "save"})
    assert resp.status == 400 and "tampered" in await resp.text()
    await alive(client)


async def test_ws_json_that_breaks_the_rules_is_closed_with_1007_and_a_reason(client):
    deep = "[" * 1000 + "]" * 1000  # valid JSON, under the size limit, too deep
    for text, code, said in (('{"body": NaN}', 1007, "body is nan"), (deep, 1007, "deeper than"),
                             ('{"body": "' + "x" * (1 << 20) + '"}', 1009, "over the 1 MiB limit")):
        ws = await client.ws_connect("/ws")
        await ws.send_str(text)
        msg = await ws.receive(timeout=5)
        while msg.type == aiohttp.WSMsgType.TEXT:  # the live marker first
            msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == code and msg.extra and said in msg.extra, \
            (msg, text[:40])
    await alive(client)


async def test_ws_text_that_is_not_json_is_still_a_chat_message(client):
    ws = await client.ws_connect("/ws")
    await ws.send_str("hello, not json")
    feed = client.server.app[FEED]
    await wait_until(lambda: feed.last_seq == 1, 5, "the message published")
    assert feed.since(0)[0][-1].body == "hello, not json"
    await ws.close()


def test_history_is_bounded_by_bytes_as_well_as_count():
    feed = Feed(history=1000, history_bytes=10_000, max_message=5_000)
    for i in range(100):
        feed.publish("t", "x" * 900)
    assert feed.bytes <= 10_000 and len(feed) == feed.bytes // feed.since(0)[0][0].size
    assert feed.first_available() > 1 and feed.last_seq == 100
    with pytest.raises(MessageTooLarge):
        feed.publish("t", "y" * 6000)
    assert feed.last_seq == 100  # a refused message takes no seq
    big = Feed(history=10, history_bytes=100, max_message=5000)
    big.publish("t", "z" * 1000)
    assert len(big) == 1  # the newest is always kept


@given(st.dictionaries(st.text(max_size=8), st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=8),
                                                       lambda kids: st.lists(kids, max_size=3)
                                                       | st.dictionaries(st.text(max_size=4), kids, max_size=3),
                                                       max_leaves=20), max_size=4))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_json_body_gets_200_or_a_4xx_never_a_500(body):
    async def go() -> int:
        app = create_app(ServerConfig(rate=0, max_msg_size=4096))
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
            resp = await c.post("/api/messages", data=json.dumps(body), headers={"Content-Type": "application/json"})
            return resp.status

    status = asyncio.new_event_loop().run_until_complete(go())
    assert status == 200 or 400 <= status < 500


@given(path=st.sampled_from(["/api/poll", "/api/longpoll", "/api/stream", "/sse", "/ws", "/form",
                             "/api/session-value", "/session/me", "/"]),
       params=st.dictionaries(st.sampled_from(["after", "timeout", "limit", "sid", "x"]),
                              st.text(max_size=30) | st.integers(-10**30, 10**30).map(str), max_size=4),
       headers=st.dictionaries(st.sampled_from(["Last-Event-ID", "Duplex-Epoch", "Cookie", "X-Any"]),
                               st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
                               max_size=3))
@settings(max_examples=80, deadline=None)
def test_any_query_and_headers_on_any_endpoint_get_an_answer_never_a_500(path, params, headers):
    async def go() -> int:
        app = create_app(ServerConfig(rate=0, header_timeout=5))
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
            query = {k: v for k, v in params.items() if k != "timeout"}
            query["timeout"] = "0"  # a long poll answers at once
            async with c.get(path, params=query, headers=headers, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                if resp.status == 200 and path in ("/sse", "/api/stream"):
                    return 200  # a stream: its head is the answer
                await resp.read()
                return resp.status

    status = asyncio.new_event_loop().run_until_complete(go())
    assert status < 500


async def test_a_lone_surrogate_value_is_a_400_and_the_form_keeps_working(client):
    status, answer = await post_raw(client, "/api/session-value", '{"value": "\\ud800"}')
    assert status == 400 and "lone surrogate" in answer["error"]
    assert (await client.get("/form")).status == 200
    resp = await client.post("/api/session-value", data='{"value": "fine \\ud83d\\ude00"}',
                             headers={"Content-Type": "application/json"})  # a pair is text
    assert resp.status == 200 and "fine 😀" in await resp.text() and (await client.get("/form")).status == 200


@pytest.mark.parametrize("charset", ["utf-7", "x-no-such-charset"])
async def test_a_form_part_in_a_charset_it_cannot_read_is_a_400_page(client, charset):
    body = (f'--b\r\nContent-Disposition: form-data; name="value"\r\nContent-Type: text/plain; charset={charset}'
            '\r\n\r\n+AGEA-\r\n--b\r\nContent-Disposition: form-data; name="state"\r\n\r\nx\r\n--b--\r\n')
    resp = await client.post("/form", data=body.encode(), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert resp.status == 400 and "<!DOCTYPE html>" in await resp.text()
    await alive(client)


def test_an_empty_host_is_every_address_not_loopback():
    from transport.server.faultproxy import is_loopback_host

    assert not is_loopback_host("") and is_loopback_host("localhost") and is_loopback_host("::1")
