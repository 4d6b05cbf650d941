"""The Server tab's scenario runner, without widgets: its steps, running and stopping it, what it says."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject, Signal

from transport.apps.scenario import Lab, Scenario
from transport.core.faults import FaultSpec

from ..tasks import TaskGroup


class ScenarioController(QObject):
    stepsChanged = Signal(list)  # the steps' descriptions, numbered
    progress = Signal(str)  # the running step, or how the scenario ended
    runningChanged = Signal(bool)
    failed = Signal(str)  # the sentence of a scenario that could not go on

    def __init__(self, lab: Lab, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scenario = Scenario(lab, self.progress.emit)
        self._tasks = TaskGroup(self.failed.emit)
        self._run: asyncio.Task[None] | None = None

    @property
    def steps(self) -> list[FaultSpec]:
        return self.scenario.steps

    @property
    def running(self) -> bool:
        return self._run is not None and not self._run.done()

    def add(self, spec: FaultSpec) -> None:
        self.scenario.steps.append(spec)
        self._publish()

    def remove(self, row: int) -> None:
        """Remove step ``row`` (-1 or out of range: the last one)."""
        steps = self.scenario.steps
        if not steps:
            return
        del steps[row if 0 <= row < len(steps) else -1]
        self._publish()

    def _publish(self) -> None:
        self.stepsChanged.emit([f"{i}. {spec.describe()}" for i, spec in enumerate(self.scenario.steps, 1)])

    def run(self) -> None:
        if not self.running:
            self._run = self._tasks.spawn(self._run_scenario())

    async def _run_scenario(self) -> None:
        self.runningChanged.emit(True)
        try:
            await self.scenario.run()
        finally:
            self.runningChanged.emit(False)

    def stop(self) -> None:
        if self._run is not None and not self._run.done():
            self._run.cancel()  # a running fault undoes itself (its finally) as it is cancelled
            self.progress.emit("stopped")

    async def shutdown(self) -> None:
        await self._tasks.cancel_all()
