"""``python -m transport.server --cluster N``: N lab workers behind HAProxy, their feed on Redis.

The supervisor starts, each in a process group of its own and never left running:
- Redis (Debian's ``redis-server``) on a free loopback port with a throwaway data folder, unless the
  user names one (``--redis URL``), flushed of Duplex's keys;
- N workers (``python -m transport.server --worker-id wI --redis URL …``), the first one setting the
  feed's rate; each reads the stream and serves its own clients (backplane.py);
- HAProxy (Debian's ``haproxy``) with a configuration generated here: round robin, sticky by a
  cookie, or by source address; switched at run time by a reload (``-sf``: the old process finishes
  its connections).

The first stdout line is JSON as in single-process mode, ``url`` being the balancer's, plus
``workers`` (each one's ``id``, ``pid``, ``port``) and ``redis``. Actions reach it through Redis
(the admin API's ``kill_worker``, ``restart_worker`` and ``balance``, which any worker forwards).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from transport.core import announce
from transport.core.child_process import end_group, free_port, own_group_dying_with_parent
from transport.server.parent_watch import watch_parent
from transport.core import certs
from transport.core.certs import LabCerts
from transport.server.tls_front import (FrontError, alpn_for, haproxy_maxconn, https_url, launch_haproxy,
                                       tls_bind, tls_said)
from transport.server.backplane import EPOCH, LEADER, RATE, SEQ, STREAM, SUPERVISOR, actions

log = logging.getLogger("duplex.server.cluster")

BALANCES = ("roundrobin", "cookie", "source")
START_S = 20.0  # a worker, Redis or HAProxy that is not up by then: the cluster says so and stops
REDIS_NOT_FOUND = ("Cluster mode needs Redis: install it (Debian: apt install redis-server) or name a running one "
                   "with --redis redis://HOST:PORT.")
HAPROXY_NOT_FOUND = "Cluster mode needs HAProxy: install it (Debian: apt install haproxy)."
# with --tls the front is HAProxy's either way


class ClusterError(Exception):
    """One sentence: what is missing or did not start."""


@dataclass
class Worker:
    id: str
    proc: asyncio.subprocess.Process | None = None
    port: int = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "pid": self.pid, "port": self.port,
                "alive": self.proc is not None and self.proc.returncode is None}


@dataclass
class Cluster:
    n: int
    worker_args: list[str]
    rate: float
    balance: str = "roundrobin"
    sessions: str = "shared"
    redis_url: str = ""
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="duplex-cluster-")))
    port: int = 0  # the balancer's
    workers: list[Worker] = field(default_factory=list)
    _redis_proc: asyncio.subprocess.Process | None = None
    _haproxy: asyncio.subprocess.Process | None = None
    _stopping: bool = False
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)  # the readers of children's output, reapers
    _sock_dir: Path | None = None  # HAProxy's socket, when the folder's path is too long for one
    tls: LabCerts | None = None  # --tls: the balancer is the TLS and HTTP/2 front too (tls_front.py)
    alpn: tuple[str, ...] = ("h2", "http/1.1")
    http1_port: int = 0

    def _own(self, coro: Any) -> None:
        """A task of the supervisor's: cancelled by stop()."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- start ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.redis_url:
            await self._start_redis()
        await self._reset_keys()
        self.port = self.port or free_port()
        if self.tls is not None:
            self.http1_port = self.http1_port or free_port()
        self.workers = [Worker(f"w{i + 1}") for i in range(self.n)]
        await asyncio.gather(*(self._start_worker(w, first=i == 0) for i, w in enumerate(self.workers)))
        await self._start_haproxy()

    async def _start_redis(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ClusterError(REDIS_NOT_FOUND)
        port = port or free_port()
        data = self.folder / "redis"
        data.mkdir(exist_ok=True)
        self._redis_proc = await asyncio.create_subprocess_exec(
            binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(data), "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=own_group_dying_with_parent)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        client = aioredis.from_url(self.redis_url)
        try:
            for _ in range(int(START_S / 0.05)):
                try:
                    if await client.ping():
                        return
                except (aioredis.RedisError, OSError):
                    pass
                if self._redis_proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)  # polling a port that is not open yet: bounded
        finally:
            await client.aclose()
        raise ClusterError(f"Redis did not start on 127.0.0.1:{port}.")

    async def watch_redis(self) -> None:
        """The Redis Duplex started, restarted on its port when it ends while the cluster runs (it comes back
        empty: the workers take a new numbering, declared to resuming clients), or said when it cannot be."""
        while self._redis_proc is not None:
            proc = self._redis_proc
            code = await proc.wait()
            if self._stopping or proc is not self._redis_proc:
                return
            port = int(self.redis_url.rsplit(":", 1)[1].split("/")[0])
            said = f"Redis ended (exit {code}): restarted on 127.0.0.1:{port}, empty: a new numbering"
            try:
                await self._start_redis(port)
            except ClusterError as exc:
                said = f"Redis ended (exit {code}) and could not be restarted: {exc}"
                self._redis_proc = None
            print(json.dumps({"event": "cluster", "action": "redis", "said": said,
                              "workers": [w.to_json() for w in self.workers], "balance": self.balance}), flush=True)

    async def _reset_keys(self) -> None:
        client = aioredis.from_url(self.redis_url)
        try:
            await client.delete(STREAM, SEQ, EPOCH, RATE, LEADER, *(await client.keys("duplex:session:*")),
                                *(await client.keys("duplex:value:*")))
        except (aioredis.RedisError, OSError) as exc:
            raise ClusterError(f"Redis at {self.redis_url} cannot be used: {exc}.") from None
        finally:
            await client.aclose()

    async def _start_worker(self, w: Worker, first: bool) -> None:
        env = {**os.environ, "DUPLEX_ADMIN_TOKEN": self.admin_token}
        public = [str(self.port)] + ([str(self.http1_port)] if self.tls is not None else [])
        cmd = [sys.executable, "-m", "transport.server", "--port", "0", "--worker-id", w.id, "--redis", self.redis_url,
               *(f"--public-port={p}" for p in public), "--sessions", self.sessions,
               "--rate", str(self.rate if first else 0), "--watch-parent", *self.worker_args]
        w.proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE, env=env,
                                                      preexec_fn=own_group_dying_with_parent)
        assert w.proc.stdout is not None
        try:
            said = announce.parse(await asyncio.wait_for(w.proc.stdout.readline(), START_S))
            if said is None or said.event != "listening":
                raise ValueError(said.error if said is not None and said.error else "no announce line")
            w.port = said.port
        except (TimeoutError, ValueError) as exc:
            raise ClusterError(f"lab worker {w.id} did not start ({exc or 'no answer'}).") from None
        self._own(_drain(w.proc.stdout))

    # -- the balancer ----------------------------------------------------------------------------
    @property
    def sock(self) -> Path:
        """HAProxy's runtime socket: in the cluster's folder, or in a short folder of its own when that path would
        pass the 107 bytes a Unix socket's path may have (a deep TMPDIR)."""
        path = self.folder / "haproxy.sock"
        if len(os.fsencode(path)) < 100:
            return path
        if self._sock_dir is None:
            self._sock_dir = Path(tempfile.mkdtemp(prefix="duplex-hap-", dir="/tmp"))
        return self._sock_dir / "haproxy.sock"

    def haproxy_config(self) -> str:
        servers, plain = [], []
        for w in self.workers:
            cookie = f" cookie {w.id}" if self.balance == "cookie" else ""
            plain.append(f"  server {w.id} 127.0.0.1:{w.port} check inter 500 fall 3 rise 1"
                         f" on-marked-down shutdown-sessions")
            servers.append(plain[-1] + cookie)
        balance = "source" if self.balance == "source" else "roundrobin"
        sticky = "  cookie DUPLEX_NODE insert indirect nocache httponly\n" if self.balance == "cookie" else ""
        maxconn = haproxy_maxconn()
        return f"""global
  maxconn {maxconn}
  stats socket {self.sock} mode 600 level admin
defaults
  mode http
  option http-no-delay
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout http-request 15s
  timeout check 2s
  timeout client-fin 2s
  timeout server-fin 2s
frontend lab
{self._binds()}
  # the fault proxies live in one worker's process: every request about them goes to the same worker (the
  # first one up), or a toxic would be added on one worker and looked for on another
  acl proxies path_beg /_admin/proxies /_admin/reset /_admin/version
  use_backend proxies if proxies
  default_backend workers
backend proxies
  balance first
  option httpchk GET /
  http-check expect status 200
{chr(10).join(plain)}
backend workers
  balance {balance}
{sticky}  option redispatch 1
  retries 3
  # a GET whose worker died before answering (killed mid-accept, or restarting) is tried on another one:
  # an EventSource fails for good on the 502 it would otherwise get
  retry-on conn-failure empty-response response-timeout
  http-request disable-l7-retry unless METH_GET || METH_HEAD
  option httpchk GET /
  http-check expect status 200
{chr(10).join(servers)}
"""

    def _binds(self) -> str:
        if self.tls is None:
            return f"  bind 127.0.0.1:{self.port}"
        return "\n".join((tls_bind("127.0.0.1", self.port, self.tls, self.alpn),
                          tls_bind("127.0.0.1", self.http1_port, self.tls, ("http/1.1",))))

    async def _start_haproxy(self) -> None:
        if shutil.which("haproxy") is None:
            raise ClusterError(HAPROXY_NOT_FOUND)
        config = self.folder / "haproxy.cfg"
        config.write_text(self.haproxy_config(), encoding="utf-8")
        old = self._haproxy
        try:
            self._haproxy = await launch_haproxy(config, "127.0.0.1", self.port,
                                                 *(["-sf", str(old.pid)] if old is not None else []))
        except FrontError as exc:
            raise ClusterError(f"HAProxy did not start: {exc}") from None
        assert self._haproxy.stderr is not None
        self._own(_drain(self._haproxy.stderr))
        if old is not None:
            self._own(_reap(old))

    # -- actions ---------------------------------------------------------------------------------
    def worker(self, wid: Any) -> Worker | None:
        return next((w for w in self.workers if w.id == wid), None)

    async def kill_worker(self, wid: Any) -> str:
        w = self.worker(wid)
        if w is None or w.proc is None or w.proc.returncode is not None:
            return f"no running worker {wid!r}"
        end_group(w.proc.pid)
        await w.proc.wait()
        log.info("worker %s killed", w.id)
        return f"worker {w.id} killed"

    async def restart_worker(self, wid: Any) -> str:
        """Kill (if running) and start again: a new process on a new port, the balancer told by a reload."""
        w = self.worker(wid)
        if w is None:
            return f"no worker {wid!r}"
        if w.proc is not None and w.proc.returncode is None:
            end_group(w.proc.pid)
            await w.proc.wait()
        await self._start_worker(w, first=False)
        # HAProxy's runtime API moves the server to the new port: no reload, no connection of the others cut
        said = await self.haproxy_command(f"set server workers/{w.id} addr 127.0.0.1 port {w.port}")
        await self.haproxy_command(f"set server workers/{w.id} state ready")
        await self.haproxy_command(f"set server proxies/{w.id} addr 127.0.0.1 port {w.port}")
        await self.haproxy_command(f"set server proxies/{w.id} state ready")
        if "not" in said.lower() and "port" not in said.lower():  # an older HAProxy: reload instead
            await self._start_haproxy()
        return f"worker {w.id} restarted on port {w.port}"

    async def haproxy_command(self, command: str) -> str:
        """One command on HAProxy's runtime API (its stats socket, in the cluster's folder)."""
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.sock))
        except OSError as exc:
            return f"HAProxy's runtime API is not reachable: {exc}"
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.read(1 << 16), 5)).decode("utf-8", "replace").strip()
        except (OSError, TimeoutError) as exc:
            return f"HAProxy's runtime API did not answer: {exc}"
        finally:
            writer.close()

    async def set_balance(self, mode: Any) -> str:
        if mode not in BALANCES:
            return f"balance must be one of {', '.join(BALANCES)}"
        self.balance = str(mode)
        await self._start_haproxy()
        return f"balancing {self.balance}"

    async def subscribe(self) -> tuple[Any, Any]:
        """The supervisor's channel, subscribed before the cluster is announced (an action sent at once is
        heard)."""
        client = aioredis.from_url(self.redis_url, decode_responses=True)
        pubsub = client.pubsub()
        await pubsub.subscribe(SUPERVISOR)
        return client, pubsub

    async def listen(self, client: Any, pubsub: Any) -> None:
        """The admin API's cluster actions, which any worker forwards through Redis (subscribed again
        after Redis went away and came back)."""
        while True:
            try:
                await self._listen_once(pubsub)
            except (aioredis.RedisError, OSError) as exc:
                log.warning("the supervisor's channel on Redis broke (%s): subscribing again", exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(1.0)  # a retry schedule while Redis is away, not a wait for a condition
            with contextlib.suppress(aioredis.RedisError, OSError):
                client, pubsub = await self.subscribe()

    async def _listen_once(self, pubsub: Any) -> None:
        async for action in actions(pubsub):
            what = action.get("action")
            if what == "kill_worker":
                said = await self.kill_worker(action.get("worker"))
            elif what == "restart_worker":
                said = await self.restart_worker(action.get("worker"))
            elif what == "balance":
                said = await self.set_balance(action.get("mode"))
            else:
                continue
            print(json.dumps({"event": "cluster", "action": what, "said": said,
                              "workers": [w.to_json() for w in self.workers], "balance": self.balance}),
                  flush=True)

    # -- stop --------------------------------------------------------------------------------------
    async def stop(self) -> None:
        """The workers first (they still talk to Redis as they close), then the balancer and Redis."""
        self._stopping = True
        workers = [w.proc for w in self.workers if w.proc is not None]
        others = [p for p in (self._haproxy, self._redis_proc) if p is not None]
        for group in (workers, others):
            for p in group:
                if p.returncode is None:
                    end_group(p.pid, signal.SIGTERM)
            for p in group:
                try:
                    await asyncio.wait_for(p.wait(), 5)
                except TimeoutError:
                    end_group(p.pid)
                    await p.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)

    def announce(self) -> dict[str, Any]:
        scheme = "https" if self.tls is not None else "http"
        said = {"event": "listening", "url": f"{scheme}://127.0.0.1:{self.port}", "port": self.port,
                "admin_token": self.admin_token, "workers": [w.to_json() for w in self.workers],
                "redis": self.redis_url, "balance": self.balance, "sessions": self.sessions}
        if self.tls is not None:
            said["tls"] = tls_said(self.tls, self.alpn, https_url("127.0.0.1", self.http1_port))
        return said


async def _drain(stream: asyncio.StreamReader) -> None:
    """A child's output we do not need, read so that it never blocks on a full pipe."""
    with contextlib.suppress(Exception):
        while await stream.read(65536):
            pass


async def _reap(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(proc.wait(), 3600)


async def run_cluster(args: argparse.Namespace, worker_args: list[str]) -> int:
    cluster = Cluster(args.cluster, worker_args, args.rate, balance=args.balance, sessions=args.sessions,
                      redis_url=args.redis or "", port=args.port)
    if getattr(args, "tls", False):
        if shutil.which("haproxy") is None:
            print(json.dumps({"event": "error", "error": HAPROXY_NOT_FOUND}), flush=True)
            return 1
        folder = getattr(args, "tls_folder", None)
        cluster.tls = certs.kept(Path(folder)) if folder else certs.write(cluster.folder / "tls")
        cluster.alpn = alpn_for(args.http1)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await cluster.start()
    except ClusterError as exc:
        print(json.dumps({"event": "error", "error": str(exc)}), flush=True)
        await cluster.stop()
        return 1
    client, pubsub = await cluster.subscribe()
    listener = asyncio.create_task(cluster.listen(client, pubsub))
    redis_watch = asyncio.create_task(cluster.watch_redis())
    print(json.dumps(cluster.announce()), flush=True)
    if args.watch_parent:
        watch_parent(loop, stop)
    await stop.wait()
    cluster._stopping = True
    for task in (listener, redis_watch):
        task.cancel()
    await asyncio.gather(listener, redis_watch, return_exceptions=True)
    await cluster.stop()
    return 0

