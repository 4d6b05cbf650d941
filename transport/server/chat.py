"""``POST /v1/chat/completions`` (and ``POST /api/chat``): a chat completion in the OpenAI shape that streams
the tokens of a canned answer, so the official ``openai`` package (``base_url`` = the lab's ``/v1``, any
``api_key``) reads it as it reads the real API.

The body is ``{"model", "messages": [...], "stream": true|false, "max_tokens": N, "stream_options":
{"include_usage": true}, "pace_ms": P, "tokens": N}`` (all optional). With ``stream`` (the default on
``/api/chat``; the SDK sends it) the answer is ``text/event-stream``: a first chunk whose delta carries the
``role``, one ``chat.completion.chunk`` per token every ``pace_ms`` (0: as fast as the socket takes them), a
chunk with ``finish_reason`` (``length`` when ``max_tokens`` cut the answer), with ``include_usage`` a last
chunk with no choices and the ``usage``, then ``data: [DONE]``. Without it, one ``chat.completion`` with its
``usage``. ``tokens`` sets the canned answer's length, ``max_tokens`` caps it. Errors are 4xx with
``{"error": {"message", "type", "code", "param"}}``, which the SDK raises with the lab's own message.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

from aiohttp import web

from transport.server.bodies import BadInput, read_json
from transport.server.keys import CONFIG, STREAMS

ANSWER = ("Short polling asks again and again; long polling waits for an answer; a stream keeps one response "
          "open; Server-Sent Events name and number what they send; a WebSocket talks both ways on one "
          "connection. ").split(" ")
MAX_TOKENS = 100_000
MODEL = "duplex-lab"
CHAT_PATHS = ("/v1/chat/completions", "/api/chat")
MAX_PACE_MS = 10_000


def _number(body: dict[str, Any], key: str, default: float, high: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise BadInput(f'"{key}" must be a number from 0 to {high:g}')
    return float(value)


def tokens(n: int) -> list[str]:
    words = [w for w in ANSWER if w]
    return [(words[i % len(words)] + " ") for i in range(n)]


def chunk(ident: str, created: int, content: str | None, finish: str | None = None, *, model: str = MODEL,
          role: bool = False, usage: bool = False) -> str:
    """One ``chat.completion.chunk``: ``role`` on the first; with ``usage`` (include_usage asked) every chunk
    says ``"usage": null``, as the API does, until the last one that carries it."""
    delta: dict[str, Any] = {} if content is None else {"content": content}
    if role:
        delta = {"role": "assistant", **delta}
    obj: dict[str, Any] = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        obj["usage"] = None
    return json.dumps(obj, separators=(",", ":"))


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _prompt_tokens(messages: object) -> int:
    """Words in the messages' text: the lab's token count (a real tokenizer is not the point here)."""
    if not isinstance(messages, list):
        return 0
    n = 0
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            n += len(content.split())
        elif isinstance(content, list):  # content parts: [{"type": "text", "text": …}]
            n += sum(len(p["text"].split()) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return n


def _error(err: BadInput) -> web.Response:
    """An error as the API writes it: the SDK reads ``error.message`` (else it says only "Error code: 400")."""
    kind = "invalid_request_error" if err.status < 500 else "server_error"
    return web.json_response({"error": {"message": err.reason, "type": kind, "code": err.kind, "param": None}},
                             status=err.status)


async def chat_handler(request: web.Request) -> web.StreamResponse:
    try:
        return await _chat(request)
    except BadInput as err:
        return _error(err)


async def _chat(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, 'the body ({"messages": […], "stream": true})')
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    stream = body.get("stream", request.path == "/api/chat")  # the API's default is one answer
    if not isinstance(stream, bool):
        raise BadInput('"stream" must be true or false')
    model = body.get("model", MODEL)
    if not isinstance(model, str) or not 0 < len(model) <= 256:
        raise BadInput('"model" must be a name (a string of 1 to 256 characters)')
    options = body.get("stream_options") or {}
    if not isinstance(options, dict) or not isinstance(options.get("include_usage", False), bool):
        raise BadInput('"stream_options" must be an object like {"include_usage": true}')
    include_usage = stream and options.get("include_usage", False)
    pace = _number(body, "pace_ms", 20, MAX_PACE_MS) / 1000
    length = int(_number(body, "tokens", len([w for w in ANSWER if w]), MAX_TOKENS))
    cap = body.get("max_tokens", body.get("max_completion_tokens"))
    finish = "stop"
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_TOKENS:
            raise BadInput(f'"max_tokens" must be a whole number from 1 to {MAX_TOKENS}')
        if cap < length:
            length, finish = cap, "length"
    words = tokens(length)
    usage = _usage(_prompt_tokens(body.get("messages")), len(words))
    ident, created = "chatcmpl-" + secrets.token_hex(8), int(time.time())
    if not stream:
        return web.json_response({"id": ident, "object": "chat.completion", "created": created, "model": model,
                                  "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                                               "message": {"role": "assistant", "content": "".join(words)}}],
                                  "usage": usage})
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                       **request.app[CONFIG].stream_headers()})
    await resp.prepare(request)
    handle = _Stream(request)
    request.app[STREAMS].add(handle)  # the lab's end of streams (a shutdown, a restart) cuts it too
    try:
        await _answer(request, resp, ident, created, model, words, finish, include_usage, usage, pace)
    except (ConnectionResetError, asyncio.TimeoutError):
        handle.stop_streaming()
    finally:
        request.app[STREAMS].discard(handle)
    return resp


class _Stream:
    """A chat answer being streamed, as the lab's end of streams sees it."""

    __slots__ = ("request",)

    def __init__(self, request: web.Request) -> None:
        self.request = request

    def is_connected(self) -> bool:
        transport = self.request.transport
        return transport is not None and not transport.is_closing()

    def stop_streaming(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


async def _answer(request: web.Request, resp: web.StreamResponse, ident: str, created: int, model: str,
                  words: list[str], finish: str, include_usage: bool, usage: dict[str, Any], pace: float) -> None:
    """The answer's chunks, each write bounded: a reader that stops reading is cut after the lab's write
    timeout (the bytes waiting for it stay within the socket's buffers), not held open."""
    limit = request.app[CONFIG].write_timeout

    async def send(text: str) -> None:
        await asyncio.wait_for(resp.write(text.encode()), limit)

    await send(f"data: {chunk(ident, created, '', model=model, role=True, usage=include_usage)}\n\n")
    for word in words:
        if pace:
            await asyncio.sleep(pace)  # the pace of the canned answer's tokens (the point of the endpoint)
        await send(f"data: {chunk(ident, created, word, model=model, usage=include_usage)}\n\n")
    await send(f"data: {chunk(ident, created, None, finish, model=model, usage=include_usage)}\n\n")
    if include_usage:
        last = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [],
                "usage": usage}
        await send(f"data: {json.dumps(last, separators=(',', ':'))}\n\n")
    await send("data: [DONE]\n\n")
    await asyncio.wait_for(resp.write_eof(), limit)
