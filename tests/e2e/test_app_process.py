"""The whole app as a process: --smoke, and no orphan lab server when the GUI dies."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, wait_until

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def test_smoke_prints_the_time_to_first_message():
    res = subprocess.run([sys.executable, "main.py", "--smoke"], cwd=ROOT, env=ENV,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    line = json.loads(res.stdout.strip().splitlines()[-1])
    assert 0 < line["first_message_s"] < 20


def children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


@contextlib.asynccontextmanager
async def gui_with_lab(tmp_path):
    """The real app as a user starts it; yields the process and its lab child's pid."""
    gui = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL,
                           env={**ENV, "XDG_CONFIG_HOME": str(tmp_path), "TMPDIR": str(tmp_path)})  # a killed
    # GUI cannot remove its lab's history folder: it goes where the test's own files go
    try:
        def lab_child() -> int | None:  # between fork and exec the child still looks like the GUI
            for pid in children(gui.pid):
                try:
                    if "transport.server" in Path(f"/proc/{pid}/cmdline").read_text():
                        return pid
                except OSError:
                    pass
            return None

        await wait_until(lambda: lab_child() is not None, 20, "the lab child process")
        lab_pid = lab_child()
        yield gui, lab_pid
    finally:
        if gui.poll() is None:
            gui.kill()
            gui.wait(5)


linux_only = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")


@linux_only
async def test_killing_the_gui_leaves_no_lab_server_behind(tmp_path):
    async with gui_with_lab(tmp_path) as (gui, lab_pid):
        gui.send_signal(signal.SIGKILL)
        gui.wait(5)
        await wait_until(lambda: not alive(lab_pid), 10, "the orphaned lab server to exit")


@linux_only
async def test_sigterm_quits_the_app_cleanly_and_stops_the_lab(tmp_path):
    async with gui_with_lab(tmp_path) as (gui, lab_pid):
        gui.send_signal(signal.SIGTERM)  # a session logout, or Ctrl+C in a terminal
        assert gui.wait(10) == 0
        await wait_until(lambda: not alive(lab_pid), 10, "the lab server to exit")
