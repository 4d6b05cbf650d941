"""The counting TCP proxy of the tests: the independent measure of bytes on the wire.

It is Compare's own byte counter (transport/apps/byte_counter.py): it listens on 127.0.0.1:0, forwards every
connection to a target, and counts the TCP payload bytes in each direction, as a packet capture would. The
tests read ``upstream`` (client → server) and ``downstream``.
"""

from __future__ import annotations

from transport.apps.byte_counter import ByteCounter


class CountingProxy(ByteCounter):
    @property
    def upstream(self) -> int:
        return self.up

    @property
    def downstream(self) -> int:
        return self.down
