"""``python -m transport.server``: serve the lab in the foreground.

The first line on stdout is one JSON object:
``{"event": "listening", "url": ..., "port": ..., "admin_token": ...}``; with ``--tls`` the ``url`` is
``https://`` and ``"tls": {"ca": PATH, "alpn": [...], "http1_url": ...}`` says which CA to trust
(tls_front.py).
SIGTERM or SIGINT ends it with exit code 0. With ``--watch-parent`` it also
exits when its parent dies (stdin reaches EOF, or the parent pid changes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from transport.server import logs
from transport.server.config import ServerConfig
from transport.server.keys import FEED
from transport.server.faultproxy import is_loopback_host
from transport.server.parent_watch import watch_parent
from transport.server.runner import LabRunner
from transport.server.tls_front import FrontError, TlsLab

log = logging.getLogger("duplex.server")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m transport.server", description="Duplex lab server")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1 only)")
    p.add_argument("--port", type=int, default=0, help="port (0: the OS picks one)")
    p.add_argument("--rate", type=float, default=5.0, help="feed messages per second (0: no ticker)")
    p.add_argument("--history", type=int, default=10_000, help="messages kept for resume (default 10000)")
    p.add_argument("--history-bytes", type=int, default=64 << 20, metavar="BYTES",
                   help="…and at most this many bytes of them: the oldest go first (default 64 MiB)")
    p.add_argument("--history-file", metavar="PATH",
                   help="keep the history in this file: a killed and restarted lab resumes its seq and history")
    p.add_argument("--max-size", type=int, default=1 << 20, metavar="BYTES",
                   help="largest message or request body accepted, on every publish path; larger gets 413, "
                        "or 1009 on /ws (default 1 MiB)")
    p.add_argument("--sse-retry", type=int, default=1000, metavar="MS",
                   help="reconnection time /sse asks for, in milliseconds")
    p.add_argument("--sse-heartbeat", type=float, default=5.0, metavar="S",
                   help="seconds between ': ping' comments on /sse")
    p.add_argument("--heartbeat", type=float, metavar="S",
                   help="every transport's heartbeat: SSE comments, NDJSON newlines, WebSocket and Socket.IO "
                        "pings, every S seconds; 0: none (Socket.IO keeps its own 25 s: its clients need pings)")
    p.add_argument("--accel-buffering", choices=("on", "off"), default="on",
                   help="send 'X-Accel-Buffering: no' on streamed answers so nginx passes each event at once "
                        "(default on); off shows a buffering proxy's effect")
    p.add_argument("--session-idle", type=float, default=60.0, metavar="S",
                   help="seconds without a renewing request before a session expires")
    p.add_argument("--session-absolute", type=float, default=900.0, metavar="S",
                   help="seconds after login when a session expires regardless")
    p.add_argument("--session-renew", choices=("user", "all"), default="user",
                   help="which requests renew a session: user actions only, or background traffic too")
    p.add_argument("--allow-origin", action="append", default=[], help="extra Origin allowed on /ws")
    p.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                   help="event loop (auto: uvloop where installed)")
    p.add_argument("--header-timeout", type=float, default=15.0, metavar="S",
                   help="close a connection whose request head is not complete within S seconds, or that stays "
                        "idle that long (default 15)")
    p.add_argument("--watch-parent", action="store_true", help="exit when the parent process dies")
    tls = p.add_argument_group("TLS (needs HAProxy)")
    tls.add_argument("--tls", action="store_true",
                     help="serve the lab over HTTPS and WSS through HAProxy, with ALPN h2 and http/1.1 and a "
                          "throwaway CA made for this run (its path: the first line's tls.ca)")
    tls.add_argument("--http1", action="store_true", help="with --tls: offer only http/1.1 (no HTTP/2)")
    tls.add_argument("--tls-folder", help=argparse.SUPPRESS)  # the window's: the CA kept across its restarts
    cluster = p.add_argument_group("cluster mode (needs Redis and HAProxy)")
    cluster.add_argument("--cluster", type=int, default=0, metavar="N",
                         help="N lab workers behind HAProxy, their feed on Redis (--port: the balancer's)")
    cluster.add_argument("--balance", choices=("roundrobin", "cookie", "source"), default="roundrobin",
                         help="how HAProxy spreads clients: round robin, sticky by a cookie, or by source address")
    cluster.add_argument("--sessions", choices=("shared", "local"), default="shared",
                         help="sessions in Redis (any worker serves any session) or in each worker's memory")
    cluster.add_argument("--redis", metavar="URL", help="a running Redis to use (default: Duplex starts one)")
    cluster.add_argument("--worker-id", default="", help=argparse.SUPPRESS)
    cluster.add_argument("--public-port", type=int, action="append", default=[], help=argparse.SUPPRESS)
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error("--port must be 0..65535")
    if args.sse_retry < 0 or args.sse_heartbeat <= 0:
        p.error("--sse-retry >= 0 and --sse-heartbeat > 0 are required")
    if args.heartbeat is not None and not 0 <= args.heartbeat <= 3600:
        p.error("--heartbeat takes 0 (none) to 3600 seconds")
    if args.header_timeout <= 0:
        p.error("--header-timeout must be > 0")
    if args.session_idle <= 0 or args.session_absolute <= 0:
        p.error("--session-idle and --session-absolute must be > 0")
    if args.http1 and not args.tls:
        p.error("--http1 says which protocols the TLS front offers: add --tls")
    if args.cluster < 0 or args.cluster > 64:
        p.error("--cluster takes 1 to 64 workers")
    if args.history_file and (args.cluster or args.redis):
        p.error("--history-file is for one process; in cluster mode the history is the stream on Redis")
    if args.rate < 0 or args.history < 1 or args.max_size < 1024 or args.history_bytes < args.max_size:
        p.error("--rate >= 0, --history >= 1, --max-size >= 1024 and --history-bytes >= --max-size are required")
    return args


def worker_args(args: argparse.Namespace) -> list[str]:
    """What every cluster worker is started with, from the cluster's own options."""
    return ["--history", str(args.history), "--history-bytes", str(args.history_bytes), "--max-size",
            str(args.max_size), "--sse-retry", str(args.sse_retry), "--sse-heartbeat", str(args.sse_heartbeat),
            "--session-idle", str(args.session_idle), "--session-absolute", str(args.session_absolute),
            "--session-renew", args.session_renew, "--header-timeout", str(args.header_timeout),
            "--loop", args.loop, "--log-level", args.log_level, "--accel-buffering", args.accel_buffering,
            *(["--heartbeat", str(args.heartbeat)] if args.heartbeat is not None else []),
            *(f"--allow-origin={o}" for o in args.allow_origin)]


async def serve(args: argparse.Namespace) -> int:
    if args.cluster:
        from transport.server.cluster import run_cluster
        return await run_cluster(args, worker_args(args))
    token = os.environ.get("DUPLEX_ADMIN_TOKEN") if args.worker_id else None  # a cluster's workers share one
    front: TlsLab | None = None
    if args.tls:
        try:
            front = TlsLab.prepare(args)
        except FrontError as exc:
            print(json.dumps({"event": "error", "error": str(exc)}), flush=True)
            return 1
        args.public_port = [*args.public_port, front.port, front.http1_port]
    config = ServerConfig(host="127.0.0.1" if front else args.host, port=0 if front else args.port, rate=args.rate, history=args.history,
                          history_bytes=args.history_bytes, header_timeout=args.header_timeout,
                          history_file=args.history_file,
                          max_msg_size=args.max_size,
                          sse_retry_ms=args.sse_retry, sse_heartbeat=args.sse_heartbeat,
                          session_idle=args.session_idle, session_absolute=args.session_absolute,
                          session_renew_background=args.session_renew == "all", allowed_origins=tuple(args.allow_origin),
                          worker_id=args.worker_id, redis_url=args.redis, public_ports=tuple(args.public_port),
                          sessions_shared=args.sessions == "shared", accel_buffering=args.accel_buffering == "on")
    if args.heartbeat is not None:
        config.set_heartbeat(args.heartbeat)
    if token:
        config.admin_token = token
    try:
        runner = LabRunner(config)
    except OSError as exc:
        print(json.dumps({"event": "error", "error": f"cannot use the history file {args.history_file}: "
                                                     f"{exc.strerror or exc}"}), flush=True)
        return 1
    try:
        await runner.start()
    except OSError as exc:
        print(json.dumps({"event": "error", "error": f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"}),
              flush=True)
        if front is not None:
            front.remove()
        return 1
    if front is not None:
        try:
            await front.start(runner.port)
        except FrontError as exc:
            print(json.dumps({"event": "error", "error": str(exc)}), flush=True)
            await runner.stop()
            await front.stop()
            return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    if args.watch_parent:
        watch_parent(loop, stop)
    feed = runner.app[FEED]
    if not is_loopback_host(args.host):
        exposed = "every address of this machine" if args.host in ("0.0.0.0", "", "::") else args.host
        print(f"warning: the lab listens on {exposed} (--host {args.host}), not on loopback only: other "
              "machines can reach its feed, sessions and fault proxies (the admin API still needs the token)",
              file=sys.stderr, flush=True)
    said = {"event": "listening", "url": runner.url, "port": runner.port,
            "admin_token": config.admin_token, "last_seq": feed.last_seq, "loaded": feed.loaded,
            "history": feed.journal.report.to_json() if feed.journal is not None else None,
            "loop": type(loop).__module__.split(".")[0]}
    if front is not None:
        said.update(front.announce(), plain_port=runner.port)
    print(json.dumps(said), flush=True)
    log.info("lab server on %s (rate %.1f/s)", said["url"], config.rate)
    await stop.wait()
    await runner.stop()
    if front is not None:
        await front.stop()
    return 0


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logs.install()
    if args.loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if args.loop == "uvloop":
                print("uvloop is not installed", file=sys.stderr)
                return 2
        else:
            return uvloop.run(serve(args))
    return asyncio.run(serve(args))


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
