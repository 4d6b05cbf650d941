"""A workspace: the user's connections and their saved messages, as a versioned JSON file.

The file is meant for version control: keys sorted, two-space indent, one trailing newline, no
timestamps, so saving an unchanged workspace changes nothing. Later transports add kinds of
connection; a kind this version does not know is kept as it is (and said), never dropped. Pure
Python: reading and writing happen off the GUI thread (ui/controllers/workspace.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from transport.clients.registry import TRANSPORTS
from transport.core.errors import DuplexError
from transport.core.sequence import RuleError, parse_resume, parse_seq

FORMAT = 1  # "duplex_workspace": the format's version
MAX_OPTIONS = 32  # a tab's own settings kept (Connection.options)
MAX_OPTION = 64 * 1024  # characters of one (a POST body)
MAX_BYTES = 4 << 20  # a workspace larger than this is not one
MESSAGE_KINDS = ("text", "json", "binary")
POLICIES = ("server", "exponential", "fixed")
CARRIERS = ("cookie", "query")
KINDS: tuple[str, ...] = tuple(TRANSPORTS)  # this version's connections: the registry's transports


class WorkspaceError(DuplexError):
    """A workspace file that cannot be read (one sentence says why)."""


@dataclass
class SavedMessage:
    name: str
    payload: str
    kind: str = "text"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "payload": self.payload}


@dataclass
class Connection:
    """One tab's connection: ``url`` "" means the lab's own endpoint for this kind."""

    kind: str
    url: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    subprotocols: list[str] = field(default_factory=list)
    policy: str = "exponential"
    interval_s: float = 1.0
    resume: bool = True
    carrier: str = "cookie"
    messages: list[SavedMessage] = field(default_factory=list)
    unknown: dict[str, Any] | None = None  # a kind this version does not know: its object, kept whole
    # a server that is not the lab: how its messages are numbered and resumed (transport/core/sequence.py)
    seq_rule: str = "auto"
    resume_rule: str = "auto"
    # what a kind of tab has beyond the bar: a stream's or POST SSE's method, body and content type;
    # Socket.IO's namespace, auth and transports (strings and booleans, each tab reads its own)
    options: dict[str, str | bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        if self.unknown is not None:
            return self.unknown
        return {"kind": self.kind, "url": self.url, "headers": [list(h) for h in self.headers],
                "subprotocols": list(self.subprotocols), "policy": self.policy, "interval_s": self.interval_s,
                "resume": self.resume, "session_carrier": self.carrier,
                "seq_rule": self.seq_rule, "resume_rule": self.resume_rule, "options": dict(self.options),
                "messages": [m.to_json() for m in self.messages]}


@dataclass
class Workspace:
    connections: list[Connection] = field(default_factory=list)

    def connection(self, kind: str) -> Connection | None:
        return next((c for c in self.connections if c.kind == kind and c.unknown is None), None)

    @property
    def unknown_kinds(self) -> list[str]:
        return [c.kind for c in self.connections if c.unknown is not None]

    def to_json(self) -> dict[str, Any]:
        return {"duplex_workspace": FORMAT, "connections": [c.to_json() for c in self.connections]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def loads(text: str | bytes, where: str = "the workspace") -> Workspace:
    """Read a workspace file's text; raise WorkspaceError with one sentence on anything wrong."""
    if len(text) > MAX_BYTES:
        raise WorkspaceError(f"{where} is larger than {MAX_BYTES >> 20} MiB: not a Duplex workspace.")
    try:
        obj = json.loads(text)
    except RecursionError:
        raise WorkspaceError(f"{where} nests too deep to be a Duplex workspace.") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise WorkspaceError(f"{where} is not JSON ({err}).") from None
    if not isinstance(obj, dict) or "duplex_workspace" not in obj:
        raise WorkspaceError(f"{where} is not a Duplex workspace (no \"duplex_workspace\" version).")
    version = obj["duplex_workspace"]
    if type(version) is not int or version < 1:
        raise WorkspaceError(f"{where} has an unknown format version {version!r}.")
    if version > FORMAT:
        raise WorkspaceError(f"{where} was written by a newer Duplex (format {version}); this one reads "
                             f"format {FORMAT}.")
    items = obj.get("connections", [])
    if not isinstance(items, list):
        raise WorkspaceError(f"{where}: \"connections\" must be a list.")
    return Workspace([_connection(item, f"{where}: connection {i + 1}") for i, item in enumerate(items)])


def _connection(obj: Any, where: str) -> Connection:
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        raise WorkspaceError(f"{where} must be an object with a \"kind\".")
    kind = obj["kind"]
    if kind not in KINDS:
        return Connection(kind, unknown=obj)
    url = _typed(obj, "url", str, "", where)
    headers = _typed(obj, "headers", list, [], where)
    if not all(isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in headers):
        raise WorkspaceError(f"{where}: \"headers\" must be a list of [name, value] pairs of strings.")
    subprotocols = _typed(obj, "subprotocols", list, [], where)
    if not all(isinstance(s, str) for s in subprotocols):
        raise WorkspaceError(f"{where}: \"subprotocols\" must be a list of strings.")
    policy = _choice(obj, "policy", POLICIES, "exponential", where)
    interval = obj.get("interval_s", 1.0)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0.1 <= interval <= 60:
        raise WorkspaceError(f"{where}: \"interval_s\" must be a number of seconds from 0.1 to 60.")
    resume = _typed(obj, "resume", bool, True, where)
    carrier = _choice(obj, "session_carrier", CARRIERS, "cookie", where)
    messages = []
    for j, m in enumerate(_typed(obj, "messages", list, [], where)):
        at = f"{where}, message {j + 1}"
        if not isinstance(m, dict):
            raise WorkspaceError(f"{at} must be an object.")
        messages.append(SavedMessage(_typed(m, "name", str, "", at), _typed(m, "payload", str, "", at),
                                     _choice(m, "kind", MESSAGE_KINDS, "text", at)))
    seq_rule = _typed(obj, "seq_rule", str, "auto", where)
    resume_rule = _typed(obj, "resume_rule", str, "auto", where)
    try:
        parse_seq(seq_rule)
        parse_resume(resume_rule, kind)
    except RuleError as exc:
        raise WorkspaceError(f"{where}: {exc}.") from None
    options = _typed(obj, "options", dict, {}, where)
    if len(options) > MAX_OPTIONS or not all(
            isinstance(k, str) and (isinstance(v, bool) or isinstance(v, str) and len(v) <= MAX_OPTION)
            for k, v in options.items()):
        raise WorkspaceError(f"{where}: \"options\" must be an object of at most {MAX_OPTIONS} strings (each at "
                             f"most {MAX_OPTION:,} characters) or booleans.")
    return Connection(kind, url, [(h[0], h[1]) for h in headers], list(subprotocols), policy, float(interval),
                      resume, carrier, messages, seq_rule=seq_rule, resume_rule=resume_rule, options=dict(options))


def _typed(obj: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = obj.get(key, default)
    if type(value) is not kind:
        raise WorkspaceError(f"{where}: \"{key}\" must be {_NAMES[kind]}.")
    return value


def _choice(obj: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, where: str) -> str:
    value = obj.get(key, default)
    if value not in allowed:
        raise WorkspaceError(f"{where}: \"{key}\" must be one of {', '.join(allowed)}, not {str(value)[:40]!r}.")
    return value


_NAMES = {str: "a string", list: "a list", bool: "true or false"}
