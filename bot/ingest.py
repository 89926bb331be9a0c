"""Durable intake of webhook events and the consumers that process them.

The webhook stores parsed events in Redis streams and answers at once;
consumers process them afterwards, in the bot service (asyncio tasks) or as
separate replicas (``dmdesk consume``).

Order and failover: conversations are hashed to ``shards`` streams. A shard
is processed by one consumer at a time, which holds its lease (a Redis key
with an expiry, renewed while the consumer lives). A consumer chains each
entry it reads behind the previous one of its conversation: one
conversation's events are handled one after the other, in stream order,
other conversations (of the same shard or another) concurrently. A read does
not wait for the whole read before it, only until at most half of it is
still in flight (and fewer than ``max_in_flight``): the slow end of a read
overlaps the next one, and entries still come in batches, which the handler
encodes together. An entry that fails is retried in place, with a growing
pause; the entries after it in its conversation wait for it. Live consumers
share the shards evenly (heartbeats in a sorted set); a shard over a
consumer's share is read no more and given back once its entries in flight
are done. When a consumer dies, its leases expire; the consumer that takes a
shard over claims its pending entries (XAUTOCLAIM) and processes them before
any new one of that shard. An entry is acknowledged (and deleted) only after
it was handled; one that keeps failing goes to a dead-letter stream after
``max_attempts``.

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
import functools
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
#: the event's conversation id, beside it: the consumer orders entries by it without parsing them
CONVERSATION = b"c"

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
                pipe.xadd(stream, {FIELD: event.model_dump_json(), CONVERSATION: event.conversation_id})
            await pipe.execute()

    async def backlog(self) -> int:
        """Entries stored and not yet acknowledged, over all shards."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for shard in range(self.shards):
                pipe.xlen(self._keys.ingest_stream(shard))
            return sum(int(n) for n in await pipe.execute())


class Consumer:
    """One consumer: owns some shards; each conversation's entries in order, conversations concurrently."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        shards: int,
        handler: Handler,
        name: str | None = None,
        lease_ms: int = 15_000,
        max_attempts: int = 8,
        max_in_flight: int = 128,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._shards = shards
        self._handler = handler
        self.name = name or f"c-{uuid.uuid4().hex[:10]}"
        self._lease_ms = lease_ms
        self._max_attempts = max_attempts
        self._max_in_flight = max_in_flight
        self.owned: set[int] = set()
        self._recovering: dict[int, bytes] = {}  # shard -> the last pending entry read (taken over)
        self._busy: dict[int, int] = {}  # shard -> entries in flight
        self._reading: set[int] = set()  # shards of the read in flight
        self._releasing: set[int] = set()  # over the cap: read no more, given back once idle
        self._in_flight: set[tuple[int, bytes]] = set()  # (shard, entry id) read and not yet done
        self._tails: dict[bytes, asyncio.Task[bool]] = {}  # conversation -> its last entry's task
        self._tasks: set[asyncio.Task[bool]] = set()  # one per entry in flight
        #: the next read waits until at most this many entries are in flight: half of the last read (the rest
        #: of a read overlaps the next one, whose entries are batched, e.g. for encoding), below max_in_flight
        self._read_below = 0
        self._room = asyncio.Event()  # set while at most ``_read_below`` entries are in flight
        self._room.set()
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
                self._recovering.pop(shard, None)
                self._releasing.discard(shard)
        while len(self.owned) - len(self._releasing) > cap:
            extra = min(
                (s for s in self.owned if s not in self._releasing),
                key=lambda s: (s in self._reading or self._busy.get(s, 0) > 0, self._busy.get(s, 0)),
            )
            if extra in self._reading or self._busy.get(extra):
                # Entries in flight are ours to finish. A read blocked on its stream may still receive an
                # entry: given back now, that entry would be delivered to us (pending under our name) after
                # the next owner's takeover claimed the stream's pending entries, and neither of us would
                # ever handle it. ``step`` gives it back once neither holds.
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
        self._recovering.pop(shard, None)
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
        self._recovering[shard] = b"0"

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
        """Process until ``stop`` is set; then finish the entries in flight and give the shards back.

        Cancelled (a process killed), the entries in flight are cancelled too and stay pending.
        """
        await self.ensure_groups()
        await self._balance()
        halt = asyncio.Event()
        stop_waiter = asyncio.create_task(stop.wait())
        stop_waiter.add_done_callback(lambda _: halt.set())
        maintainer = asyncio.create_task(self._maintain(halt))
        stopped = False
        try:
            while not stop.is_set():
                try:
                    worked = await self.step(block_ms=500)
                except RedisError as exc:
                    log.warning("consumer read failed", extra={"consumer": self.name, "error": str(exc)})
                    worked = False
                if not worked and not self.owned:
                    await asyncio.sleep(0.2)
            await self.drain()
            stopped = True
        finally:
            if not stopped:
                for task in list(self._tasks):
                    task.cancel()
            halt.set()
            stop_waiter.cancel()
            maintainer.cancel()
            with contextlib.suppress(RedisError):
                await self.release_all()

    async def drain(self) -> None:
        """Wait until every entry read so far was handled (or left pending for a retry elsewhere)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def step(self, block_ms: int = 0) -> bool:
        """Read one batch and start handling it (``drain`` waits for it); True if anything was read.

        A read waits (up to ``block_ms``) until at most half of the entries of the read before it are still in flight:
        the slow end of a read overlaps the next one, and the entries of a read come in batches (encoded together).
        """
        for shard in sorted(self._releasing):  # no read in flight now: nothing more can arrive on them
            if not self._busy.get(shard):
                await self._give_back(shard)
        if not self.owned:
            return False
        if not self._room.is_set() and block_ms:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._room.wait(), block_ms / 1000)
        if not self._room.is_set():  # more than half the last read still in flight
            return False
        recovering = sorted(self._recovering.keys() & self.owned)
        if recovering:
            streams: dict[Any, Any] = {self._keys.ingest_stream(s): self._recovering[s] for s in recovering}
            batches: Any = await self._redis.xreadgroup(GROUP, self.name, streams, count=50)
            got: set[int] = set()
            for stream, entries in batches or []:
                if entries:
                    got.add(self._stream_shard(stream))
                    self._recovering[self._stream_shard(stream)] = entries[-1][0]
            for shard in set(recovering) - got:
                self._recovering.pop(shard, None)  # nothing pending left: new entries from now on
            if got:
                self._start(batches)
                return True
        self._reading = self.owned - self._releasing - self._recovering.keys()
        if not self._reading:  # every shard on its way back: wait for its entries in flight
            await asyncio.sleep(0.05)
            return False
        try:
            streams = {self._keys.ingest_stream(s): ">" for s in sorted(self._reading)}
            batches = await self._redis.xreadgroup(GROUP, self.name, streams, count=20, block=block_ms or None)
        finally:
            self._reading = set()
        if not batches:
            return False
        self._start(batches)
        return True

    def _stream_shard(self, stream: bytes | str) -> int:
        name = stream.decode() if isinstance(stream, bytes) else stream
        return int(name.rsplit(":", 1)[1])

    def _start(self, batches: list) -> None:  # type: ignore[type-arg]
        """Chain every entry read behind its conversation's previous one (one task per entry).

        A handler with a ``read_ahead`` method sees every entry of the read first (``MetaHandler``
        starts encoding their texts then, in one batch, while they wait their turn).
        """
        fresh = [
            (stream, entry_id, fields)
            for stream, entries in batches
            for entry_id, fields in entries
            # a pending entry read again while it is being handled (ids are unique within a stream only)
            if (self._stream_shard(stream), entry_id) not in self._in_flight
        ]
        read_ahead = getattr(self._handler, "read_ahead", None)
        if read_ahead is not None:
            read_ahead([fields.get(FIELD) for _, _, fields in fresh if fields])
        self._read_below = min(self._max_in_flight - 1, len(fresh) // 2)
        for stream, entry_id, fields in fresh:
            shard = self._stream_shard(stream)
            # an entry without a conversation id (stored by an older version) is ordered with all such entries
            conversation = (fields or {}).get(CONVERSATION, b"")
            self._in_flight.add((shard, entry_id))
            self._busy[shard] = self._busy.get(shard, 0) + 1
            task = asyncio.create_task(
                self._after(self._tails.get(conversation), stream, shard, entry_id, fields or {})
            )
            self._tails[conversation] = task
            self._tasks.add(task)
            task.add_done_callback(
                functools.partial(self._finished, conversation=conversation, shard=shard, entry_id=entry_id)
            )
        if len(self._in_flight) > self._read_below:
            self._room.clear()

    def _finished(self, task: asyncio.Task[bool], conversation: bytes, shard: int, entry_id: bytes) -> None:
        if self._tails.get(conversation) is task:
            del self._tails[conversation]
        self._tasks.discard(task)
        self._in_flight.discard((shard, entry_id))
        self._busy[shard] -= 1
        if not self._busy[shard]:
            del self._busy[shard]
        if len(self._in_flight) <= self._read_below:
            self._room.set()

    async def _after(
        self,
        previous: asyncio.Task[bool] | None,
        stream: bytes,
        shard: int,
        entry_id: bytes,
        fields: dict[bytes, bytes],
    ) -> bool:
        """Handle an entry once its conversation's previous one is done; False if it was left pending (its shard
        is no longer ours: the next owner handles it and those after it)."""
        if previous is not None:
            try:
                if not await asyncio.shield(previous):
                    return False
            except RedisError:  # not expected (retried below); the entry stays pending all the same
                return False
        attempts = waits = 0
        while shard in self.owned:
            try:
                outcome = await self._handle_entry(stream, entry_id, fields, attempts)
            except RedisError as exc:  # acknowledging it, or dead-lettering it: a passing condition
                log.warning("consumer write failed", extra={"consumer": self.name, "error": str(exc)})
                outcome = True
            if outcome is None:
                return True
            if outcome:
                waits += 1
            else:
                attempts += 1
            await asyncio.sleep(min(2.0, 0.1 * 2 ** max(1, attempts + waits)))
        log.info("entry left to the shard's next owner", extra={"consumer": self.name, "entry": entry_id.decode()})
        return False

    async def _handle_entry(
        self, stream: bytes, entry_id: bytes, fields: dict[bytes, bytes], failures: int
    ) -> bool | None:
        """None once the entry is done (handled or dead-lettered, and acknowledged); else whether to retry it for
        a passing condition (True, not counted) or after a failure (False)."""
        raw = fields.get(FIELD)
        try:
            if raw is not None:
                await self._handler(MetaEvent.model_validate_json(raw), self.worker)
        except asyncio.CancelledError:
            raise
        except RetryLater as exc:
            log.info(
                "event retried later",
                extra={"consumer": self.name, "entry": entry_id.decode(), "reason": str(exc), **exc.context},
            )
            return True
        except Exception as exc:  # noqa: BLE001 (any failure: keep the entry, retry, then dead-letter)
            log.warning(
                "event handling failed",
                extra={
                    "consumer": self.name,
                    "entry": entry_id.decode(),
                    "attempt": failures + 1,
                    "error": repr(exc)[:200],
                },
            )
            if failures + 1 < self._max_attempts:
                return False
            await self._redis.xadd(self._keys.ingest_dead, {FIELD: raw or b"", b"error": repr(exc)[:500]})
            log.error("event dead-lettered", extra={"consumer": self.name, "entry": entry_id.decode()})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()
        return None


async def run_consumers(consumers: list[Consumer], stop: asyncio.Event) -> None:
    """Run consumers until ``stop`` is set."""
    await asyncio.gather(*(c.run(stop) for c in consumers))
