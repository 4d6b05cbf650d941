"""The suite leaves nothing behind: a session-end check (in pytest's controlling process) that fails the run
when a file or folder the run made is still in the temporary directory, or when a process the suite
started outlives it.

Processes: the controlling process becomes a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``), so any
descendant orphaned during the run — a lab whose test forgot it, a browser, a storm's worker — is
reparented to it instead of to init, and is found among its children at the end (pytest-xdist's own
workers excepted). Files: the temporary directory's entries at the start are remembered; any new one at
the end is a leftover when the directory is the suite's own (``make test``: ``duplex-tests-*``; in a
shared ``/tmp``, only new ``duplex-*`` entries, never another program's files), and pytest's own basetemp
must hold no file (``tmp_path_retention_policy = "failed"`` removes a passing test's folder when it ends;
a failed test's stays, named here). Leftovers are named and removed (so the next run starts clean), and
fail the run.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

PR_SET_CHILD_SUBREAPER = 36
OWN_TMP_PREFIX = "duplex-tests-"  # make test's own temporary folder (Makefile): everything new in it is ours
WAIT_S = 10.0  # how long the end waits for the suite's children that are still ending


def _controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")  # pytest-xdist's workers carry their input


def pytest_configure(config: pytest.Config) -> None:
    if not _controller(config):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    tmp = Path(tempfile.gettempdir())
    config.stash[_BEFORE] = set(os.listdir(tmp))


_BEFORE = pytest.StashKey[set]()


def _children() -> list[tuple[int, str, str]]:
    """This process's children: (pid, state, command line)."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == me:
            found.append((int(name), fields[0], cmd.strip()))
    return found


def _ours(cmd: str) -> bool:
    """pytest-xdist's worker processes (execnet's popen gateways): they end with the session."""
    return "execnet" in cmd or "sys.stdin.readline" in cmd


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not _controller(config) or _BEFORE not in config.stash:
        return
    said: list[str] = []
    deadline = time.monotonic() + WAIT_S
    left: list[tuple[int, str, str]] = []
    while True:  # children still ending (a lab's SIGTERM, a browser closing) get a bounded while
        _reap()
        left = [c for c in _children() if c[1] != "Z" and not _ours(c[2])]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # a bounded wait on the condition (children ended), in a synchronous hook
    for pid, _state, cmd in left:
        said.append(f"process {pid} outlived the suite: {cmd[:200]}")
        try:
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    _reap()
    tmp = Path(tempfile.gettempdir())
    basetemp = config.option.basetemp
    keep = {Path(basetemp).name} if basetemp else set()
    new = sorted(set(os.listdir(tmp)) - config.stash[_BEFORE] - keep)
    new = [n for n in new if not n.startswith(("pytest-of-", "pymp-"))]  # pytest's and multiprocessing's own
    if not tmp.name.startswith(OWN_TMP_PREFIX):  # a shared /tmp (pytest run by hand): other programs write
        new = [n for n in new if n.startswith("duplex-")]  # there too; only what is surely ours is judged
    files: list[str] = []
    for name in new:
        files.append(f"left in {tmp}: {name}")
        target = tmp / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
    if basetemp and Path(basetemp).is_dir():  # pytest's own: a passing test's tmp_path is removed when it
        # ends (tmp_path_retention_policy = "failed"); a file still there is a failed test's or made outside one
        for path in sorted(Path(basetemp).rglob("*")):
            if not path.is_dir():
                files.append(f"left in pytest's basetemp: {path.relative_to(basetemp)}")
        shutil.rmtree(basetemp, ignore_errors=True)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if said or files:
        text = "The suite left things behind (removed now):\n  " + "\n  ".join(said + files)
        if reporter is not None:
            reporter.write_line(text, red=True)
    if said or files:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
