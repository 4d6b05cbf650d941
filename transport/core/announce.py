"""The lab's stdout lines, read in one place (the window's lab process, the cluster's supervisor, the tests).

The lab (``python -m transport.server``) writes one JSON object per line: first
``{"event": "listening", "url", "port", "admin_token", …}`` (a cluster adds ``workers``, ``redis``,
``balance``), or ``{"event": "error", "error": SENTENCE}`` when it cannot start; a cluster later writes
``{"event": "cluster", "action", "said", "workers", "balance"}``. Any other line is log text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class AnnounceError(ValueError):
    """A ``listening`` line without what every reader needs (url, port, admin token)."""


@dataclass(frozen=True)
class LabLine:
    event: str  # "listening", "cluster", "error", or another event a newer lab writes
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.fields.get("url", ""))

    @property
    def port(self) -> int:
        return int(self.fields.get("port") or 0)

    @property
    def admin_token(self) -> str:
        return str(self.fields.get("admin_token", ""))

    @property
    def error(self) -> str:
        return str(self.fields.get("error", ""))

    @property
    def workers(self) -> list[dict[str, Any]] | None:
        workers = self.fields.get("workers")
        return workers if isinstance(workers, list) else None


def parse(line: bytes | str) -> LabLine | None:
    """One stdout line of the lab: a LabLine, or None for log text (not a JSON object). A ``listening``
    line without url, port and admin token raises AnnounceError."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("event"), str):
        return None
    said = LabLine(value["event"], value)
    if said.event == "listening":
        try:
            ok = bool(said.url and said.port > 0 and said.admin_token)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise AnnounceError(f"the lab's listening line lacks its url, port or admin token: {str(line)[:200]}")
    return said
