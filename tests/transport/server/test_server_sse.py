"""The lab server's ``/sse`` through aiohttp's test server on 127.0.0.1:0, read with our parser."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from transport.server import ServerConfig, create_app
from transport.server.keys import CONFIG, FEED
from transport.core.sse import Comment, EventStreamParser, Retry, ServerSentEvent


@pytest.fixture
async def client():
    app = create_app(ServerConfig(rate=0, history=20, sse_retry_ms=750, sse_heartbeat=0.05))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as c:
        yield c


class Reader:
    def __init__(self, resp, last_event_id=""):
        self.resp = resp
        self.parser = EventStreamParser(last_event_id)
        self.items: list = []

    async def until(self, pred, timeout=5.0):
        """Read until ``pred(items)`` holds (bounded by ``timeout``)."""
        async with asyncio.timeout(timeout):
            while not pred(self.items):
                chunk = await self.resp.content.readany()
                assert chunk, "stream ended"
                self.items += self.parser.feed(chunk)
        return self.items

    def events(self):
        return [x for x in self.items if isinstance(x, ServerSentEvent)]


def n_events(n):
    return lambda items: sum(isinstance(x, ServerSentEvent) for x in items) >= n


async def test_headers_retry_and_named_and_unnamed_events(client):
    feed = client.server.app[FEED]
    resp = await client.get("/sse")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert resp.headers["Cache-Control"] == "no-cache"
    r = Reader(resp)
    await r.until(lambda items: Retry(750) in items)
    feed.publish("price", {"p": 1})
    feed.publish("chat", {"text": "hi"})
    feed.publish("likes", {"n": 3})
    await r.until(n_events(3))
    got = r.events()
    assert [(e.type, e.last_event_id) for e in got] == [("price", "1"), ("message", "2"), ("likes", "3")]
    assert json.loads(got[1].data) == {"seq": 2, "ts": json.loads(got[1].data)["ts"], "topic": "chat",
                                       "body": {"text": "hi"}}
    resp.close()


async def test_heartbeat_comments_arrive(client):
    resp = await client.get("/sse")
    r = Reader(resp)
    await r.until(lambda items: Comment("ping") in items)
    resp.close()


async def test_last_event_id_replays_history_then_marks_live(client):
    feed = client.server.app[FEED]
    for i in range(6):
        feed.publish("price", i)
    resp = await client.get("/sse", headers={"Last-Event-ID": "3"})
    r = Reader(resp)
    await r.until(n_events(4))
    got = r.events()
    assert [e.last_event_id for e in got[:3]] == ["4", "5", "6"]
    assert got[3].type == "live" and json.loads(got[3].data) == {"seq": 6}
    feed.publish("likes", 7)
    await r.until(n_events(5))
    assert r.events()[4].last_event_id == "7"
    resp.close()
    index = await (await client.get("/")).json()
    assert "3" in index["sse"]["last_event_ids"]


async def test_after_query_for_a_first_connection(client):
    feed = client.server.app[FEED]
    for i in range(3):
        feed.publish("price", i)
    resp = await client.get("/sse?after=1")
    r = Reader(resp)
    await r.until(n_events(3))
    assert [e.last_event_id for e in r.events()[:2]] == ["2", "3"]
    resp.close()


async def test_id_out_of_history_gets_an_explicit_gap_event(client):
    feed = client.server.app[FEED]
    for i in range(30):  # history holds 20: seqs 11..30
        feed.publish("price", i)
    resp = await client.get("/sse", headers={"Last-Event-ID": "5"})
    r = Reader(resp, "5")
    await r.until(n_events(2))
    gap, first = r.events()[:2]
    assert gap.type == "gap" and json.loads(gap.data) == {"after": 5, "first_available": 11, "missing": 5}
    assert gap.last_event_id == "5"  # the gap has no id: the client's position is unchanged
    assert first.last_event_id == "11"
    resp.close()


async def test_foreign_last_event_id_is_explained_and_stream_goes_live(client):
    resp = await client.get("/sse", headers={"Last-Event-ID": "abc"})
    r = Reader(resp)
    await r.until(lambda items: any(isinstance(x, Comment) and "not a seq" in x.text for x in items))
    client.server.app[FEED].publish("price", 1)
    await r.until(n_events(1))
    resp.close()


async def test_end_streams_fault_ends_the_response(client):
    resp = await client.get("/sse")
    r = Reader(resp)
    await r.until(lambda items: bool(items))
    token = client.server.app[CONFIG].admin_token
    ack = await client.post("/_admin/faults", json={"action": "end_streams"},
                            headers={"Authorization": f"Bearer {token}"})
    assert (await ack.json())["ended"] == 1
    async with asyncio.timeout(5):
        while await resp.content.readany():
            pass
    assert resp.content.at_eof()
