"""Short poll, long poll, NDJSON stream, AJAX and postback endpoints (aiohttp test client, 127.0.0.1:0)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.helpers import wait_until
from transport.server import ServerConfig, create_app
from transport.server.keys import FEED, HOLDS
from transport.server.sse import end_streams


@pytest.fixture
async def client():
    app = create_app(ServerConfig(rate=0, history=20, sse_heartbeat=0.05))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        yield c


def publish(c, n, topic="price"):
    feed = c.server.app[FEED]
    return [feed.publish(topic, i).seq for i in range(n)]


async def test_poll_without_after_says_where_live_starts(client):
    publish(client, 3)
    resp = await client.get("/api/poll")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert await resp.json() == [{"control": "live", "seq": 3}]


async def test_poll_answers_what_is_after_n_or_an_empty_list(client):
    publish(client, 5)
    got = await (await client.get("/api/poll?after=2")).json()
    assert [m["seq"] for m in got] == [3, 4, 5] and set(got[0]) == {"seq", "ts", "topic", "body"}
    assert await (await client.get("/api/poll?after=5")).json() == []
    assert [m["seq"] for m in await (await client.get("/api/poll?after=0&limit=2")).json()] == [1, 2]


async def test_poll_out_of_history_starts_with_a_gap(client):
    publish(client, 30)  # history holds 20: 11..30
    got = await (await client.get("/api/poll?after=5")).json()
    assert got[0] == {"control": "gap", "after": 5, "first_available": 11, "missing": 5}
    assert got[1]["seq"] == 11


@pytest.mark.parametrize("query", ["after=x", "after=-1", "after=1&limit=0", "after=1&timeout=nope"])
async def test_bad_parameters_get_400(client, query):
    assert (await client.get(f"/api/longpoll?{query}")).status == 400


async def test_longpoll_answers_at_once_when_there_is_something(client):
    publish(client, 2)
    got = await (await client.get("/api/longpoll?after=0&timeout=30")).json()
    assert [m["seq"] for m in got] == [1, 2]


async def test_longpoll_holds_until_a_message_arrives(client):
    publish(client, 1)
    req = asyncio.ensure_future(client.get("/api/longpoll?after=1&timeout=30"))
    await wait_until(lambda: client.server.app[HOLDS], 5, "the request to be held")
    assert not req.done()
    publish(client, 1, "likes")
    got = await (await asyncio.wait_for(req, 5)).json()
    assert [(m["seq"], m["topic"]) for m in got] == [(2, "likes")]


async def test_longpoll_times_out_with_an_empty_list(client):
    publish(client, 1)
    assert await (await client.get("/api/longpoll?after=1&timeout=0.05")).json() == []


async def test_end_streams_releases_a_held_long_poll(client):
    req = asyncio.ensure_future(client.get("/api/longpoll?after=0&timeout=60"))
    await wait_until(lambda: client.server.app[HOLDS], 5, "the request to be held")
    assert end_streams(client.server.app) == 1
    assert await (await asyncio.wait_for(req, 5)).json() == []


async def read_lines(resp, n):
    lines: list[bytes] = []
    buf = b""
    async with asyncio.timeout(5):
        while len(lines) < n:
            chunk = await resp.content.readany()
            assert chunk, "stream ended"
            buf += chunk
            *done, buf = buf.split(b"\n")
            lines += done
    return lines


async def test_stream_replays_marks_live_streams_and_sends_heartbeats(client):
    publish(client, 4)
    resp = await client.get("/api/stream?after=2")
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    assert resp.headers["Transfer-Encoding"] == "chunked"
    lines = await read_lines(resp, 3)
    assert [json.loads(x).get("seq") for x in lines[:2]] == [3, 4]
    assert json.loads(lines[2]) == {"control": "live", "seq": 4}
    publish(client, 1)
    more = await read_lines(resp, 2)  # the new message and, after 50 ms of quiet, a bare-newline heartbeat
    assert json.loads(more[0])["seq"] == 5 and b"" in more
    resp.close()


async def test_ajax_message_is_published_to_the_feed(client):
    resp = await client.post("/api/messages", json={"topic": "chat", "body": {"text": "hi"}})
    assert await resp.json() == {"ok": True, "seq": 1}
    msg = client.server.app[FEED].since(0)[0][0]
    assert (msg.topic, msg.body) == ("chat", {"text": "hi"})
    assert (await client.post("/api/messages", data=b"not json")).status == 400
    foreign = await client.post("/api/messages", json={"body": 1}, headers={"Origin": "https://evil.example"})
    assert foreign.status == 403


async def test_session_value_fragment_and_postback_page_share_the_value(client):
    assert await (await client.get("/api/session-value")).text() == \
        '<span id="session-value" data-edits="0"></span>'
    frag = await (await client.post("/api/session-value", json={"value": "<b>x</b>"})).text()
    assert frag == '<span id="session-value" data-edits="1">&lt;b&gt;x&lt;/b&gt;</span>'
    page = await (await client.get("/form")).text()
    assert page.startswith("<!DOCTYPE html>") and 'value="&lt;b&gt;x&lt;/b&gt;"' in page
    state = re.search(r'name="state" value="([^"]+)"', page).group(1)
    new = await client.post("/form", data={"state": state, "value": "y", "action": "save"})
    text = await new.text()
    assert new.status == 200 and 'id="value" name="value" value="y"' in text and "Saved. 2 edits" in text
    assert "data-edits=\"2\">y<" in await (await client.get("/api/session-value")).text()
    tampered = await client.post("/form", data={"state": state[:-2] + ("00" if state[-2:] != "00" else "11"), "value": "z"})
    assert tampered.status == 400


async def test_a_short_poll_carries_an_etag_and_answers_304_when_nothing_is_new(client):
    publish(client, 2)
    first = await client.get("/api/poll?after=2")
    tag = first.headers["ETag"]
    assert first.status == 200 and await first.json() == [] and tag.startswith('"') and tag.endswith('"')
    assert first.headers["Cache-Control"] == "no-cache"  # kept, but asked again each time
    for given in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = await client.get("/api/poll?after=2", headers={"If-None-Match": given})
        assert again.status == 304 and await again.read() == b"" and again.headers["ETag"] == tag, given
    publish(client, 1)  # something new: the same URL answers it, with another tag
    fresh = await client.get("/api/poll?after=2", headers={"If-None-Match": tag})
    assert fresh.status == 200 and [m["seq"] for m in await fresh.json()] == [3] and fresh.headers["ETag"] != tag
    stale = await client.get("/api/poll?after=2", headers={"If-None-Match": '"not-this-one"'})
    assert stale.status == 200
