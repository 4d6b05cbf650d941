"""Settings of the lab server, shared by the CLI, the app and the tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 0
    rate: float = 5.0  # feed messages per second from the ticker; 0 = off
    history: int = 10_000  # ring buffer size for resume (messages)
    history_bytes: int = 64 << 20  # …and at most this many bytes of envelopes
    history_file: str | None = None  # keep history in this file across process restarts (journal.py)
    max_msg_size: int = 1 << 20  # largest WebSocket message / request body / published message accepted
    ws_heartbeat: float | None = 15.0  # server pings; dead peers are dropped (None: no pings)
    subscriber_backlog: int = 50_000  # per-connection queue before "too slow" (1013; SSE and NDJSON end)
    subscriber_bytes: int = 16 << 20  # …and its bytes
    write_timeout: float = 10.0  # a stream write that cannot drain this long: the client stopped reading
    sse_retry_ms: int = 1000  # the reconnection time /sse asks clients for
    sse_heartbeat: float = 5.0  # seconds between ": ping" comments on /sse (and newlines on /api/stream)
    # every transport's heartbeat at once (--heartbeat, the admin settings): SSE comments, NDJSON newlines,
    # WebSocket pings, Socket.IO pings; 0 = none where the protocol allows (Socket.IO's cannot be turned off)
    heartbeat: float | None = None
    # send "X-Accel-Buffering: no" on streamed answers (SSE, NDJSON, the chat stream), so a buffering reverse
    # proxy (nginx) passes each event at once; off, the proxy's own buffering shows
    accel_buffering: bool = True
    session_idle: float = 60.0  # seconds without a renewing request before a session expires
    session_absolute: float = 900.0  # seconds after login when a session expires regardless
    session_renew_background: bool = False  # do polls, streams and reconnects renew the idle timer?
    allowed_origins: tuple[str, ...] = ()  # extra Origins allowed on /ws
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    shutdown_timeout: float = 1.0
    header_timeout: float = 15.0  # a request whose head is not complete by then (or an idle connection) is closed
    # cluster mode (cluster.py): this worker's name, the feed's Redis, and the balancer's port (clients reach
    # the worker through it: its Host and Origin are the lab's own)
    worker_id: str = ""
    redis_url: str | None = None
    public_ports: tuple[int, ...] = ()
    sessions_shared: bool = False  # cluster: sessions in Redis (any worker serves any session)

    def set_heartbeat(self, seconds: float) -> None:
        """Every transport's heartbeat from now on (new connections); 0: none."""
        self.heartbeat = seconds
        self.sse_heartbeat = seconds if seconds > 0 else NO_HEARTBEAT
        self.ws_heartbeat = seconds if seconds > 0 else None

    def stream_headers(self) -> dict[str, str]:
        """What a streamed answer says to the proxies on its way."""
        return {"X-Accel-Buffering": "no"} if self.accel_buffering else {}


NO_HEARTBEAT = 10.0 ** 9  # seconds: never, where a library wants a number
