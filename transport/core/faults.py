"""Faults as data: one typed, validated spec for the Faults page, the scenario runner and Compare.

Pure: what a fault is, whether it makes sense, how it reads in a sentence,
and the bodies the lab's admin API takes for it. Applying it is
:mod:`transport.apps.fault_runner`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["proxy", "server", "process"]


@dataclass(frozen=True, slots=True)
class FaultType:
    key: str
    label: str
    kind: Kind  # proxy: a toxic (or down) on a fault proxy; server: a lab fault; process: kill the lab
    attribute: str  # the toxic's attribute the value sets ("" : none)
    unit: str
    default: float = 0
    toxic_type: str = ""  # the proxy's toxic type when it is not ``key``
    fixed: tuple[tuple[str, float | str], ...] = ()  # attributes always sent (a message toxic's action)

    @property
    def toxic(self) -> str:
        return self.toxic_type or self.key


FAULT_TYPES: tuple[FaultType, ...] = (
    FaultType("reset_peer", "Reset (TCP RST)", "proxy", "timeout", "ms before"),
    FaultType("timeout", "Timeout (drop, then close; 0 = hang)", "proxy", "timeout", "ms"),
    FaultType("latency", "Latency", "proxy", "latency", "ms", 300),
    FaultType("bandwidth", "Bandwidth", "proxy", "rate", "KB/s", 10),
    FaultType("slicer", "Slicer (small delayed pieces)", "proxy", "average_size", "bytes", 16),
    FaultType("limit_data", "Limit data (close after N bytes)", "proxy", "bytes", "bytes", 1000),
    FaultType("slow_close", "Slow close", "proxy", "delay", "ms", 500),
    FaultType("down", "Proxy down (refuse connections)", "proxy", "", ""),
    # the boxes in the middle (the proxy reads HTTP/1.1 for the last three: whatever the direction)
    FaultType("idle_timeout", "Load balancer: idle timeout", "proxy", "timeout", "ms", 1000),
    FaultType("block_upgrade", "Firewall: refuse WebSocket (403)", "proxy", "", ""),
    FaultType("strip_upgrade", "Proxy: strip the Upgrade header", "proxy", "", "", toxic_type="block_upgrade",
              fixed=(("mode", "strip"),)),
    FaultType("http_error", "Flaky API: answer requests with a status", "proxy", "status", "status", 503),
    FaultType("buffer", "Buffering proxy: hold bodies", "proxy", "bytes", "bytes", 4096),
    # one message of the transport (the proxy reads WebSocket frames, SSE events, NDJSON lines, poll items)
    FaultType("message_drop", "Message: drop every Nth", "proxy", "every", "every Nth", 10, "message",
              (("action", "drop"),)),
    FaultType("message_duplicate", "Message: duplicate every Nth", "proxy", "every", "every Nth", 10, "message",
              (("action", "duplicate"),)),
    FaultType("message_reorder", "Message: reorder every Nth", "proxy", "every", "every Nth", 10, "message",
              (("action", "reorder"),)),
    FaultType("message_delay", "Message: delay every 10th by", "proxy", "delay", "ms", 500, "message",
              (("action", "delay"), ("every", 10))),
    FaultType("message_corrupt", "Message: corrupt every Nth", "proxy", "every", "every Nth", 50, "message",
              (("action", "corrupt"),)),
    FaultType("restart", "Server: stop listening, come back", "server", "", ""),
    FaultType("close_websockets", "Server: close WebSockets with a code", "server", "code", "code", 1012),
    FaultType("end_streams", "Server: end SSE and HTTP streams", "server", "", ""),
    FaultType("evict_history", "Server: evict history (resume → gap)", "server", "", ""),
    FaultType("expire_sessions", "Server: expire every session", "server", "", ""),
    FaultType("kill", "Lab process: kill (SIGKILL), start a new one", "process", "", ""),
    # a lab started as a cluster (--cluster N): one worker, by its number; its clients move to the others
    FaultType("kill_worker", "Cluster: kill worker N (SIGKILL)", "server", "worker", "worker", 1),
    FaultType("restart_worker", "Cluster: restart worker N", "server", "worker", "worker", 1),
)
TYPES: dict[str, FaultType] = {t.key: t for t in FAULT_TYPES}
STREAMS = ("downstream", "upstream")
MAX_SECONDS = 3600.0
MAX_VALUE = 10_000_000


class FaultError(ValueError):
    """A fault spec that makes no sense; the message is one sentence for the user."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault: what, how much, which direction, how long, how often.

    ``duration`` is how long it lasts (0: until stopped; a restart's or a kill's downtime);
    ``every`` > 0 repeats it at 0, every, 2·every… while that is within ``span`` seconds."""

    fault: str
    value: float = 0
    jitter: float = 0  # latency only: ± this many ms
    stream: str = "downstream"  # the direction a toxic acts on
    toxicity: float = 1.0  # the share of connections it hits
    duration: float = 0.0
    every: float = 0.0
    span: float = 0.0
    keep_history: bool = True  # a process kill: the new lab loads the old one's history file
    # more of the toxic's attributes, as the proxy's API names them (a message toxic's nth, match, count;
    # an http_error's first, every, retry_after, path), checked by the proxy
    extra: tuple[tuple[str, float | str], ...] = ()

    def __post_init__(self) -> None:
        if self.fault not in TYPES:
            raise FaultError(f"Unknown fault {self.fault!r}: one of {', '.join(TYPES)}.")
        for name in ("value", "jitter", "toxicity", "duration", "every", "span"):
            number = getattr(self, name)
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise FaultError(f"The fault's {name} must be a finite number, not {number!r}.")
            if number < 0:
                raise FaultError(f"The fault's {name} cannot be negative ({number:g}).")
        if self.value > MAX_VALUE or self.jitter > MAX_VALUE:
            raise FaultError(f"The fault's value is at most {MAX_VALUE:,}.")
        if self.jitter and self.fault != "latency":
            raise FaultError("Only a latency fault has a jitter.")
        if self.stream not in STREAMS:
            raise FaultError(f"The fault's direction is downstream or upstream, not {self.stream!r}.")
        if self.toxicity > 1:
            raise FaultError(f"Toxicity is a share from 0 to 1, not {self.toxicity:g}.")
        for name in ("duration", "every", "span"):
            if getattr(self, name) > MAX_SECONDS:
                raise FaultError(f"The fault's {name} is at most {MAX_SECONDS:g} s.")
        if self.fault in ("kill_worker", "restart_worker") and (self.value < 1 or not float(self.value).is_integer()):
            raise FaultError(f"A cluster's workers are numbered from 1 (w1, w2, …), not {self.value:g}.")
        if self.fault == "http_error" and not (100 <= self.value <= 599 and float(self.value).is_integer()):
            raise FaultError(f"{self.value:g} is not an HTTP status (100–599).")
        if self.fault.startswith("message_") and self.fault != "message_delay" and (
                self.value < 1 or not float(self.value).is_integer()):
            raise FaultError(f"Every Nth message: N is a whole number from 1, not {self.value:g}.")
        if self.fault == "message_delay" and self.value <= 0:
            raise FaultError("A message's delay is more than 0 ms.")
        if self.extra and self.kind != "proxy":
            raise FaultError("Only a proxy's toxic takes more attributes.")
        if self.fault == "idle_timeout" and self.value <= 0:
            raise FaultError("An idle timeout is more than 0 ms.")
        if self.fault == "close_websockets" and not (1000 <= self.value <= 4999 and self.value not in
                                                      (1004, 1005, 1006, 1015)):
            raise FaultError(f"{self.value:g} is not a close code a server may send (1000–4999, "
                             "not 1004, 1005, 1006 or 1015).")

    @classmethod
    def of(cls, fault: str, **fields: Any) -> FaultSpec:
        """A spec with the fault type's default value unless one is given."""
        fields.setdefault("value", TYPES[fault].default if fault in TYPES else 0)
        return cls(fault, **fields)

    @property
    def type(self) -> FaultType:
        return TYPES[self.fault]

    @property
    def kind(self) -> Kind:
        return TYPES[self.fault].kind

    @property
    def repeats(self) -> bool:
        return self.every > 0

    def times(self) -> int:
        """How often it is applied: once, or at 0, every, 2·every… within ``span``."""
        if not self.repeats:
            return 1
        return max(1, math.ceil(self.span / self.every - 1e-9))

    def describe(self) -> str:
        """The fault in a few words (a scenario step, a marker)."""
        t = self.type
        text = t.label
        if t.unit == "worker":
            text = text.replace("worker N", f"worker w{int(self.value)}")
        elif t.unit == "every Nth":
            text = text.replace("every Nth", f"every {_ordinal(self.value)}")
        elif t.attribute:
            text += f" {self.value:g}" if t.unit in ("code", "status") else f" {self.value:g} {t.unit}"
            if self.jitter:
                text += f" ± {self.jitter:g} ms"
        if t.kind == "proxy" and t.key != "down":
            text += f", {self.stream}, toxicity {self.toxicity:g}"
        if t.kind == "process":
            text += ", history kept" if self.keep_history else ", history deleted"
        if self.duration and (t.kind in ("proxy", "process") or t.key == "restart"):
            text += f", {self.duration:g} s" + (" down" if t.kind != "proxy" else "")
        if self.repeats:
            text += f", every {self.every:g} s for {self.span:g} s"
        return text

    def toxic(self, name: str) -> dict[str, Any]:
        """The toxic the lab's fault proxy takes for this fault (Toxiproxy's shape)."""
        t = self.type
        if t.kind != "proxy" or t.key == "down":
            raise FaultError(f"{t.label} is not a toxic.")
        attributes: dict[str, Any] = {k: _number(v) if not isinstance(v, str) else v for k, v in t.fixed}
        if t.attribute:
            attributes[t.attribute] = _number(self.value)
        if self.jitter:
            attributes["jitter"] = _number(self.jitter)
        attributes.update({k: _number(v) if not isinstance(v, str) else v for k, v in self.extra})
        return {"name": name, "type": t.toxic, "stream": self.stream, "toxicity": self.toxicity,
                "attributes": attributes}

    def server_action(self) -> dict[str, Any]:
        """The body of ``POST /_admin/faults`` for a server fault."""
        if self.kind != "server":
            raise FaultError(f"{self.type.label} is not a server fault.")
        body: dict[str, Any] = {"action": self.fault}
        if self.fault == "restart":
            body["down_s"] = self.duration
        elif self.fault == "close_websockets":
            body["code"] = int(self.value)
        elif self.fault in ("kill_worker", "restart_worker"):
            body["worker"] = f"w{int(self.value)}"
        return body

    def marker(self, answer: dict[str, Any]) -> str:
        """What a timeline marker says once a server fault was applied (``answer``: the lab's reply)."""
        said = ""
        if self.fault == "restart":
            said = f" ({self.duration:g} s down)"
        elif self.fault == "close_websockets":
            said = f" (code {self.value:g})"
        elif self.fault in ("kill_worker", "restart_worker"):
            said = f" (w{int(self.value)})"
        counts = ", ".join(f"{k} {v}" for k, v in answer.items() if k in ("closed", "ended", "evicted", "expired"))
        return f"server fault: {self.fault}{said}" + (f": {counts}" if counts else "")


def _ordinal(n: float) -> str:
    k = int(n)
    if k == 1:
        return "message"
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
