"""Durable intake of webhook events and the consumers that process them.

The webhook stores parsed events in Redis streams and answers at once;
consumers process them afterwards, in the bot service (asyncio tasks) or as
separate replicas (``dmdesk consume``).

Order and failover: conversations are hashed to ``shards`` streams, each read
by one consumer at a time under a lease (:mod:`bot.shards`: sharing, give-back,
takeover of a dead consumer's pending entries, which are handled before any
new entry of their shard). A consumer chains each entry it reads behind the
previous one of its conversation: one conversation's events are handled one
after the other, in stream order, other conversations (of the same shard or
another) concurrently. A read does not wait for the whole read before it,
only until at most half of it is still in flight (and fewer than
``max_in_flight``): the slow end of a read overlaps the next one, and entries
still come in batches, which the handler encodes together. An entry that
fails is retried in place, with a growing pause; the entries after it in its
conversation wait for it. An entry is acknowledged (and deleted) only after
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
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import RetryLater
from bot.fencing import Worker
from bot.keys import Keys
from bot.shards import GROUP, ShardLeases, shard_of
from connectors.meta.events import MetaEvent

log = logging.getLogger(__name__)

FIELD = b"e"
#: the event's conversation id, beside it: the consumer orders entries by it without parsing them
CONVERSATION = b"c"

Handler = Callable[[MetaEvent, Worker], Awaitable[None]]


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


class Consumer(ShardLeases):
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
        super().__init__(redis, keys, shards, name, lease_ms)
        self._handler = handler
        self._max_attempts = max_attempts
        self._max_in_flight = max_in_flight
        #: (shard, entry id) -> the task of each entry read and not yet done (ids are unique within a stream only)
        self._in_flight: dict[tuple[int, bytes], asyncio.Task[bool]] = {}
        self._tails: dict[bytes, asyncio.Task[bool]] = {}  # conversation -> its last entry's task
        #: the next read waits until at most this many entries are in flight: half of the last read (the rest
        #: of a read overlaps the next one, whose entries are batched, e.g. for encoding), below max_in_flight
        self._read_below = 0
        self._stopping = False  # set once ``stop`` is: entries not begun yet are left pending, none retried
        self._room = asyncio.Event()  # set while at most ``_read_below`` entries are in flight
        self._room.set()
        self.worker = Worker(redis, keys, self.name, lease_ms)

    # --- processing
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
            self._stopping = True
            await self.drain()
            stopped = True
        finally:
            if not stopped:
                for task in list(self._in_flight.values()):
                    task.cancel()
            halt.set()
            stop_waiter.cancel()
            maintainer.cancel()
            with contextlib.suppress(RedisError):
                await self.release_all()

    async def drain(self) -> None:
        """Wait until every entry read so far was handled (or left pending for a retry elsewhere)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight.values()), return_exceptions=True)

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
                    shard = self._stream_shard(stream)
                    got.add(shard)
                    self._recovering[shard] = entries[-1][0]
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

    def _start(self, batches: list) -> None:  # type: ignore[type-arg]
        """Chain every entry read behind its conversation's previous one (one task per entry).

        A handler with a ``read_ahead`` method sees every entry of the read first (``MetaHandler``
        starts encoding their texts then, in one batch, while they wait their turn).
        """
        fresh = [
            (stream, shard, entry_id, fields)
            for stream, shard, entries in ((stream, self._stream_shard(stream), entries) for stream, entries in batches)
            for entry_id, fields in entries
            if (shard, entry_id) not in self._in_flight  # a pending entry read again while it is being handled
        ]
        read_ahead = getattr(self._handler, "read_ahead", None)
        if read_ahead is not None:
            read_ahead([fields.get(FIELD) for _, _, _, fields in fresh if fields])
        self._read_below = min(self._max_in_flight - 1, len(fresh) // 2)
        for stream, shard, entry_id, fields in fresh:
            # an entry without a conversation id (stored by an older version) is ordered with all such entries
            conversation = (fields or {}).get(CONVERSATION, b"")
            self._busy[shard] = self._busy.get(shard, 0) + 1
            task = asyncio.create_task(
                self._after(self._tails.get(conversation), stream, shard, entry_id, fields or {})
            )
            self._in_flight[(shard, entry_id)] = task
            self._tails[conversation] = task
            task.add_done_callback(
                functools.partial(self._finished, conversation=conversation, shard=shard, entry_id=entry_id)
            )
        if len(self._in_flight) > self._read_below:
            self._room.clear()

    def _finished(self, task: asyncio.Task[bool], conversation: bytes, shard: int, entry_id: bytes) -> None:
        if self._tails.get(conversation) is task:
            del self._tails[conversation]
        del self._in_flight[(shard, entry_id)]
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
        is no longer ours, or the consumer is stopping: the next owner handles it and those after it)."""
        if previous is not None and not await asyncio.shield(previous):
            return False
        attempts = waits = 0
        while shard in self.owned and not self._stopping:
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
