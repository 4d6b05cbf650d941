"""Client side of the lab's control endpoint (``POST /_admin/faults``)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from .errors import DuplexError, explain


async def post_fault(base_url: str, token: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one fault action; return the server's JSON answer or raise DuplexError."""
    url = base_url.rstrip("/") + "/_admin/faults"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
                try:
                    answer = await resp.json(content_type=None)
                except ValueError:
                    answer = {"error": (await resp.text())[:200]}
                if resp.status != 200:
                    raise DuplexError(f"The lab refused {body.get('action')!r}: "
                                      f"HTTP {resp.status} {answer.get('error', '')}".strip())
                return answer
    except DuplexError:
        raise
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise explain(exc, url, timeout=timeout) from exc


async def admin_call(base_url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None,
                     timeout: float = 5.0) -> tuple[int, Any]:
    """One call to the lab's admin API (``/_admin`` + path): (status, JSON answer or None)."""
    url = base_url.rstrip("/") + "/_admin" + path
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.request(method, url, json=body,
                                       headers={"Authorization": f"Bearer {token}"}) as resp:
                raw = await resp.read()
                try:
                    answer = json.loads(raw) if raw else None
                except ValueError:
                    answer = raw.decode("utf-8", "replace")[:200]
                return resp.status, answer
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise explain(exc, url, timeout=timeout) from exc
