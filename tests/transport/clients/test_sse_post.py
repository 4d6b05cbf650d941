"""Streams that answer a POST (OpenAI-style chat completions, MCP streamable HTTP): the lab's /api/chat and
hand-made servers on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.helpers import ROOT, start_lab, wait_until
from transport.clients.sse import SSEClient, SSEOptions, openai_delta
from transport.server import ServerConfig, create_app
from transport.server.chat import tokens


@pytest.fixture
async def lab():
    server = TestServer(create_app(ServerConfig(rate=0, max_msg_size=4096)), host="127.0.0.1", port=0)
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


async def post(url: str, body: dict | str, **options) -> tuple[SSEClient, list, object]:
    events: list = []
    client = SSEClient(SSEOptions(url, method="POST", body=body if isinstance(body, str) else json.dumps(body),
                                  **options), events.append)
    err = await asyncio.wait_for(client.run(), 30)
    return client, events, err


def rows(events, kind, direction="in"):
    return [e for e in events if e.kind == kind and e.direction == direction]


async def test_a_chat_stream_is_read_to_done_with_one_request_and_its_text(lab):
    client, events, err = await post(lab + "/api/chat", {"stream": True, "pace_ms": 2, "tokens": 12})
    assert err is None and client.state == "closed"
    assert len(rows(events, "request", "out")) == 1 and client.requests == 1  # never sent again
    assert rows(events, "request", "out")[0].data.startswith("POST ")
    assert len(rows(events, "message")) == 12 + 2  # the role's chunk, 12 tokens, the finish chunk
    assert rows(events, "done")[0].data == "[DONE]"
    assert client.text == "".join(tokens(12))
    gaps = [e.meta["gap_ms"] for e in rows(events, "message")[1:] if "gap_ms" in e.meta]
    assert len(gaps) == 13 and max(gaps[:-1]) >= 1.0  # the pace shows between tokens
    assert rows(events, "response")[0].meta["ttfb_ms"] > 0


async def test_rapid_events_are_never_merged_or_dropped(lab):
    client, events, err = await post(lab + "/api/chat", {"stream": True, "pace_ms": 1, "tokens": 1000})
    assert err is None
    deltas = [e.meta.get("delta") for e in rows(events, "message")]
    assert len(deltas) == 1002 and deltas[0] == "" and deltas[1:-1] == tokens(1000)  # each its own row, in order
    assert client.text == "".join(tokens(1000))


async def test_a_json_answer_to_a_post_is_one_response_not_an_error(lab):
    client, events, err = await post(lab + "/api/chat", {"stream": False})
    assert err is None and client.requests == 1
    (answer,) = rows(events, "message")
    assert answer.meta["single"] and json.loads(answer.data)["object"] == "chat.completion"
    assert not [e for e in events if e.kind == "error"]


async def test_a_post_stream_is_not_sent_again_unless_asked(serve):
    calls = []

    async def handler(request):
        calls.append(await request.text())
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await resp.write(b"data: first\n\ndata: second\n\n")  # ends without [DONE]
        return resp

    base = await serve(web.post("/mcp", handler))
    client, events, err = await post(base + "/mcp", '{"jsonrpc":"2.0","id":1,"method":"ping"}',
                                     default_retry_ms=20)
    assert err is None and len(calls) == 1 and [e.data for e in rows(events, "message")] == ["first", "second"]
    assert calls[0] == '{"jsonrpc":"2.0","id":1,"method":"ping"}'
    events2: list = []
    again = SSEClient(SSEOptions(base + "/mcp", method="POST", body="{}", retry_post=True, default_retry_ms=20),
                      events2.append)
    run = asyncio.ensure_future(again.run())
    try:
        await wait_until(lambda: len(calls) >= 3, 10, "the POST sent again, as asked")
    finally:
        await again.close()
        await asyncio.gather(run, return_exceptions=True)
    assert len(calls) >= 3


async def test_the_chat_endpoint_keeps_the_labs_rules(lab):
    async with aiohttp.ClientSession() as http:
        async with http.post(lab + "/api/chat", json={}, headers={"Origin": "http://evil.example"}) as r:
            assert r.status == 403
        async with http.post(lab + "/api/chat", data="x" * 10_000, headers={"Content-Type": "application/json"}) as r:
            assert r.status == 413 and "limit" in (await r.json())["error"]["message"]
        async with http.post(lab + "/api/chat", json={"stream": "yes"}) as r:
            error = (await r.json())["error"]  # the API's shape: the SDKs read error.message
            assert r.status == 400 and '"stream"' in error["message"] and error["type"] == "invalid_request_error"
        async with http.post(lab + "/api/chat", json={"pace_ms": float("1e9")}) as r:
            assert r.status == 400


async def test_the_official_openai_package_reads_the_labs_chat_endpoint(lab):
    """The `openai` package with base_url = the lab's /v1 (it posts to /v1/chat/completions): streamed with the
    role first, max_tokens honoured, include_usage's last chunk; one answer with usage; the lab's own error."""
    openai = pytest.importorskip("openai")
    client = openai.AsyncOpenAI(base_url=lab + "/v1", api_key="any", max_retries=0)
    try:
        stream = await client.chat.completions.create(
            model="duplex-lab", messages=[{"role": "user", "content": "how do clients and servers talk"}],
            stream=True, max_tokens=5, stream_options={"include_usage": True}, extra_body={"pace_ms": 0})
        chunks = [c async for c in stream]
        assert chunks[0].choices[0].delta.role == "assistant"
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "".join(tokens(5))
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert (chunks[-1].usage.completion_tokens, chunks[-1].usage.prompt_tokens) == (5, 6)
        assert all(c.usage is None for c in chunks[:-1])

        whole = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                                     extra_body={"tokens": 3})
        assert whole.choices[0].message.content == "".join(tokens(3)) and whole.usage.total_tokens == 4
        assert whole.choices[0].finish_reason == "stop" and whole.model == "m"

        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="m", messages=[], max_tokens=0)
        assert '"max_tokens" must be a whole number' in raised.value.message
    finally:
        await client.close()


def test_openai_delta():
    chunk = '{"choices":[{"index":0,"delta":{"content":"hi"}}]}'
    assert openai_delta(chunk) == "hi"
    assert openai_delta('{"choices":[{"delta":{}}]}') is None and openai_delta("[DONE]") is None
    assert openai_delta("not json {") is None


def test_probe_posts_once_and_exits_0_when_the_stream_ends():
    lab = start_lab(rate=0)
    try:
        res = subprocess.run([sys.executable, "main.py", "probe", lab.url + "/api/chat", "--transport", "sse",
                              "--method", "POST", "--data", '{"stream": true, "pace_ms": 1, "tokens": 20}',
                              "--timeout", "20"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        lab.stop()
    assert res.returncode == 0, res.stderr
    *events, last = [json.loads(line) for line in res.stdout.splitlines()]
    assert set(last) == {"ledger"}  # the ledger comes last
    assert len([e for e in events if e["kind"] == "request"]) == 1
    assert [e["kind"] for e in events if e["direction"] == "in"][-1] == "done"
    assert len([e for e in events if e["kind"] == "message"]) == 22


async def test_the_ndjson_stream_answers_a_post_once(serve):
    from transport.clients.feed_http import FeedOptions
    from transport.clients.stream import StreamClient
    bodies = []

    async def handler(request):
        bodies.append(await request.json())
        if bodies[-1].get("json"):
            return web.json_response({"answer": 42})
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        for i in range(1, 6):
            await resp.write(json.dumps({"seq": i, "ts": 1, "topic": "t", "body": i}, separators=(",", ":"))
                             .encode() + b"\n")
        return resp

    base = await serve(web.post("/ndjson", handler))
    events: list = []
    client = StreamClient(FeedOptions(base + "/ndjson", method="POST", body='{"q": 1}', seq_rule="/seq"),
                          events.append)
    assert await asyncio.wait_for(client.run(), 10) is None
    assert bodies == [{"q": 1}] and client.ledger.received == 5  # one request, its whole answer
    assert [e for e in events if e.kind == "request"][0].data.startswith("POST ")
    events2: list = []
    single = StreamClient(FeedOptions(base + "/ndjson", method="POST", body='{"json": true}'), events2.append)
    assert await asyncio.wait_for(single.run(), 10) is None
    answer = [e for e in events2 if e.kind == "message"]
    assert len(answer) == 1 and answer[0].meta["single"] and json.loads(answer[0].data) == {"answer": 42}


async def test_an_error_chunk_ends_the_stream_as_the_openai_package_raises(serve):
    """A chat stream that reports {"error": …} half way: the official `openai` package raises APIError with
    the error's message; Duplex shows an error row, stops, and probe exits 1 with the same message."""
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}

    async def chat(request):
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b'data: {"error": {"message": "The model is overloaded", "type": "server_error"}}\n\n')
        await resp.write(b"data: [DONE]\n\n")
        return resp

    base = await serve(web.post("/v1/chat/completions", chat))
    openai = pytest.importorskip("openai")
    reference = openai.AsyncOpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
    got: list[str] = []
    with pytest.raises(openai.APIError) as raised:
        stream = await reference.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                                         stream=True)
        async for part in stream:
            got.append(part.choices[0].delta.content or "")
    await reference.close()
    assert got == ["Hel"] and "overloaded" in str(raised.value)

    body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    client, events, err = await post(base + "/v1/chat/completions", body)
    assert err is not None and err.fatal and "The model is overloaded" in err.sentence
    assert client.text == "Hel" and not rows(events, "done")
    assert [e.data for e in rows(events, "error", "state")] == [err.sentence]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "probe", base + "/v1/chat/completions", "--transport", "sse", "--method", "POST",
        "--data", body, "--timeout", "20", cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _out, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1 and "The model is overloaded" in stderr.decode() and stderr.decode().count("\n") == 1
