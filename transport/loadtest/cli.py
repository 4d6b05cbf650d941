"""``main.py storm URL --transport T --users N …``: a storm on Locust, headless, on this machine.

It runs Locust (master plus ``--workers`` local worker processes: Locust's own ``--processes``)
as a child process with Duplex's locustfile, lets Locust print its summary, runs the faults asked
for during the storm through the lab's admin API (a restart, a reset through the fault proxy),
then prints the aggregated ledger as one JSON line and exits 0 only when every user received
messages and nothing was lost or duplicated. This process never imports Locust.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from transport.core.child_process import end_group, free_port, own_group_dying_with_parent
from transport.core.errors import DuplexError
from transport.clients.lab_admin import admin_call, post_fault
from transport.clients.registry import PROBE_NAMES, by_probe_name
from transport.core.sequence import RuleError, parse_resume, parse_seq
from transport.core.urls import split_url
from transport.loadtest.control import endpoint, locust_missing

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
PROXY_NAME = "duplex-storm"
STORM_TRANSPORTS = tuple(name for name in PROBE_NAMES if name != "browser")
GRACE_S = 60.0  # past the duration: ramp-up, closing and the ledgers' trip to the master


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        print(f"storm: {message}", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = _Parser(prog="main.py storm", description="A reconnect storm on Locust, with each user's ledger.")
    p.add_argument("url", help="the server's address (the lab: http://127.0.0.1:PORT) or an endpoint's URL")
    p.add_argument("--transport", default="ws", choices=STORM_TRANSPORTS)
    p.add_argument("--users", type=int, default=100, help="Locust users, one Duplex client each")
    p.add_argument("--spawn-rate", type=float, default=100.0, help="users started per second")
    p.add_argument("--duration", type=float, default=30.0, help="seconds, from the start")
    p.add_argument("--workers", type=int, default=2,
                   help="local worker processes (Locust's --processes; 0: one process, no workers)")
    p.add_argument("--admin-token", default=os.environ.get("DUPLEX_ADMIN_TOKEN", ""),
                   help="the lab's admin token, for faults (default: $DUPLEX_ADMIN_TOKEN)")
    p.add_argument("--restart-at", type=float, default=None, metavar="S",
                   help="restart the lab S seconds after every user was started (needs the admin token)")
    p.add_argument("--down", type=float, default=1.0, metavar="S",
                   help="how long a restart keeps the lab down, or a reset keeps resetting")
    p.add_argument("--through-proxy", action="store_true",
                   help="users connect through a fault proxy of the lab (needs the admin token)")
    p.add_argument("--reset-peer-at", type=float, default=None, metavar="S",
                   help="reset every user's connection at the proxy S seconds in (implies --through-proxy)")
    p.add_argument("--evict-history-at", type=float, default=None, metavar="S",
                   help="make the lab forget its history S seconds in (resume points become a declared gap)")
    p.add_argument("--poll-interval", type=float, default=1.0, help="short polling's interval (s)")
    p.add_argument("--status", action="store_true", help="print a JSON status line every second")
    p.add_argument("--seq", default="auto", metavar="SPEC",
                   help="a server that is not the lab: how its messages are numbered (as probe's --seq)")
    p.add_argument("--resume", default="auto", metavar="SPEC",
                   help="a server that is not the lab: how a reconnect resumes (as probe's --resume)")
    p.add_argument("--locust-arg", action="append", default=[], metavar="ARG",
                   help="one more argument for Locust, as is (repeatable)")
    args = p.parse_args(argv)
    for name in ("spawn_rate", "duration", "restart_at", "down", "reset_peer_at", "evict_history_at",
                 "poll_interval"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            p.error(f"--{name.replace('_', '-')} must be a finite number, not {value}")
    if args.users < 1 or args.spawn_rate <= 0 or args.duration <= 0 or args.workers < 0:
        p.error("need --users >= 1, --spawn-rate > 0, --duration > 0 and --workers >= 0")
    if args.reset_peer_at is not None:
        args.through_proxy = True
    if (args.restart_at is not None or args.through_proxy or args.evict_history_at is not None) \
            and not args.admin_token:
        p.error("faults during the storm need the lab's admin token (--admin-token or $DUPLEX_ADMIN_TOKEN)")
    try:
        parse_seq(args.seq)
        parse_resume(args.resume, PROBE_NAMES.get(args.transport, args.transport))
    except RuleError as exc:
        p.error(str(exc))
    try:
        parts = split_url(args.url)[0]
    except ValueError as exc:
        p.error(str(exc))
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        p.error(f"{args.url!r} is not an http(s):// or ws(s):// URL")
    return args


def base_of(url: str) -> str:
    """The server's own address (http://host:port) of a URL: where its admin API is."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme in ("https", "wss") else "http"
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def with_netloc(url: str, netloc: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def locust_command(args: argparse.Namespace, host: str, result: str) -> list[str]:
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--users", str(args.users),
           "--spawn-rate", f"{args.spawn_rate:g}", "--duplex-duration", f"{args.duration:g}", "--host", host,
           "--duplex-transport", args.transport, "--duplex-result", result,
           "--duplex-poll-interval", f"{args.poll_interval:g}", f"--duplex-seq={args.seq}",
           f"--duplex-resume={args.resume}", "--only-summary", "--loglevel", "WARNING"]
    if args.workers:
        # the master on loopback, on a port of its own chosen now (Locust's default *:5557 let anyone on the
        # network join as a worker, and two storms on one machine joined each other's): the forked workers
        # connect to --master-port, so it is named twice
        port = str(free_port())
        cmd += ["--processes", str(args.workers), "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                "--master-port", port]
    if args.status:
        cmd.append("--duplex-status")
    return cmd + list(args.locust_arg)


async def _proxy(base: str, token: str) -> str:
    """A fault proxy of the lab in front of the lab itself; its listening host:port."""
    await admin_call(base, token, "DELETE", f"/proxies/{PROXY_NAME}")
    upstream = urlsplit(base).netloc
    status, answer = await admin_call(base, token, "POST", "/proxies",
                                      {"name": PROXY_NAME, "listen": "127.0.0.1:0", "upstream": upstream})
    if status != 201 or not isinstance(answer, dict):
        raise DuplexError(f"The lab did not make a fault proxy: HTTP {status} {answer}")
    return str(answer["listen"])


async def _faults(args: argparse.Namespace, base: str, said: list[str]) -> None:
    """The faults asked for, each at its own time (the storm's clock starts with Locust)."""
    plan: list[tuple[float, str]] = []
    if args.evict_history_at is not None:
        plan.append((args.evict_history_at, "evict_history"))
    if args.restart_at is not None:
        plan.append((args.restart_at, "restart"))
    if args.reset_peer_at is not None:
        plan.append((args.reset_peer_at, "reset_peer"))
    await asyncio.gather(*(_fault(args, base, at, what, said) for at, what in plan))


async def _fault(args: argparse.Namespace, base: str, at: float, what: str, said: list[str]) -> None:
    await asyncio.sleep(at)  # the storm's schedule, not a wait for a condition
    try:
        if what == "restart":
            await post_fault(base, args.admin_token, {"action": "restart", "down_s": args.down})
        elif what == "evict_history":
            await post_fault(base, args.admin_token, {"action": "evict_history"})
        else:
            path = f"/proxies/{PROXY_NAME}/toxics"
            await admin_call(base, args.admin_token, "POST", path,
                             {"name": "storm_reset", "type": "reset_peer", "stream": "downstream",
                              "attributes": {"timeout": 0}})
            await asyncio.sleep(args.down)  # the reset lasts --down seconds: every connection meets it
            await admin_call(base, args.admin_token, "DELETE", f"{path}/storm_reset")
        sentence = f"{what} at {at:g} s"
    except DuplexError as exc:
        sentence = f"{what} at {at:g} s failed: {exc.sentence}"
    said.append(sentence)
    print(f"storm: {sentence}", file=sys.stderr, flush=True)


async def storm(args: argparse.Namespace) -> tuple[int, dict[str, Any] | None, str]:
    missing = locust_missing()
    if missing:
        return 1, None, missing
    base = base_of(args.url)
    host = args.url
    if args.through_proxy:
        listen = await _proxy(base, args.admin_token)
        host = with_netloc(args.url, listen)
    info = by_probe_name(args.transport)
    info.validate(endpoint(info, host))
    with tempfile.TemporaryDirectory(prefix="duplex-storm-") as folder:
        result_path = str(Path(folder) / "ledger.json")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep)}
        # stop early (Ctrl+C, the GUI's Stop): Locust ends the storm as at its duration, ledgers collected.
        # The handlers are in place before Locust starts, so a stop can never leave it running alone.
        early: list[int] = []
        started: list[int] = []
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: _ask_to_end(started[0]) if started else early.append(1))
        proc = await asyncio.create_subprocess_exec(*locust_command(args, host, result_path), cwd=str(ROOT), env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                    limit=1 << 20,
                                                    preexec_fn=partial(own_group_dying_with_parent, signal.SIGTERM))
        started.append(proc.pid)
        if early:
            _ask_to_end(proc.pid)
        said: list[str] = []
        faults: list[asyncio.Task] = []

        async def relay() -> None:
            """Locust's stdout to ours (status lines when asked); the faults' clock starts when every user
            was started (Locust's startup and the spawn do not eat into the schedule)."""
            assert proc.stdout is not None
            while line := await proc.stdout.readline():
                if line.startswith(b'{"duplex_spawned"'):
                    if not faults:
                        faults.append(asyncio.create_task(_faults(args, base, said)))
                    continue
                if line.startswith(b'{"duplex_status"') and not args.status:
                    continue
                sys.stdout.buffer.write(line)
                sys.stdout.flush()

        tail = bytearray()  # the end of Locust's stderr: its own reason when it fails

        async def relay_errors() -> None:
            assert proc.stderr is not None
            while chunk := await proc.stderr.read(65536):
                sys.stderr.buffer.write(chunk)
                sys.stderr.flush()
                tail.extend(chunk)
                del tail[:-STDERR_KEEP]

        async def run() -> int:
            await asyncio.gather(relay(), relay_errors())
            return await proc.wait()

        try:
            code = await asyncio.wait_for(run(), args.duration + GRACE_S)
        except TimeoutError:
            end_group(proc.pid)
            await proc.wait()
            return 1, None, f"Locust did not finish within {args.duration + GRACE_S:g} s; stopped."
        finally:
            end_group(proc.pid)  # a worker Locust left behind, if any
            for task in faults:
                task.cancel()
            await asyncio.gather(*faults, return_exceptions=True)
            if args.through_proxy:
                try:
                    await admin_call(base, args.admin_token, "DELETE", f"/proxies/{PROXY_NAME}")
                except DuplexError:
                    pass
        try:
            result = json.loads(Path(result_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            why = locust_reason(bytes(tail))
            return 1, None, f"Locust ended (exit {code}) without the aggregated ledger" + (f": {why}" if why else ".")
    result["faults"] = said
    if not result.get("ok"):
        return 1, result, result.get("verdict", "the ledger does not hold")
    return 0, result, ""


STDERR_KEEP = 8192


def locust_reason(stderr: bytes) -> str:
    """Locust's own reason for failing, from the end of its stderr: the last line that names an error (a
    traceback's last line), else its last line."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line or "Exception" in line or "refused" in line:
            return line[:300]
    return lines[-1][:300] if lines else ""


def _ask_to_end(pid: int) -> None:
    print("storm: stopping; collecting every user's ledger", file=sys.stderr, flush=True)
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        code, result, reason = asyncio.run(storm(args))
    except DuplexError as exc:
        print(f"storm: {exc.sentence}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if result is not None:
        print(json.dumps({"duplex_storm": result}, sort_keys=True), flush=True)
    if reason:
        print(f"storm: {reason}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
