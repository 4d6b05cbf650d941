"""A fault scenario: steps run one after another, each once or on its repeat schedule.

Network faults hit every client routed through a fault proxy (each tab's own
proxy, at once); server faults hit the lab once and are marked in every
timeline; a process kill waits until the new lab process listens before the
scenario goes on. What the scenario needs of the application is the
:class:`Lab` protocol (the window implements it).
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Protocol

from transport.core.errors import DuplexError
from transport.apps.fault_runner import repeat, server_fault
from transport.core.faults import FaultSpec


class Lab(Protocol):
    def lab_address(self) -> tuple[str, str]: ...  # url, token

    def mark_everywhere(self, text: str) -> None: ...

    def restart_lab(self, down_s: float, keep_history: bool) -> Awaitable[None]: ...

    def network_faults(self) -> list[Callable[[FaultSpec], Awaitable[None]]]:
        """How to apply a network fault once on each routed tab's proxy."""
        ...


class Scenario:
    def __init__(self, lab: Lab, say: Callable[[str], None]) -> None:
        self.lab = lab
        self.say = say
        self.steps: list[FaultSpec] = []
        self.applied = 0

    async def run(self) -> int:
        """Run every step; returns how many faults were applied."""
        if not self.steps:
            raise DuplexError("The scenario has no steps: pick a fault and press Add step.")
        self.applied = 0
        n = len(self.steps)
        self.lab.mark_everywhere(f"scenario started: {n} step(s)")
        for i, spec in enumerate(list(self.steps), 1):
            self.say(f"step {i}/{n}: {spec.describe()}")

            def progress(text: str, i: int = i) -> None:
                self.say(f"step {i}/{n}: {text}")

            self.applied += await repeat(spec, self._once, progress)
        self.lab.mark_everywhere(f"scenario done: {self.applied} fault(s) applied")
        self.say(f"done: {n} step(s), {self.applied} fault(s) applied")
        return self.applied

    async def _once(self, spec: FaultSpec) -> None:
        if spec.kind == "proxy":
            routed = self.lab.network_faults()
            if not routed:
                raise DuplexError("No tab is routed through a fault proxy: tick 'Route this tab through a fault "
                                  "proxy' on the Faults page of each tab the network faults should hit.")
            await asyncio.gather(*(apply(spec) for apply in routed))
        elif spec.kind == "server":
            url, token = self.lab.lab_address()
            self.lab.mark_everywhere(await server_fault(url, token, spec) + " (scenario)")
        else:
            await self.lab.restart_lab(spec.duration, spec.keep_history)
