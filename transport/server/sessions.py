"""The session store: ids, idle and absolute expiry, rotation, renewal policy.

Pure (the clock is injected). A session id is ``secrets.token_urlsafe(32)``
(256 bits). Login always makes a new id: an id the client presents is never
adopted (no fixation). A session expires ``idle`` seconds after it was last
renewed, or ``absolute`` seconds after it was created, whichever comes
first. Whether background traffic (polls, streams, reconnects) renews it is
the ``renew_background`` setting; user actions always do.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from transport.core.wire import SESSION_COOKIE, SESSION_QUERY

COOKIE = SESSION_COOKIE
GONE_KEPT = 10_000  # ended ids remembered, to answer "expired" rather than "unknown"
QUERY = SESSION_QUERY


@dataclass(slots=True)
class Session:
    sid: str
    user: str
    created: float  # store clock (monotonic seconds)
    last_seen: float
    created_wall: float
    values: dict[str, Any] = field(default_factory=dict)
    requests: int = 0

    def describe(self, now: float, idle: float, absolute: float, wall_now: float) -> dict[str, Any]:
        return {
            "user": self.user,
            "sid_prefix": self.sid[:8],
            "created": self.created_wall,
            "last_seen": wall_now - (now - self.last_seen),
            "idle_expires_in": round(max(0.0, self.last_seen + idle - now), 3),
            "absolute_expires_in": round(max(0.0, self.created + absolute - now), 3),
            "requests": self.requests,
            "values": dict(self.values),
        }


@dataclass(frozen=True, slots=True)
class SessionEvent:
    kind: str  # created, renewed, expired, ended
    sid_prefix: str
    user: str
    wall: float
    reason: str = ""


MAX_SESSIONS = 1000  # live sessions on one lab: each may hold a value and its history (~41 KB)


class SessionsFull(Exception):
    """The lab holds as many live sessions as it keeps: a login waits for one to end."""


class SessionStore:
    def __init__(self, idle: float = 60.0, absolute: float = 900.0, renew_background: bool = False,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 max_sessions: int = MAX_SESSIONS) -> None:
        if idle <= 0 or absolute <= 0:
            raise ValueError("idle and absolute timeouts must be > 0")
        self.idle = idle
        self.absolute = absolute
        self.renew_background = renew_background
        self.max_sessions = max_sessions
        self._clock = clock
        self._wall = wall
        self._sessions: dict[str, Session] = {}
        self._gone: OrderedDict[str, str] = OrderedDict()  # recently ended ids → why (bounded)
        self.events: deque[SessionEvent] = deque(maxlen=500)

    def __len__(self) -> int:
        return len(self._sessions)

    # -- lifecycle -----------------------------------------------------------------
    def login(self, user: str) -> Session:
        """A brand-new session (a new id every time: never the one presented). SessionsFull when the lab
        holds ``max_sessions`` live ones already (the sweeper ends expired ones every second)."""
        if len(self._sessions) >= self.max_sessions:
            raise SessionsFull(f"the lab holds {self.max_sessions:,} live sessions already (its bound): "
                               "log one out, or wait for one to expire")
        now = self._clock()
        sid = secrets.token_urlsafe(32)
        session = Session(sid, user, now, now, self._wall())
        self._sessions[sid] = session
        self._event("created", session)
        return session

    def adopt(self, sid: str, user: str, age: float, created_wall: float) -> Session | None:
        """A session another worker of the cluster created (read from Redis), ``age`` seconds old; None
        when it is past its absolute timeout already."""
        if age >= self.absolute:
            return None
        now = self._clock()
        session = Session(sid, user, now - age, now, created_wall)
        self._sessions[sid] = session
        self._gone.pop(sid, None)
        self._event("adopted", session, "created by another worker")
        return session

    def logout(self, sid: str) -> bool:
        session = self._sessions.pop(sid, None)
        if session is None:
            return False
        self._event("ended", session, "logged out")
        return True

    def lookup(self, sid: str) -> tuple[Session | None, str]:
        """The live session for ``sid``, or None and why: ``unknown`` or ``expired``."""
        session = self._sessions.get(sid)
        if session is None:
            return None, self._gone.get(sid, "unknown")
        reason = self._expiry(session, self._clock())
        if reason:
            del self._sessions[sid]
            self._event("expired", session, reason)
            return None, "expired"
        return session, ""

    def touch(self, session: Session, background: bool) -> bool:
        """Count a request; renew the idle timer unless it is background traffic and the
        policy says background does not renew. Returns whether it renewed."""
        session.requests += 1
        if background and not self.renew_background:
            return False
        session.last_seen = self._clock()
        return True

    def sweep(self) -> list[Session]:
        """Expire what is due; returns the sessions that just expired."""
        now = self._clock()
        gone = []
        for sid, session in list(self._sessions.items()):
            reason = self._expiry(session, now)
            if reason:
                del self._sessions[sid]
                self._event("expired", session, reason)
                gone.append(session)
        return gone

    def expire_all(self) -> list[Session]:
        """A fault: every session expires now."""
        gone = list(self._sessions.values())
        self._sessions.clear()
        for session in gone:
            self._event("expired", session, "expired by a fault")
        return gone

    # -- views ----------------------------------------------------------------------
    def describe(self, session: Session) -> dict[str, Any]:
        return session.describe(self._clock(), self.idle, self.absolute, self._wall())

    def all(self) -> list[dict[str, Any]]:
        return [self.describe(s) for s in self._sessions.values()]

    # -- internals ----------------------------------------------------------------------
    def _expiry(self, session: Session, now: float) -> str:
        if now >= session.created + self.absolute:
            return f"absolute timeout ({self.absolute:g} s)"
        if now >= session.last_seen + self.idle:
            return f"idle timeout ({self.idle:g} s)"
        return ""

    def _forget(self, session: Session, why: str) -> None:
        self._gone[session.sid] = why
        while len(self._gone) > GONE_KEPT:
            self._gone.popitem(last=False)

    def _event(self, kind: str, session: Session, reason: str = "") -> None:
        if kind in ("expired", "ended"):
            self._forget(session, "expired" if kind == "expired" else "ended")
        self.events.append(SessionEvent(kind, session.sid[:8], session.user, self._wall(), reason))
