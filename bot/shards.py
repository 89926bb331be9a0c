"""Shard leases of the ingest consumers: which consumer reads which shard stream.

Conversations are hashed to ``shards`` streams (:func:`shard_of`). A shard is
read by one consumer at a time, which holds its lease (a Redis key with an
expiry, renewed while the consumer lives). Live consumers (heartbeats in a
sorted set) share the shards evenly; one over its share gives the extra back
(once nothing of it is in flight or being read); a consumer that takes a
shard over claims its pending entries (XAUTOCLAIM) and reads them first.
The processing itself is :class:`bot.ingest.Consumer`'s.
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

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.keys import Keys

log = logging.getLogger(__name__)

#: the consumer group of every shard stream
GROUP = "dispatch"

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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


class ShardLeases:
    """A consumer's shards: taken, renewed, shared with the other live consumers, given back."""

    def __init__(self, redis: Redis, keys: Keys, shards: int, name: str | None, lease_ms: int) -> None:
        self._redis = redis
        self._keys = keys
        self._shards = shards
        self.name = name or f"c-{uuid.uuid4().hex[:10]}"
        self._lease_ms = lease_ms
        self.owned: set[int] = set()
        self._recovering: dict[int, bytes] = {}  # shard -> the last pending entry read (taken over)
        self._busy: dict[int, int] = {}  # shard -> entries in flight
        self._reading: set[int] = set()  # shards of the read in flight
        self._releasing: set[int] = set()  # over the cap: read no more, given back once idle
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

    async def _maintain(self, stop: asyncio.Event) -> None:
        # Ended by ``stop`` (not by cancellation alone: a Redis call may swallow a CancelledError)
        while not stop.is_set():
            try:
                await self._balance()
            except RedisError as exc:
                log.warning("consumer balance failed", extra={"consumer": self.name, "error": str(exc)})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._lease_ms / 3000)

    def _stream_shard(self, stream: bytes | str) -> int:
        name = stream.decode() if isinstance(stream, bytes) else stream
        return int(name.rsplit(":", 1)[1])
