"""Child processes Duplex starts (Chromium, a storm's Locust): their own process group, ended with Duplex."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys


def own_group_dying_with_parent(sig: int = signal.SIGKILL) -> None:  # pragma: no cover (between fork and exec)
    """``preexec_fn``: a process group of its own (stopping it ends every process the child starts) and, on
    Linux, ``sig`` from the kernel when Duplex dies (``PR_SET_PDEATHSIG``)."""
    os.setsid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)


def end_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """``sig`` to the process group led by ``pid`` (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def free_port() -> int:
    """A loopback port free now, for a child process to listen on (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
