"""Talking to a server's session endpoints on behalf of a virtual browser."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from transport.clients.virtual_browser import VirtualBrowser
from transport.core.errors import BadStatus, DuplexError, explain
from transport.core.urls import where
from transport.clients.http import WireCounter, new_session
from transport.core.errors import snippet

TIMEOUT_S = 10.0


async def session_request(browser: VirtualBrowser, url: str, body: dict | None) -> dict[str, Any]:
    """POST ``body`` (JSON) to ``url`` with the browser's cookies; the JSON answer, or a DuplexError."""
    peer = where(url)
    try:
        async with new_session(WireCounter(), TIMEOUT_S, jar=browser.jar) as http:
            async with asyncio.timeout(TIMEOUT_S):
                async with http.post(browser.with_carrier(url), json=body) as resp:
                    raw = await resp.read()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise explain(exc, peer, timeout=TIMEOUT_S) from exc
    if resp.status >= 400:
        raise BadStatus(f"{peer} answered HTTP {resp.status} to {url.rsplit('/', 1)[-1]} ({snippet(raw)}).",
                        resp.status)
    try:
        answer = json.loads(raw)
    except ValueError:
        raise DuplexError(f"{peer} did not answer JSON ({snippet(raw)}).") from None
    return answer if isinstance(answer, dict) else {}
