"""Origin checks: a web page on another origin must not reach the lab."""

from __future__ import annotations

from aiohttp import web


def origin_allowed(request: web.Request, extra: tuple[str, ...] = ()) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser (CLI clients, Duplex itself)
        return True
    own = f"{request.scheme}://{request.host}"
    return origin in (own, *extra)
