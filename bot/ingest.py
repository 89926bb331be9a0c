"""Durable intake of webhook events and the consumers that process them.

The webhook stores parsed events in Redis streams and answers at once;
consumers process them afterwards, in the bot service (asyncio tasks) or as
separate replicas (``dmdesk consume``).

Order and failover: conversations are hashed to ``shards`` streams. A shard
is processed by one consumer at a time, which holds its lease (a Redis key
with an expiry, renewed while the consumer lives); so one conversation's
events are handled one after the other, in stream order. Live consumers
share the shards evenly (heartbeats in a sorted set). When a consumer dies,
its leases expire; the consumer that takes a shard over claims its pending
entries (XAUTOCLAIM) and processes them first. An entry is acknowledged
(and deleted) only after it was handled; one that keeps failing goes to a
dead-letter stream after ``max_attempts``.

Exactly once: a replayed entry is dropped by the handler (message ids are
de-duplicated by the dispatcher). A consumer that lost its lease while still
working is fenced (:mod:`bot.fencing`): the handler gets the consumer's
:class:`~bot.fencing.Worker`, and what another live consumer holds is retried
later (:class:`~bot.fencing.InFlightElsewhere`), never counted as a failure;
so is an event that meets a passing condition outside it (:class:`~bot.errors.RetryLater`,
e.g. Rasa not listening while it restarts): it waits, it is not dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.errors import RetryLater
from bot.fencing import Worker
from bot.keys import Keys
from connectors.meta.events import MetaEvent

log = logging.getLogger(__name__)

GROUP = "dispatch"
FIELD = b"e"

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

Handler = Callable[[MetaEvent, Worker], Awaitable[None]]


def shard_of(conversation_id: str, shards: int) -> int:
    """The shard of a conversation (stable across processes)."""
    return zlib.crc32(conversation_id.encode()) % shards


def shard_share(shards: int, live: int) -> int:
    """The most shards one of ``live`` consumers holds once they are balanced."""
    return math.ceil(shards / max(1, live))


async def shards_balanced(redis: Redis, keys: Keys, shards: int, consumers: int) -> bool:
    """True once ``consumers`` consumers are live and every shard is leased, none above its share
    (a consumer process that joined has taken its part from the running ones)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(keys.ingest_consumers)
        pipe.mget([keys.ingest_lease(shard) for shard in range(shards)])
        live, owners = await pipe.execute()
    if int(live) < consumers or not all(owners):
        return False
    held: dict[bytes, int] = {}
    for owner in owners:
        held[owner] = held.get(owner, 0) + 1
    return max(held.values()) <= shard_share(shards, int(live))


class Ingest:
    """Writes parsed events to the shard streams."""

    def __init__(self, redis: Redis, keys: Keys, shards: int) -> None:
        self._redis = redis
        self._keys = keys
        self.shards = shards

    async def enqueue(self, events: list[MetaEvent]) -> None:
        """Store every event durably, all or none (one MULTI/EXEC).

        Raises:
            RedisError: Nothing was stored; the caller answers 5xx so that Meta retries.
        """
        if not events:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            for event in events:
                stream = self._keys.ingest_stream(shard_of(event.conversation_id, self.shards))
                pipe.xadd(stream, {FIELD: event.model_dump_json()})
            await pipe.execute()

    async def backlog(self) -> int:
        """Entries stored and not yet acknowledged, over all shards."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for shard in range(self.shards):
                pipe.xlen(self._keys.ingest_stream(shard))
            return sum(int(n) for n in await pipe.execute())


class Consumer:
    """One consumer: owns some shards, processes each shard's entries in order (shards concurrently)."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        shards: int,
        handler: Handler,
        name: str | None = None,
        lease_ms: int = 15_000,
        max_attempts: int = 8,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._shards = shards
        self._handler = handler
        self.name = name or f"c-{uuid.uuid4().hex[:10]}"
        self._lease_ms = lease_ms
        self._max_attempts = max_attempts
        self.owned: set[int] = set()
        self._recovering: set[int] = set()
        self._busy: set[int] = set()
        self._reading: set[int] = set()  # shards of the read in flight
        self._releasing: set[int] = set()  # over the cap, given back once the read in flight returns
        self._attempts: dict[bytes, int] = {}  # failures, per entry
        self._waits: dict[bytes, int] = {}  # retries for a passing condition (RetryLater), per entry
        self.worker = Worker(redis, keys, self.name, lease_ms)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    # --- shard leases
    async def ensure_groups(self) -> None:
        """Create the consumer group on every shard stream (from the start of the stream)."""
        for shard in range(self._shards):
            try:
                await self._redis.xgroup_create(self._keys.ingest_stream(shard), GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _balance(self) -> None:
        now = int(time.time() * 1000)
        zkey = self._keys.ingest_consumers
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(zkey, {self.name: now})
            pipe.zremrangebyscore(zkey, 0, now - 3 * self._lease_ms)
            pipe.zcard(zkey)
            _, _, live = await pipe.execute()
        cap = shard_share(self._shards, int(live))
        for shard in list(self.owned):
            if not await self._renew(keys=[self._keys.ingest_lease(shard)], args=[self.name, self._lease_ms]):
                log.warning("shard lease lost", extra={"consumer": self.name, "shard": shard})
                self.owned.discard(shard)
                self._recovering.discard(shard)
                self._releasing.discard(shard)
        while len(self.owned) - len(self._releasing) > cap:
            extra = next((s for s in self.owned if s not in self._busy and s not in self._releasing), None)
            if extra is None:
                break
            if extra in self._reading:
                # A read blocked on its stream may still receive an entry: given back now, that entry would
                # be delivered to us (pending under our name) after the next owner's takeover claimed the
                # stream's pending entries, and neither of us would ever handle it. ``step`` gives it back
                # before its next read.
                self._releasing.add(extra)
                continue
            await self._give_back(extra)
        if len(self.owned) < cap:
            start = random.randrange(self._shards)
            for i in range(self._shards):
                shard = (start + i) % self._shards
                if len(self.owned) >= cap:
                    break
                if shard in self.owned:
                    continue
                if await self._redis.set(self._keys.ingest_lease(shard), self.name, nx=True, px=self._lease_ms):
                    await self._take_over(shard)

    async def _give_back(self, shard: int) -> None:
        await self._release(keys=[self._keys.ingest_lease(shard)], args=[self.name])
        self.owned.discard(shard)
        self._recovering.discard(shard)
        self._releasing.discard(shard)

    async def _take_over(self, shard: int) -> None:
        """Claim the shard's pending entries (a dead consumer's) and process them first."""
        stream = self._keys.ingest_stream(shard)
        cursor = "0-0"
        claimed = 0
        while True:
            result = await self._redis.xautoclaim(stream, GROUP, self.name, min_idle_time=0, start_id=cursor, count=500)
            cursor = result[0].decode() if isinstance(result[0], bytes) else str(result[0])
            claimed += len(result[1])
            if cursor == "0-0":
                break
        if claimed:
            log.info("pending entries taken over", extra={"consumer": self.name, "shard": shard, "count": claimed})
        self.owned.add(shard)
        self._recovering.add(shard)

    async def release_all(self) -> None:
        """Give every shard back (on shutdown), so others take them at once."""
        for shard in list(self.owned):
            await self._release(keys=[self._keys.ingest_lease(shard)], args=[self.name])
        self.owned.clear()
        self._releasing.clear()
        await self._redis.zrem(self._keys.ingest_consumers, self.name)

    # --- processing
    async def _maintain(self, stop: asyncio.Event) -> None:
        # Ended by ``stop`` (not by cancellation alone: a Redis call may swallow a CancelledError)
        while not stop.is_set():
            try:
                await self._balance()
            except RedisError as exc:
                log.warning("consumer balance failed", extra={"consumer": self.name, "error": str(exc)})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._lease_ms / 3000)

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set; then give the shards back."""
        await self.ensure_groups()
        await self._balance()
        halt = asyncio.Event()
        stop_waiter = asyncio.create_task(stop.wait())
        stop_waiter.add_done_callback(lambda _: halt.set())
        maintainer = asyncio.create_task(self._maintain(halt))
        try:
            while not stop.is_set():
                try:
                    worked = await self.step(block_ms=500)
                except RedisError as exc:
                    log.warning("consumer read failed", extra={"consumer": self.name, "error": str(exc)})
                    worked = False
                if not worked and not self.owned:
                    await asyncio.sleep(0.2)
        finally:
            halt.set()
            stop_waiter.cancel()
            maintainer.cancel()
            with contextlib.suppress(RedisError):
                await self.release_all()

    async def step(self, block_ms: int = 0) -> bool:
        """Read and handle one batch; True if anything was read."""
        for shard in sorted(self._releasing):  # no read in flight now: nothing more can arrive on them
            await self._give_back(shard)
        if not self.owned:
            return False
        recovering = sorted(self._recovering & self.owned)
        if recovering:
            streams: dict[Any, Any] = {self._keys.ingest_stream(s): "0" for s in recovering}
            batches: Any = await self._redis.xreadgroup(GROUP, self.name, streams, count=50)
            got = {self._stream_shard(k) for k, entries in batches or [] if entries}
            self._recovering -= set(recovering) - got
            if got:
                await self._handle_batches(batches)
                return True
        self._reading = set(self.owned)
        try:
            streams = {self._keys.ingest_stream(s): ">" for s in sorted(self._reading)}
            batches = await self._redis.xreadgroup(GROUP, self.name, streams, count=20, block=block_ms or None)
        finally:
            self._reading = set()
        if not batches:
            return False
        await self._handle_batches(batches)
        return True

    def _stream_shard(self, stream: bytes | str) -> int:
        name = stream.decode() if isinstance(stream, bytes) else stream
        return int(name.rsplit(":", 1)[1])

    async def _handle_batches(self, batches: list) -> None:  # type: ignore[type-arg]
        """Shards concurrently; within a shard, one entry after the other.

        A handler with a ``read_ahead`` method sees every entry of the read first (``MetaHandler``
        starts encoding their texts then, in one batch, while they wait their turn).
        """
        read_ahead = getattr(self._handler, "read_ahead", None)
        if read_ahead is not None:
            read_ahead([fields.get(FIELD) for _, entries in batches for _, fields in entries if fields])
        await asyncio.gather(*(self._handle_stream(stream, entries) for stream, entries in batches if entries))

    async def _handle_stream(self, stream: bytes, entries: list) -> None:  # type: ignore[type-arg]
        shard = self._stream_shard(stream)
        self._busy.add(shard)
        try:
            for entry_id, fields in entries:
                if shard not in self.owned:
                    break
                if not await self._handle_entry(stream, entry_id, fields):
                    # keep the order: retry this entry (and those after it) on the next read of the shard
                    self._recovering.add(shard)
                    tries = self._attempts.get(entry_id, 0) + self._waits.get(entry_id, 0)
                    await asyncio.sleep(min(2.0, 0.1 * 2 ** max(1, tries)))
                    break
        finally:
            self._busy.discard(shard)

    async def _handle_entry(self, stream: bytes, entry_id: bytes, fields: dict[bytes, bytes]) -> bool:
        raw = fields.get(FIELD) if fields else None
        try:
            if raw is not None:
                await self._handler(MetaEvent.model_validate_json(raw), self.worker)
        except asyncio.CancelledError:
            raise
        except RetryLater as exc:
            self._waits[entry_id] = self._waits.get(entry_id, 0) + 1
            log.info(
                "event retried later",
                extra={"consumer": self.name, "entry": entry_id.decode(), "reason": str(exc), **exc.context},
            )
            return False
        except Exception as exc:  # noqa: BLE001 (any failure: keep the entry, retry, then dead-letter)
            attempts = self._attempts.get(entry_id, 0) + 1
            self._attempts[entry_id] = attempts
            log.warning(
                "event handling failed",
                extra={
                    "consumer": self.name,
                    "entry": entry_id.decode(),
                    "attempt": attempts,
                    "error": repr(exc)[:200],
                },
            )
            if attempts < self._max_attempts:
                return False
            await self._redis.xadd(self._keys.ingest_dead, {FIELD: raw or b"", b"error": repr(exc)[:500]})
            log.error("event dead-lettered", extra={"consumer": self.name, "entry": entry_id.decode()})
        self._attempts.pop(entry_id, None)
        self._waits.pop(entry_id, None)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()
        return True


async def run_consumers(consumers: list[Consumer], stop: asyncio.Event) -> None:
    """Run consumers until ``stop`` is set."""
    await asyncio.gather(*(c.run(stop) for c in consumers))
