"""Test setup: headless Qt, the qasync loop for Qt tests, the lab process fixture."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers import LabProcess, start_lab  # noqa: E402

QT_DIRS = ("tests/ui", "tests/e2e")


def _needs_qt(item: pytest.Item) -> bool:
    path = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
    return path.startswith(QT_DIRS)


def _qasync_loop() -> asyncio.AbstractEventLoop:
    import qasync
    from PySide6.QtWidgets import QApplication

    return qasync.QEventLoop(QApplication.instance() or QApplication([]))


def pytest_asyncio_loop_factories(config, item):
    """Qt tests run on a qasync loop (DESIGN.md §8); pure tests on plain asyncio."""
    if _needs_qt(item):
        return {"qasync": _qasync_loop}
    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture
def lab() -> LabProcess:
    proc = start_lab(rate=50)
    try:
        yield proc
    finally:
        proc.stop()
