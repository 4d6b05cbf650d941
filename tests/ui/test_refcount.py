"""Regression: PySide6 6.12 on CPython 3.11 leaks references to None (DESIGN.md §9).

Each signal emit and each Python slot returning None dropped one reference to
None; after ~1 350 WebSocket round trips under qasync the interpreter aborted.
This drives a few thousand emits and qasync socket callbacks and checks that
the reference count of None does not fall.
"""

from __future__ import annotations

import asyncio
import socket
import sys

from PySide6.QtCore import QObject, Signal

ROUNDS = 3000


class Pinger(QObject):
    ping = Signal(object)


async def test_signal_emits_and_socket_callbacks_do_not_drop_none_references():
    loop = asyncio.get_running_loop()
    pinger = Pinger()
    got = []
    pinger.ping.connect(lambda value: got.append(value))
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    before = sys.getrefcount(None)
    try:
        for i in range(ROUNDS):
            pinger.ping.emit(None)
            await loop.sock_sendall(a, b"x")
            assert await loop.sock_recv(b, 1) == b"x"
    finally:
        a.close()
        b.close()
    after = sys.getrefcount(None)
    assert len(got) == ROUNDS
    assert after >= before - 100, f"None lost {before - after} references in {ROUNDS} rounds"
