"""Locust users that are Duplex clients: a storm's users, with the ledger's proof per user.

This file is Locust's locustfile (``locust -f transport/loadtest/locustfile.py``; ``main.py
storm`` runs it). Importing it imports Locust, which patches the process with gevent: it is
loaded only in the storm's own processes, never in the GUI, pytest's process or the layering
test.

Each worker process runs one asyncio loop in a native thread (loop_thread.py); each Locust user
hands its Duplex client (built by the registry, with the same reconnect rules and ledger as the
tabs) to that loop. The client's rows come back to the greenlets through a deque, and become
Locust requests: ``connect`` (time to open), ``message`` (one-way latency from the lab's
timestamp, payload bytes), ``reconnect`` and ``gap`` (a failure: the server declared messages
lost). When the test stops, each worker closes its clients and sends the master every user's
ledger; the master adds them up (aggregate.py), writes the result and sets the exit code (0
only when nothing was lost or duplicated).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from typing import Any

import gevent
from locust import User, constant, events, task
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from transport.core.events import Event
from transport.loadtest.aggregate import UserLedger, aggregate
from transport.loadtest.control import endpoint
from transport.loadtest.loop_thread import LoopThread, wait
from transport.core.backoff import Policy
from transport.clients.registry import by_probe_name

log = logging.getLogger("duplex.storm")
# one line per client per reconnect attempt would flood a storm's terminal: Locust's statistics count them
logging.getLogger("duplex").setLevel(logging.ERROR)
STATUS_S = 1.0
CLOSE_S = 20.0  # closing every client of a worker at the end
LEDGERS_S = 30.0  # the master waits this long for the workers' ledgers
DRAIN_MAX = 50_000  # rows turned into Locust requests per drain (the rest: next turn)


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--duplex-transport", default="ws",
                        help="Duplex transport of the users: ws, sse, short_poll, long_poll, stream, socketio")
    parser.add_argument("--duplex-result", default="", help="the master writes the aggregated ledger here (JSON)")
    parser.add_argument("--duplex-status", action="store_true",
                        help="the master prints a JSON status line every second (users, connects/s, open, lost)")
    parser.add_argument("--duplex-poll-interval", type=float, default=1.0, help="short polling's interval (s)")
    parser.add_argument("--duplex-seq", default="auto", help="a server that is not the lab: its sequence rule")
    parser.add_argument("--duplex-resume", default="auto", help="a server that is not the lab: its resume rule")
    parser.add_argument("--duplex-duration", type=float, default=0.0,
                        help="stop after this many seconds from the start, collect every user's ledger, quit "
                             "(Locust's --run-time quits before the workers could send theirs)")


class Fleet:
    """This process's clients: one per Locust user, on the process's asyncio loop."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.thread = LoopThread()
        self.clients: dict[int, Any] = {}  # user id → client
        self.tasks: dict[int, Any] = {}  # user id → the client's run() future
        self.opens: dict[int, int] = {}
        self.started: dict[int, int] = {}  # user id → when its connect began (ns, the rows' clock)
        self._next = 0
        self.drainer: Any = None

    def start_user(self, environment: Any) -> int:
        self.thread.start()
        if self.drainer is None:
            self.drainer = gevent.spawn(self._drain_forever, environment)
        options = environment.parsed_options
        info = by_probe_name(options.duplex_transport)
        self._next += 1
        uid = self._next
        inbox = self.thread.inbox

        def sink(e: Event, uid: int = uid) -> None:  # on the loop's thread: a tuple, no work
            kind = e.kind
            if kind == "message" or kind == "open" or kind == "reconnect" or kind == "gap":
                inbox.append((uid, kind, e.t, e.latency_ms, e.size))

        url = endpoint(info, environment.host)
        policy = None if info.server_retry else Policy("exponential", 0.5, 5.0)
        client = info.make(url, sink, policy=policy, interval=options.duplex_poll_interval,
                           seq_rule=options.duplex_seq, resume_rule=options.duplex_resume)
        self.clients[uid] = client
        self.opens[uid] = 0
        self.started[uid] = time.monotonic_ns()
        self.tasks[uid] = self.thread.submit(client.run())
        return uid

    def _drain_forever(self, environment: Any) -> None:
        while True:
            self.drain(environment)
            gevent.sleep(0.05)

    def drain(self, environment: Any) -> None:
        inbox, fire = self.thread.inbox, environment.events.request.fire
        transport = environment.parsed_options.duplex_transport
        for _ in range(min(len(inbox), DRAIN_MAX)):
            uid, kind, t, latency, size = inbox.popleft()
            if kind == "message":
                fire(request_type=transport, name="message", response_time=latency or 0.0,
                     response_length=size or 0, exception=None, context={})
            elif kind == "open":
                self.opens[uid] = self.opens.get(uid, 0) + 1
                began = self.started.get(uid, t)
                fire(request_type=transport, name="connect", response_time=max(0.0, (t - began) / 1e6),
                     response_length=0, exception=None, context={})
            elif kind == "reconnect":
                self.started[uid] = t
                fire(request_type=transport, name="reconnect", response_time=0.0, response_length=0,
                     exception=None, context={})
            else:
                fire(request_type=transport, name="gap", response_time=0.0, response_length=0,
                     exception=RuntimeError("the server declared messages lost"), context={})

    def status(self) -> dict[str, int]:
        clients = list(self.clients.values())
        return {"open": sum(1 for c in clients if c.state == "open"),
                "lost": sum(c.ledger.lost for c in clients),
                "duplicated": sum(c.ledger.duplicated for c in clients),
                "opens": sum(self.opens.values())}

    def finish(self, environment: Any) -> list[dict[str, Any]]:
        """Close every client (bounded), then each user's ledger."""
        if not self.clients:
            return []
        clients = dict(self.clients)

        async def close_all() -> None:
            import asyncio
            await asyncio.gather(*(c.close() for c in clients.values()), return_exceptions=True)

        wait(self.thread.submit(close_all()), CLOSE_S)
        self.drain(environment)
        out = []
        for uid, client in clients.items():
            fut = self.tasks.get(uid)
            err = fut.result() if fut is not None and fut.done() and fut.exception() is None else None
            sentence = getattr(err, "sentence", "") if err is not None else ""
            out.append(UserLedger.of(client.ledger, self.opens.get(uid, 0), sentence).to_dict())
        self.clients.clear()
        self.tasks.clear()
        return out


_FLEET: Fleet | None = None


def fleet() -> Fleet:
    """This process's fleet (made after Locust forked its worker processes: threads do not survive a fork)."""
    global _FLEET
    if _FLEET is None or _FLEET.pid != os.getpid():
        _FLEET = Fleet()
    return _FLEET


class DuplexUser(User):
    """One Duplex client; the task only keeps the user alive (the client runs on the asyncio loop)."""

    wait_time = constant(1)
    # Locust needs a host: the storm command passes it (--host URL)

    def on_start(self) -> None:
        self.uid = fleet().start_user(self.environment)

    @task
    def watch(self) -> None:
        pass


# -- the master's side: status lines, the ledgers of every worker, the verdict ------------------------
class Master:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.ledgers: list[dict[str, Any]] = []
        self.reports = 0  # workers (or the local runner) that sent their ledgers
        self.status: dict[str, dict[str, int]] = {}
        self._opens_before = 0
        self._last_t = 0.0
        self.result: dict[str, Any] | None = None

    def on_ledgers(self, environment: Any, msg: Any, **_kw: Any) -> None:
        self.ledgers += msg.data["users"]
        self.reports += 1

    def on_status(self, environment: Any, msg: Any, **_kw: Any) -> None:
        self.status[msg.node_id] = msg.data

    def current(self, environment: Any) -> dict[str, Any]:
        """The storm now: users, connects per second (since the last call), open connections, lost."""
        opens = sum(s.get("opens", 0) for s in self.status.values())
        now = time.monotonic()
        elapsed = now - self._last_t if self._last_t else STATUS_S
        out = {
            "users": environment.runner.user_count if environment.runner else 0,
            "connects_per_s": round(max(0, opens - self._opens_before) / max(elapsed, 1e-3), 1),
            "open": sum(s.get("open", 0) for s in self.status.values()),
            "lost": sum(s.get("lost", 0) for s in self.status.values()),
            "duplicated": sum(s.get("duplicated", 0) for s in self.status.values()),
            "messages": environment.stats.get("message", environment.parsed_options.duplex_transport).num_requests,
        }
        self._opens_before, self._last_t = opens, now
        return out

    def snapshot(self, environment: Any) -> dict[str, Any]:
        """For the web route: the storm now and, once it stopped, the aggregated ledger."""
        return {"duplex_status": self.current(environment), "duplex_storm": self.result}

    def print_status_forever(self, environment: Any) -> None:
        while True:
            gevent.sleep(STATUS_S)
            print(json.dumps({"duplex_status": self.current(environment)}), flush=True)

    def wait_for_workers(self, workers: int) -> None:
        for _ in range(int(LEDGERS_S / 0.1)):
            if self.reports >= workers:
                return
            gevent.sleep(0.1)

    def finish(self, environment: Any) -> None:
        expected = getattr(environment.parsed_options, "num_users", None)
        self.result = aggregate([UserLedger.from_dict(d) for d in self.ledgers], expected)
        self.result["transport"] = environment.parsed_options.duplex_transport
        self.result["host"] = environment.host
        path = environment.parsed_options.duplex_result
        if path:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(self.result, f, indent=1, sort_keys=True)
        environment.process_exit_code = 0 if self.result["ok"] else 1


MASTER = Master()


@events.init.add_listener
def _init(environment: Any, **_kw: Any) -> None:
    _ENV[:] = [environment]
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message("duplex_ledgers", MASTER.on_ledgers)
        runner.register_message("duplex_status", MASTER.on_status)
    if isinstance(runner, (MasterRunner, LocalRunner)) and environment.parsed_options.duplex_status:
        gevent.spawn(MASTER.print_status_forever, environment)
    if isinstance(runner, (WorkerRunner, LocalRunner)):
        gevent.spawn(_report_status_forever, environment)
    if isinstance(runner, (MasterRunner, LocalRunner)):
        # SIGUSR1: end the storm now, the same way as at its duration (main.py storm sends it on Ctrl+C,
        # the GUI's Stop through it)
        gevent.signal_handler(signal.SIGUSR1, lambda: gevent.spawn(_end, environment))
    web = getattr(environment, "web_ui", None)
    if web is not None:  # a master the user started with its web UI: the GUI reads the storm here
        web.app.add_url_rule("/duplex/status", "duplex_status", lambda: MASTER.snapshot(environment))


def _report_status_forever(environment: Any) -> None:
    while True:
        gevent.sleep(STATUS_S)
        status = fleet().status()
        if isinstance(environment.runner, WorkerRunner):
            environment.runner.send_message("duplex_status", status)
        else:
            MASTER.status["local"] = status


@events.spawning_complete.add_listener
def _spawned(user_count: int, **_kw: Any) -> None:
    """Every user started: the storm's clock for its faults starts here (main.py storm reads this line)."""
    runner = _ENV[0].runner if _ENV else None
    if isinstance(runner, (MasterRunner, LocalRunner)):
        print(json.dumps({"duplex_spawned": user_count}), flush=True)


_ENV: list[Any] = []


@events.test_start.add_listener
def _test_start(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    duration = environment.parsed_options.duplex_duration
    if isinstance(runner, (MasterRunner, LocalRunner)):
        MASTER.reset()  # a new run on the same master (its web UI): nothing of the last one
        if duration > 0:
            gevent.spawn_later(duration, _end, environment)


def _end(environment: Any) -> None:
    """Stop the users (the workers close their clients and send their ledgers), add them up, quit."""
    runner = environment.runner
    runner.stop()  # on a master: returns when every worker stopped its users (bounded by Locust)
    if MASTER.result is None:
        MASTER.finish(environment)
    runner.quit()


@events.test_stop.add_listener
def _test_stop(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message("duplex_ledgers", {"users": fleet().finish(environment)})
    elif isinstance(runner, LocalRunner):
        MASTER.ledgers += fleet().finish(environment)
        MASTER.reports += 1
    if isinstance(runner, MasterRunner):
        MASTER.wait_for_workers(max(1, len(runner.clients)))
    if isinstance(runner, (MasterRunner, LocalRunner)) and MASTER.result is None:
        MASTER.finish(environment)


@events.quitting.add_listener
def _quitting(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, (MasterRunner, LocalRunner)):
        if MASTER.result is None:
            MASTER.finish(environment)
        environment.process_exit_code = 0 if MASTER.result and MASTER.result["ok"] else 1
