"""Client side of the lab's admin API (``/_admin/…``): faults, settings, sessions, stats, proxies."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from transport.clients.tls import client_ssl, trusted_ca
from transport.core.errors import DuplexError, explain


def _ssl_for(url: str) -> Any:
    """The TLS lab's CA alone for its address (clients/tls.py: trust), else the system's store."""
    ca = trusted_ca(url)
    return client_ssl(True, ca) if ca else True


async def post_fault(base_url: str, token: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one fault action; return the server's JSON answer or raise DuplexError."""
    status, answer = await admin_call(base_url, token, "POST", "/faults", body, timeout)
    if status != 200:
        raise DuplexError(f"The lab refused {body.get('action')!r}: HTTP {status} {reason(answer)}".strip())
    return answer if isinstance(answer, dict) else {}


async def post_settings(base_url: str, token: str, fields: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Change the lab's settings (``POST /_admin/settings``: rate, renew, idle, absolute, balance); return
    every setting as it now is, or raise DuplexError with the lab's reason (then nothing changed)."""
    status, answer = await admin_call(base_url, token, "POST", "/settings", fields, timeout)
    if status != 200:
        raise DuplexError(f"The lab refused the settings {', '.join(fields)}: HTTP {status} {reason(answer)}"
                          .strip())
    return answer if isinstance(answer, dict) else {}


async def lab_sessions(base_url: str, token: str, timeout: float = 5.0) -> dict[str, Any]:
    """The lab's view of every session (``GET /_admin/sessions``); it never renews a session."""
    return await _view(base_url, token, "/sessions", timeout)


async def lab_stats(base_url: str, token: str, timeout: float = 5.0) -> dict[str, Any]:
    """The lab process's own view (``GET /_admin/stats``): open connections, requests, CPU, memory."""
    return await _view(base_url, token, "/stats", timeout)


async def worker_stats(port: Any, token: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """One cluster worker's own view, asked on its own loopback port; None when it does not answer (killed,
    restarting)."""
    try:
        return await lab_stats(f"http://127.0.0.1:{port}", token, timeout=timeout)
    except DuplexError:
        return None


async def _view(base_url: str, token: str, path: str, timeout: float) -> dict[str, Any]:
    status, answer = await admin_call(base_url, token, "GET", path, timeout=timeout)
    if status != 200 or not isinstance(answer, dict):
        raise DuplexError(f"The lab's {path.strip('/')} view answered HTTP {status}.")
    return answer


def reason(answer: Any) -> str:
    """The lab's reason in an admin answer (its JSON ``error``; else the text it sent)."""
    return str(answer.get("error", "")) if isinstance(answer, dict) else str(answer or "")


async def admin_call(base_url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None,
                     timeout: float = 5.0) -> tuple[int, Any]:
    """One call to the lab's admin API (``/_admin`` + path): (status, JSON answer or None)."""
    url = base_url.rstrip("/") + "/_admin" + path
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                         connector=aiohttp.TCPConnector(ssl=_ssl_for(url))) as session:
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
