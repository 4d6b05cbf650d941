"""Reading what clients send, strictly and within bounds: one sentence for every way it can be wrong.

Every JSON the lab accepts is UTF-8, at most ``MAX_DEPTH`` levels deep and has only finite numbers (a
browser's ``JSON.parse`` rejects ``NaN`` and ``Infinity``, and the feed carries what was posted to every
transport). A handler raises :class:`BadInput`; the ``bad_input`` middleware answers it as a 4xx with
a JSON reason.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from transport.core.errors import human_size
from transport.server.feed import Message, MessageTooLarge
from transport.server.keys import BACKPLANE, CONFIG, FEED, Handler

MAX_DEPTH = 64


class BadInput(Exception):
    """What a client sent cannot be used: ``status`` (4xx) and a reason that names the field or limit."""

    def __init__(self, reason: str, status: int = 400, kind: str = "invalid") -> None:
        super().__init__(reason)
        self.reason, self.status, self.kind = reason, status, kind  # kind: syntax, depth, number, size…

    def response(self) -> web.Response:
        return json_error(self.status, self.reason)


def json_error(status: int, text: str) -> web.Response:
    """A refusal: the status and one sentence as JSON."""
    return web.json_response({"error": text}, status=status)


def loads(text: str, what: str = "the body") -> Any:
    """Strict JSON: finite numbers only, at most MAX_DEPTH levels of nesting; the reason names the field."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadInput(f"{what} nests deeper than {MAX_DEPTH} levels", kind="depth") from None
    except ValueError as exc:
        raise BadInput(f"{what} is not JSON ({exc})", kind="syntax") from None
    check(value, what)
    return value


def check(value: Any, what: str) -> None:
    """Depth and finite numbers, walked without recursion; the first offence is named by its path."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            where = _path(path) or what
            raise BadInput(f"{where} is {item!r}: only finite numbers are JSON (a browser's JSON.parse rejects "
                           "NaN and Infinity)", kind="number")
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise BadInput(f"{what} nests deeper than {MAX_DEPTH} levels (at {_path(path)})", kind="depth")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, depth + 1, path + (key,)) for key, child in pairs
                         if isinstance(child, (dict, list, float)))


def _path(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(path))


async def read_json(request: web.Request, what: str = "the body") -> Any:
    """The request's JSON body: 413 over the lab's size limit, 400 when not UTF-8 or not strict JSON."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        limit = human_size(request.config_dict[CONFIG].max_msg_size)
        raise BadInput(f"{what} is larger than the {limit} limit (--max-size)", status=413, kind="size") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{what} is not UTF-8", kind="syntax") from None
    return loads(text, what)


@web.middleware
async def bad_input(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadInput as err:
        return err.response()


async def publish_client_message(app: web.Application, obj: Any) -> Message:
    """A client's message onto the feed: a JSON object's ``topic`` (a string of at most 64 characters)
    and ``body`` are kept, anything else is the body of a ``chat`` message. 413 over the size limit.
    In cluster mode it is numbered on Redis (every worker's clients get it)."""
    topic: object = "chat"
    body = obj
    if isinstance(obj, dict) and "body" in obj:
        topic, body = obj.get("topic") or "chat", obj["body"]
        if not isinstance(topic, str) or len(topic) > 64:
            raise BadInput('"topic" must be a string of at most 64 characters')
    try:
        backplane = app.get(BACKPLANE)
        if backplane is not None:
            return await backplane.publish(str(topic), body)
        return app[FEED].publish(str(topic), body)
    except MessageTooLarge as exc:
        raise BadInput(f"{exc} (--max-size)", status=413, kind="size") from None
