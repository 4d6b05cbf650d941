"""The boxes between a client and a server, as named sets of the fault proxy's toxics. Pure data.

Each preset emulates one box web developers meet (what breaks, and what the source document claims about
it): a corporate firewall that refuses WebSocket upgrades (SSE "should pass through firewalls"), a proxy
that does not know WebSocket and strips the ``Upgrade``, a reverse proxy that buffers streamed answers
(nginx's default ``proxy_buffering on``), a load balancer that cuts idle connections, a flaky API.
The Faults page, the scenario runner and Compare → Middleboxes take them from here; ``short`` is the
same box with times short enough for a test or a quick look (an idle timeout of 1 s, not 60).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transport.core.faults import FaultSpec


@dataclass(frozen=True, slots=True)
class Middlebox:
    key: str
    label: str
    faults: tuple[FaultSpec, ...]
    what: str  # what the box does, in one sentence
    needs_silence: bool = False  # shows only on a quiet connection (the idle timeout): feed paused

    def short(self) -> Middlebox:
        """The same box with an idle timeout of 1 s (tests, quick looks)."""
        if not any(f.fault == "idle_timeout" for f in self.faults):
            return self
        return replace(self, label=self.label.replace("(60 s)", "(1 s)"), what=self.what.replace("60 s", "1 s"),
                       faults=tuple(replace(f, value=1000) if f.fault == "idle_timeout" else f for f in self.faults))

    def with_duration(self, seconds: float) -> tuple[FaultSpec, ...]:
        return tuple(replace(f, duration=seconds) for f in self.faults)


MIDDLEBOXES: tuple[Middlebox, ...] = (
    Middlebox("firewall", "Corporate firewall (WebSocket blocked)", (FaultSpec("block_upgrade"),),
              "refuses every WebSocket upgrade with 403; plain HTTP passes"),
    Middlebox("no_upgrade", "Proxy without WebSocket support (Upgrade stripped)", (FaultSpec("strip_upgrade"),),
              "removes Upgrade and Connection: upgrade, so the server sees a plain GET"),
    Middlebox("buffering", "Buffering reverse proxy (nginx default)", (FaultSpec("buffer", value=4096),),
              "holds a streamed answer until 4 KiB are waiting, unless the server sent X-Accel-Buffering: no"),
    Middlebox("idle_timeout", "Load balancer idle timeout (60 s)", (FaultSpec("idle_timeout", value=60_000),),
              "closes a connection with no byte either way for 60 s", needs_silence=True),
    Middlebox("flaky", "Flaky API (503 on 1 request in 5)",
              (FaultSpec("http_error", value=503, extra=(("every", 5),)),),
              "answers every 5th request itself with 503"),
)
PRESETS: dict[str, Middlebox] = {m.key: m for m in MIDDLEBOXES}
