"""The feed on Redis, for a lab of several worker processes (cluster mode).

One Redis Stream holds the feed: every publish (the ticker, a client's message, a burst) runs one
Lua script that takes the next seq from a counter and appends the envelope with the seq as its
stream id, so the numbering is global and in order whichever worker published. Every worker reads
the stream (``XREAD BLOCK``) into its own :class:`~transport.server.feed.Feed`, which hands each
message to that worker's clients and keeps the history ``Last-Event-ID`` / ``?after=`` resume from;
the numbering's epoch is a key beside it. A client that lands on another worker resumes from the
same seqs, with nothing lost.

**The numbering lives with the stream**: the epoch is a key in the same Redis, and the publish script
refuses to number under any other. A Redis that comes back without the stream (restarted empty, or
flushed) has no epoch: the first worker to notice (a publish refused, or its reader reconnecting) names
a new one, and every worker takes it — its history dropped, its clients' connections ended, so that they
resume and get a declared reset instead of old seqs numbered again. While Redis is down, requests that
need it answer 503 with the reason (``redis_down``), and the stats say so.

The demo ticker runs on one worker at a time: the holder of a short lease in Redis, renewed while it
lives (a killed worker's lease runs out and another takes the feed over). Its rate is a key, so the
admin action ``rate`` works on whichever worker it reaches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, AsyncIterator, Callable

import redis.asyncio as aioredis
from aiohttp import web

from transport.core.envelope import envelope_fields
from transport.server.feed import TOPICS, Feed, Message, MessageTooLarge, demo_body, new_epoch, utf8_size
from transport.server.keys import BACKPLANE, Handler

log = logging.getLogger("duplex.server.cluster")

SESSION_KEY = "duplex:session:"
VALUE_KEY = "duplex:value:"  # a session's AJAX value (ajax.py), shared by the workers
VALUE_TTL_S = 86_400
SUPERVISOR = "duplex:supervisor"  # the cluster supervisor's channel (cluster.py): worker actions, the balancing
SUPERVISOR_DELAY_S = 0.1  # the action is published after the admin answer went out (it may kill this worker)
STREAM, SEQ, EPOCH, RATE, LEADER, CONTROL = ("duplex:feed", "duplex:seq", "duplex:epoch", "duplex:rate",
                                             "duplex:ticker", "duplex:control")
LEASE_MS = 2000  # the ticker's lease; renewed every third of it
READ_BLOCK_MS = 1000
READ_COUNT = 2000
REDIS_TIMEOUT_S = 10.0
STOP_S = 5.0
CATCH_UP_S = 2.0  # how long a resume waits for this worker to have read a seq another one delivered
MAX_ITEMS = 1000  # messages per script call (a burst goes in several)

# KEYS: seq counter, stream, epoch. ARGV: n, ts, maxlen, the epoch the caller numbers in, then (topic as
# JSON, body as JSON) n times. The envelope is written exactly as Feed._number writes it (compact JSON, keys
# in order). Under another epoch (or none: Redis lost the stream) nothing is numbered.
_PUBLISH = """
if redis.call('GET', KEYS[3]) ~= ARGV[4] then
  return redis.error_reply('EPOCH the numbering changed')
end
local n = tonumber(ARGV[1])
local seqs = {}
for i = 1, n do
  local seq = redis.call('INCR', KEYS[1])
  local text = '{"seq":' .. seq .. ',"ts":' .. ARGV[2] .. ',"topic":' .. ARGV[3 + 2 * i] .. ',"body":'
    .. ARGV[4 + 2 * i] .. '}'
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], seq .. '-1', 't', text)
  seqs[i] = seq
end
return seqs
"""


class RedisDown(aioredis.ConnectionError):
    """Redis does not answer: what needs it cannot be done now (a 503 with the reason)."""


class Backplane:
    def __init__(self, url: str, feed: Feed, worker: str) -> None:
        self.url, self.feed, self.worker = url, feed, worker
        # every command bounded: a Redis that stalls (not gone: stopped, swapping) is "down" after the timeout,
        # never an await that lasts forever (XREAD blocks READ_BLOCK_MS on purpose; the pub/sub reads have no bound)
        self.redis: aioredis.Redis = aioredis.from_url(url, decode_responses=True,
                                                       socket_timeout=READ_BLOCK_MS / 1000 + REDIS_TIMEOUT_S,
                                                       socket_connect_timeout=REDIS_TIMEOUT_S)
        self._script = self.redis.register_script(_PUBLISH)
        self._last_id = "0-0"
        self._tasks: list[asyncio.Task] = []
        self._seen = asyncio.Condition()
        self.leader = False
        self.rate = 0.0
        self.on_session_ended: Callable[[str], None] | None = None  # another worker ended a session
        self.on_renumbered: Callable[[str], None] | None = None  # the numbering changed (Redis lost the stream)
        self.down: str | None = None  # why Redis does not answer, while it does not

    # -- start / stop ------------------------------------------------------------------------
    async def start(self, rate: float | None = None) -> None:
        """The numbering's epoch, the history so far, then reading the stream, the ticker's lease and
        the control channel. ``rate``: set the ticker's rate (the cluster's first worker does)."""
        r = self.redis
        await r.set(EPOCH, new_epoch(), nx=True)
        self.feed.epoch = str(await r.get(EPOCH) or self.feed.epoch)
        if rate is not None:
            await r.set(RATE, rate)
        # the history and the counter in one transaction: read apart, a message the leader published between
        # the two reads was counted here but never read (the reader starts after the history), and every
        # poll served by this worker skipped it
        async with r.pipeline(transaction=True) as snapshot:
            snapshot.xrevrange(STREAM, count=self.feed.history_limit)
            snapshot.get(SEQ)
            entries, seq = await snapshot.execute()
        msgs = [_message(text) for _id, fields in reversed(entries) if (text := fields.get("t"))]
        if entries:
            self._last_id = entries[0][0]
        self.feed.accept([m for m in msgs if m is not None], broadcast=False)
        self.feed.last_seq = max(self.feed.last_seq, int(seq or 0))  # an evicted stream: the numbering goes on
        self._tasks = [asyncio.create_task(self._read_forever()), asyncio.create_task(self._tick_forever()),
                       asyncio.create_task(self._control_forever())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: a task that swallowed its cancel must not hold the lab's shutdown
            _done, stuck = await asyncio.wait(self._tasks, timeout=STOP_S)
            if stuck:
                log.warning("%d backplane task(s) did not end within %g s of their cancel", len(stuck), STOP_S)
        if self.leader:
            try:
                async with asyncio.timeout(STOP_S):
                    await self.redis.delete(LEADER)
            except (aioredis.RedisError, OSError, TimeoutError):
                pass
        try:
            async with asyncio.timeout(STOP_S):
                await self.redis.aclose()
        except TimeoutError:
            log.warning("closing the connection to Redis at %s took over %g s", self.url, STOP_S)

    # -- publishing --------------------------------------------------------------------------
    async def publish(self, topic: str, body: Any) -> Message:
        return (await self.publish_many([(topic, body)]))[0]

    async def publish_many(self, items: list[tuple[str, Any]]) -> list[Message]:
        """Number and append; the stream's readers (this worker's too) hand them to the clients. Raises
        MessageTooLarge for an envelope over the feed's limit (nothing of that call published)."""
        out: list[Message] = []
        for start in range(0, len(items), MAX_ITEMS):
            chunk = items[start:start + MAX_ITEMS]
            ts = time.monotonic_ns()
            args: list[Any] = [len(chunk), ts, self.feed.history_limit]
            parts = []
            for topic, body in chunk:
                t, b = json.dumps(topic), json.dumps(body, separators=(",", ":"), allow_nan=False)
                size = len(t) + len(b) + 40 + len(str(ts))
                if size > self.feed.max_message:
                    raise MessageTooLarge(size, self.feed.max_message)
                args += [t, b]
                parts.append((topic, t, b))
            seqs = await self._numbered(args)
            for seq, (topic, t, b) in zip(seqs, parts):
                text = f'{{"seq":{seq},"ts":{ts},"topic":{t},"body":{b}}}'
                out.append(Message(int(seq), ts, topic, text, utf8_size(text)))
        return out

    async def _numbered(self, args: list[Any]) -> Any:
        """The publish script's seqs; under a numbering Redis no longer has, the new one is taken first."""
        args = [*args[:3], self.feed.epoch, *args[3:]]
        for attempt in (1, 2):
            try:
                return await self._script(keys=[SEQ, STREAM, EPOCH], args=args)
            except aioredis.ResponseError as exc:
                if "EPOCH" not in str(exc) or attempt == 2:
                    raise
            except (aioredis.RedisError, OSError) as exc:
                self._went_down(exc)
                raise RedisDown(self.down or str(exc)) from None
            await self.check_epoch()
            args[3] = self.feed.epoch
        raise AssertionError("unreachable")

    def _went_down(self, exc: BaseException) -> None:
        if self.down is None:
            self.down = f"Redis at {self.url} does not answer ({exc or type(exc).__name__})"
            log.error("%s: the cluster cannot number messages or share sessions until it is back", self.down)

    async def check_epoch(self) -> None:
        """Redis's numbering, taken if it is not this worker's: a Redis that lost the stream gets a new one
        (the first worker to ask names it), and this worker starts over in it."""
        r = self.redis
        await r.set(EPOCH, new_epoch(), nx=True)
        epoch = str(await r.get(EPOCH))
        if epoch == self.feed.epoch:
            return
        log.error("the feed's numbering on Redis is %s, not %s (Redis lost the stream): starting over in it, "
                  "clients resuming get a declared reset", epoch, self.feed.epoch)
        self.feed.renumber(epoch, int(await r.get(SEQ) or 0))
        self._last_id = "0-0"
        if self.rate > 0:  # the ticker's rate went with the rest: the one it had (the ticker does it too)
            await r.set(RATE, self.rate, nx=True)
        if self.on_renumbered is not None:
            self.on_renumbered(epoch)

    # -- reading -----------------------------------------------------------------------------
    async def _read_forever(self) -> None:
        r = self.redis
        while True:
            try:
                if self.down is not None:  # back: is it the same Redis, with the same stream?
                    await self.check_epoch()
                got: Any = await r.xread({STREAM: self._last_id}, count=READ_COUNT, block=READ_BLOCK_MS)
            except (aioredis.RedisError, OSError) as exc:
                self._went_down(exc)
                await asyncio.sleep(1.0)  # Redis gone a moment: a retry schedule, not a wait for a condition
                continue
            if self.down is not None:
                log.info("Redis at %s answers again", self.url)
                self.down = None
            for _stream, entries in got or ():
                msgs = [m for _id, fields in entries if (m := _message(fields.get("t", "")))]
                if entries:
                    self._last_id = entries[-1][0]
                if msgs and msgs[0].seq <= self.feed.last_seq:  # read at start already (some or all)
                    msgs = [m for m in msgs if m.seq > self.feed.last_seq]
                self.feed.accept(msgs)
            async with self._seen:
                self._seen.notify_all()

    async def caught_up(self, seq: int, timeout: float = CATCH_UP_S) -> bool:
        """Wait (bounded) until this worker has read ``seq``: a client that another worker served resumes
        here from a point this worker's reader may not have reached yet."""
        if seq <= self.feed.last_seq:
            return True
        try:
            async with asyncio.timeout(timeout):
                async with self._seen:
                    await self._seen.wait_for(lambda: seq <= self.feed.last_seq)
            return True
        except TimeoutError:
            return False

    # -- the ticker on one worker at a time ---------------------------------------------------
    async def _tick_forever(self) -> None:
        r = self.redis
        start, n, rate = 0.0, 0, 0.0
        loop = asyncio.get_running_loop()
        renew_at = 0.0
        while True:
            now = loop.time()
            if now >= renew_at:
                renew_at = now + LEASE_MS / 3000
                try:
                    held = await r.set(LEADER, self.worker, nx=True, px=LEASE_MS) or \
                        (await r.get(LEADER) == self.worker and await r.pexpire(LEADER, LEASE_MS))
                    stored = await r.get(RATE)
                    if stored is None and rate > 0:  # Redis came back without it: the rate the feed had
                        await r.set(RATE, rate, nx=True)
                    new_rate = float(stored) if stored is not None else rate
                except (aioredis.RedisError, OSError) as exc:
                    self._went_down(exc)
                    held, new_rate = False, rate
                if held and (not self.leader or new_rate != rate):
                    start, n = loop.time(), 0  # a new schedule: a new leader, or a new rate
                self.leader, rate = bool(held), new_rate
                self.rate = rate
            if not self.leader or rate <= 0:
                await asyncio.sleep(LEASE_MS / 3000)  # the lease's schedule
                continue
            now = loop.time()
            due = int((now - start) * rate) + 1
            if due - n > rate:  # more than a second behind: do not burst
                start, due = now - n / rate, n + 1
            if n < due:
                try:
                    await self.publish_many([(TOPICS[i % len(TOPICS)], demo_body(TOPICS[i % len(TOPICS)], i))
                                             for i in range(n + 1, due + 1)])
                except (aioredis.RedisError, OSError) as exc:
                    self._went_down(exc)
                    log.debug("publishing to Redis failed: %s", exc)
                n = due
            await asyncio.sleep(max(0.005, min(start + n / rate - loop.time(), renew_at - loop.time())))

    async def set_rate(self, rate: float) -> float:
        previous = float(await self.redis.get(RATE) or 0)
        await self.redis.set(RATE, rate)
        return previous

    async def figures(self) -> dict[str, Any]:
        """Redis's side of the cluster: the stream's length, its memory and clients, who ticks."""
        try:
            length = await self.redis.xlen(STREAM)
            memory: Any = await self.redis.info("memory")
            clients: Any = await self.redis.info("clients")
        except (aioredis.RedisError, OSError) as exc:
            self._went_down(exc)
            return {"error": self.down, "redis_down": self.down, "redis": self.url}
        return {"stream_length": int(length), "redis_memory_bytes": int(memory.get("used_memory", 0)),
                "redis_clients": int(clients.get("connected_clients", 0)), "ticker_here": self.leader,
                "rate": self.rate, "redis": self.url}

    # -- sessions shared by the workers (``--sessions shared``) ---------------------------------
    async def save_session(self, sid: str, user: str, created_wall: float, absolute: float) -> None:
        await self.redis.set(SESSION_KEY + sid, json.dumps({"user": user, "created": created_wall}),
                             ex=max(1, int(absolute) + 1))

    async def load_session(self, sid: str) -> tuple[str, float] | None:
        """(user, creation time on the wall clock) of a session any worker created, or None."""
        raw = await self.redis.get(SESSION_KEY + sid)
        try:
            d = json.loads(raw) if raw else None
            return (str(d["user"]), float(d["created"])) if isinstance(d, dict) else None
        except (ValueError, KeyError, TypeError):
            return None

    async def end_session(self, sid: str) -> None:
        """Logged out (or rotated) on one worker: on all of them."""
        await self.redis.delete(SESSION_KEY + sid)
        await self.redis.publish(CONTROL, json.dumps({"action": "session_ended", "sid": sid}))

    # -- the AJAX value of each session (the AJAX tab's and the postback form's), shared by the workers -----
    async def save_value(self, key: str, state: dict[str, Any]) -> None:
        await self.redis.set(VALUE_KEY + key, json.dumps(state), ex=VALUE_TTL_S)

    async def load_value(self, key: str) -> dict[str, Any] | None:
        raw = await self.redis.get(VALUE_KEY + key)
        try:
            d = json.loads(raw) if raw else None
        except ValueError:
            return None
        return d if isinstance(d, dict) else None

    # -- cluster-wide actions ------------------------------------------------------------------
    async def evict(self) -> int:
        """Forget the history everywhere (a fault): the stream is trimmed, every worker forgets its copy."""
        await self.redis.xtrim(STREAM, maxlen=0)
        await self.redis.publish(CONTROL, json.dumps({"action": "evict_history"}))
        return self.feed.evict()

    async def control(self, action: dict[str, Any]) -> bool:
        """An action for the cluster's supervisor (kill or restart a worker, the balancing), sent a moment
        after this call returns (the answer goes out first: the action may be this worker's end). False:
        no supervisor listens."""
        listening: Any = await self.redis.pubsub_numsub(SUPERVISOR)
        if not listening or not int(listening[0][1]):
            return False
        text = json.dumps(action)

        async def later() -> None:
            await asyncio.sleep(SUPERVISOR_DELAY_S)
            await self.redis.publish(SUPERVISOR, text)

        task = asyncio.create_task(later())
        self._tasks.append(task)
        return True

    async def _control_forever(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(CONTROL)
        try:
            async for action in actions(pubsub):
                if action.get("action") == "evict_history":
                    self.feed.evict()
                elif action.get("action") == "session_ended" and self.on_session_ended is not None:
                    self.on_session_ended(str(action.get("sid", "")))
        finally:
            await pubsub.aclose()


@web.middleware
async def redis_down(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Cluster mode: a request that needed Redis while it is down is a 503 with the reason, not a 500."""
    try:
        return await handler(request)
    except aioredis.RedisError as exc:
        backplane = request.config_dict.get(BACKPLANE)
        why = (backplane.down if backplane is not None else None) or f"Redis does not answer ({exc})"
        return web.json_response({"error": f"{why}: the cluster cannot do this until Redis is back"}, status=503)


async def actions(pubsub: Any) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects published on a subscribed channel (anything else is skipped)."""
    async for item in pubsub.listen():
        if item.get("type") != "message":
            continue
        try:
            action = json.loads(item["data"])
        except ValueError:
            continue
        if isinstance(action, dict):
            yield action


def _message(text: str) -> Message | None:
    seq, ts, topic, _obj = envelope_fields(text)  # the fast path: the script wrote the lab's own shape
    if seq is None or ts is None or topic is None:
        return None
    return Message(seq, ts, topic, text, utf8_size(text))
