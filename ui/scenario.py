"""A fault scenario: steps run one after another, each once or on its repeat schedule.

Network faults hit every tab routed through a fault proxy (each tab's own
proxy, at once); server faults hit the lab once and are marked in every
timeline; a process kill waits until the new lab process listens before the
scenario goes on.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Protocol

from transport.errors import DuplexError

from .fault_control import repeat, server_fault
from .fault_panel import describe


class Lab(Protocol):
    """What a scenario needs of the window."""

    transport_tabs: list

    def lab_address(self) -> tuple[str, str]: ...  # url, token

    def mark_everywhere(self, text: str) -> None: ...

    def restart_lab(self, down_s: float, keep_history: bool) -> Awaitable[None]: ...


class Scenario:
    def __init__(self, lab: Lab, say: Callable[[str], None]) -> None:
        self.lab = lab
        self.say = say
        self.steps: list[dict] = []
        self.applied = 0

    async def run(self) -> int:
        """Run every step; returns how many faults were applied."""
        if not self.steps:
            raise DuplexError("The scenario has no steps: pick a fault and press Add step.")
        self.applied = 0
        n = len(self.steps)
        self.lab.mark_everywhere(f"scenario started: {n} step(s)")
        for i, spec in enumerate(list(self.steps), 1):
            self.say(f"step {i}/{n}: {describe(spec)}")
            self.applied += await repeat(spec, self._once, lambda text, i=i: self.say(f"step {i}/{n}: {text}"))
        self.lab.mark_everywhere(f"scenario done: {self.applied} fault(s) applied")
        self.say(f"done: {n} step(s), {self.applied} fault(s) applied")
        return self.applied

    async def _once(self, spec: dict) -> None:
        kind = spec["kind"]
        if kind == "proxy":
            routed = [tab for tab in self.lab.transport_tabs if tab.fault_control.listen]
            if not routed:
                raise DuplexError("No tab is routed through a fault proxy: tick 'Route this tab through a fault "
                                  "proxy' on the Faults page of each tab the network faults should hit.")
            await asyncio.gather(*(tab.fault_control.apply_once(spec) for tab in routed))
        elif kind == "server":
            url, token = self.lab.lab_address()
            self.lab.mark_everywhere(await server_fault(url, token, spec) + " (scenario)")
        else:
            await self.lab.restart_lab(spec["duration"], spec["keep_history"])
