"""Wire constants the client side and the lab both use: one copy, in the pure core.

The clients never import the lab's package (they talk to it only over
loopback, as to any server); what both must agree on lives here.
"""

from __future__ import annotations

from typing import Any

# The lab names the numbering its seqs belong to in this response header; a client echoes it
# when it resumes, so a lab restarted without its history can tell an old resume point.
EPOCH_HEADER = "Duplex-Epoch"
# In cluster mode every response (a WebSocket's handshake too) names the lab worker that served it, and
# its process: "w2/41234" (a restarted worker is a new process under the same name).
WORKER_HEADER = "Duplex-Worker"


def served_by(headers: Any) -> dict[str, str]:
    """``{"worker": "w2/41234"}`` when a response (or a handshake) names the lab worker that served it,
    else ``{}`` (any header mapping: aiohttp's and websockets' are case-insensitive)."""
    worker = headers.get(WORKER_HEADER) if headers is not None else None
    return {"worker": str(worker)} if worker else {}


def served_note(headers: Any) -> str:
    """The same as a row's note: `` · served by w2/41234``."""
    worker = served_by(headers).get("worker")
    return f" · served by {worker}" if worker else ""

# The session id's cookie, and its query-string parameter when the user picks that carrier.
SESSION_COOKIE = "duplex_sid"
SESSION_QUERY = "sid"

# Where the lab serves each transport's feed.
WS_PATH = "/ws"
SSE_PATH = "/sse"
POLL_PATH = "/api/poll"
LONGPOLL_PATH = "/api/longpoll"
STREAM_PATH = "/api/stream"
STREAMS_EXPERIMENT_PATH = "/experiment/streams"  # the lab's page of N streams at once (?n=N&kind=sse|fetch)
FEED_PATHS = frozenset((WS_PATH, SSE_PATH, POLL_PATH, LONGPOLL_PATH, STREAM_PATH))

# A poll answer holds at most POLL_DEFAULT_LIMIT messages, or ?limit=N of them up to POLL_MAX_LIMIT.
POLL_DEFAULT_LIMIT = 1000
POLL_MAX_LIMIT = 10_000
