"""Socket.IO: Duplex's client against python-socketio's ``AsyncClient`` on the same lab feed.

``python -m tests.bench.sio_clients`` (its own process) starts a lab at rate 0, then, for each Engine.IO
transport (websocket, polling), connects one client at a time — python-socketio's ``AsyncClient`` with a
catch-all handler that counts the feed's events, or Duplex's ``SocketIOClient`` as the app wires it
(every packet decoded, an Event per message, the ledger) — asks the lab for a burst of BURST messages and
times this process's CPU until the client has them all. The lab, a process of its own, paces both alike;
rounds alternate which client goes first. Prints one JSON line: µs of client CPU per event (median of
ROUNDS) for each client and transport, and each client's wall-clock rate. Bounded: STEP_TIMEOUT per step.

python-engineio's client refuses a polling answer of more than 16 packets ("Too many packets in payload",
``Payload.max_decode_packets``: a guard its server applies to what clients post) and drops the connection;
an answer carries every packet queued since the last poll (python-engineio's own server does the same),
so a burst ends it. The bench raises that class attribute for the peer, as a user of that client would
have to; Duplex's client takes an answer of up to 100 000 packets.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402
from engineio import payload as eio_payload  # noqa: E402

from tests.bench.counted import Counted  # noqa: E402
from tests.helpers import start_lab  # noqa: E402
from transport.clients.lab_admin import post_fault  # noqa: E402
from transport.clients.socketio import SocketIOClient, SocketIOOptions  # noqa: E402
from transport.core.backoff import Policy  # noqa: E402
from transport.core.envelope import CONTROL_KINDS  # noqa: E402

BURST = 10_000
eio_payload.Payload.max_decode_packets = 2 * BURST
ROUNDS = 5
STEP_TIMEOUT = 60.0
MODES = ("websocket", "polling")


class Peer:
    """python-socketio's AsyncClient: a catch-all handler counting the feed's events (not the lab's
    control events: ``live``, ``gap``…, which Duplex's client does not count as messages either)."""

    name = "python-socketio AsyncClient"

    async def open(self, url: str, mode: str, counter: Counted) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", lambda event, *_args: None if event in CONTROL_KINDS else counter.count())
        await self.sio.connect(url, transports=[mode], wait_timeout=STEP_TIMEOUT)

    async def close(self) -> None:
        await self.sio.disconnect()


class Duplex:
    name = "duplex"

    async def open(self, url: str, mode: str, counter: Counted) -> None:
        class Sink:  # the bridge's shape: one call per event, or a list at once
            def __call__(self, event) -> None:
                if event.kind == "message" and event.direction == "in":
                    counter.count()
                elif event.kind == "live":
                    live.set()

            def many(self, events) -> None:
                for e in events:
                    self(e)

        live = asyncio.Event()
        self.client = SocketIOClient(SocketIOOptions(url, transports=mode, policy=Policy("fixed", 0.1), resume=False),
                                     Sink())
        self.task = asyncio.ensure_future(self.client.run())
        await asyncio.wait_for(live.wait(), STEP_TIMEOUT)

    async def close(self) -> None:
        await self.client.close()
        await asyncio.wait_for(self.task, STEP_TIMEOUT)


async def burst(lab, client, mode: str) -> tuple[float, float]:
    """(client CPU µs per event, events per second of wall clock) for one burst."""
    counter = Counted()
    counter.reset()
    await client.open(lab.url, mode, counter)
    try:
        await asyncio.sleep(0.2)  # the connection settles (its replay, the upgrade): not part of the measure
        counter.expect(BURST)  # before the burst: none of it is missed
        c0, t0 = time.process_time(), time.perf_counter()
        await post_fault(lab.url, lab.token, {"action": "burst", "count": BURST})
        async with asyncio.timeout(STEP_TIMEOUT):
            await counter.reached()
        return (time.process_time() - c0) / BURST * 1e6, BURST / (time.perf_counter() - t0)
    finally:
        await client.close()


async def main() -> dict:
    lab = start_lab(rate=0)
    out: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for mode in MODES:
            cpu: dict[str, list[float]] = {"duplex": [], "peer": []}
            rate: dict[str, list[float]] = {"duplex": [], "peer": []}
            for rnd in range(ROUNDS):
                order = (("duplex", Duplex()), ("peer", Peer()))
                for key, client in (order if rnd % 2 == 0 else order[::-1]):
                    us, per_s = await burst(lab, client, mode)
                    cpu[key].append(us)
                    rate[key].append(per_s)
            out[mode] = {key: {"cpu_us": statistics.median(cpu[key]), "rate": statistics.median(rate[key])}
                         for key in cpu}
    finally:
        lab.stop()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
