"""``POST /api/chat``: an OpenAI-style chat completion that streams the tokens of a canned answer.

The body is ``{"messages": [...], "stream": true|false, "pace_ms": P, "tokens": N}`` (all optional):
with ``stream`` (the default) the answer is ``text/event-stream``, one ``chat.completion.chunk`` per
token every ``pace_ms`` (0: as fast as the socket takes them), then ``data: [DONE]``; without it, one
``application/json`` completion, as an MCP streamable-HTTP server may answer a POST. ``tokens`` caps
the answer's length (a long answer is the canned one repeated). Bad bodies are a 400 with a reason.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

from aiohttp import web

from .bodies import BadInput, read_json

ANSWER = ("Short polling asks again and again; long polling waits for an answer; a stream keeps one response "
          "open; Server-Sent Events name and number what they send; a WebSocket talks both ways on one "
          "connection. ").split(" ")
MAX_TOKENS = 100_000
MAX_PACE_MS = 10_000


def _number(body: dict[str, Any], key: str, default: float, high: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise BadInput(f'"{key}" must be a number from 0 to {high:g}')
    return float(value)


def tokens(n: int) -> list[str]:
    words = [w for w in ANSWER if w]
    return [(words[i % len(words)] + " ") for i in range(n)]


def chunk(ident: str, created: int, content: str | None, finish: str | None = None) -> str:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    return json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created, "model": "duplex-lab",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]},
                      separators=(",", ":"))


async def chat_handler(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, 'the body ({"messages": […], "stream": true})')
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    stream = body.get("stream", True)
    if not isinstance(stream, bool):
        raise BadInput('"stream" must be true or false')
    pace = _number(body, "pace_ms", 20, MAX_PACE_MS) / 1000
    words = tokens(int(_number(body, "tokens", len([w for w in ANSWER if w]), MAX_TOKENS)))
    ident, created = "chatcmpl-" + secrets.token_hex(8), int(time.time())
    if not stream:
        return web.json_response({"id": ident, "object": "chat.completion", "created": created, "model": "duplex-lab",
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": "".join(words)}}]})
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    await resp.write(f"data: {chunk(ident, created, '')}\n\n".encode())  # the role's first chunk, at once
    for word in words:
        if pace:
            await asyncio.sleep(pace)  # the pace of the canned answer's tokens (the point of the endpoint)
        await resp.write(f"data: {chunk(ident, created, word)}\n\n".encode())
    await resp.write(f"data: {chunk(ident, created, None, 'stop')}\n\ndata: [DONE]\n\n".encode())
    await resp.write_eof()
    return resp
