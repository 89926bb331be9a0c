"""Fencing between ingest consumers: who may process a message, and who may send a reply part.

A consumer that loses its shard lease while it is still working (starved of
CPU, paused) is not dead: the consumer that takes the shard over must not
process the same message or send the same reply part a second time. So every
step with an effect outside Redis is *held* by one consumer, named in Redis:

* a message being processed: its de-duplication marker is ``processing:<consumer>``;
* a reply part being sent: the outbox field ``claim:<index>`` is the consumer's name.

Another consumer takes a held step over only when the holder's heartbeat (the
consumers' sorted set) is older than ``3 * lease`` — the holder died — and
otherwise retries later (:class:`InFlightElsewhere`, not counted as a failure).
Both checks and the takeover are one Lua script each, so two consumers can never
both win. What remains is the crash window of any at-least-once sender: a
consumer that died after Meta accepted a part but before it was marked sent.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from bot.errors import RetryLater
from bot.keys import Keys

PROCESSING, DONE = "processing", "done"
STALE_LEASES = 3  # a consumer whose heartbeat is older than this many leases is dead

# ARGV[2] = the heartbeat cut-off (ms): a holder whose last beat is older is dead
_HOLDER_LIVES = """
local function lives(holder)
  local beat = redis.call('ZSCORE', KEYS[2], holder)
  return beat and tonumber(beat) >= tonumber(ARGV[2])
end
"""

# KEYS: marker, consumers; ARGV: "processing:<me>", cut-off, ttl (s).
# 1: process it (new, ours, or its holder died); 0: done before; -1: a live consumer holds it.
_HOLD_MESSAGE = (
    _HOLDER_LIVES
    + """
local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3]) return 1 end
if v == ARGV[1] then return 1 end
if string.sub(v, 1, 10) ~= 'processing' then return 0 end
if lives(string.sub(v, 12)) then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return 1
"""
)

# KEYS: outbox, consumers; ARGV: index, cut-off, me.
# 1: send it; 0: sent already; -1: a live consumer is sending it.
_HOLD_PART = (
    _HOLDER_LIVES
    + """
if tonumber(redis.call('HGET', KEYS[1], 'sent') or '0') > tonumber(ARGV[1]) then return 0 end
local field = 'claim:' .. ARGV[1]
local holder = redis.call('HGET', KEYS[1], field)
if holder and holder ~= ARGV[3] and lives(holder) then return -1 end
redis.call('HSET', KEYS[1], field, ARGV[3])
return 1
"""
)

# KEYS: outbox; ARGV: index, me. The part counts as sent (only by its holder, only once).
_PART_SENT = """
if redis.call('HGET', KEYS[1], 'claim:' .. ARGV[1]) ~= ARGV[2] then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'sent') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'sent', tonumber(ARGV[1]) + 1)
return 1
"""

# KEYS: marker; ARGV: "processing:<me>". Forget the marker only while we hold it.
_RELEASE_MESSAGE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class InFlightElsewhere(RetryLater):
    """Another live consumer is processing this message or sending this part: retry later."""


class Worker:
    """One consumer's identity in the fencing protocol (its name is its heartbeat's member)."""

    def __init__(self, redis: Redis, keys: Keys, name: str, lease_ms: int) -> None:
        self._redis = redis
        self._keys = keys
        self.name = name
        self.lease_ms = lease_ms
        self._hold_message = redis.register_script(_HOLD_MESSAGE)
        self._release_message = redis.register_script(_RELEASE_MESSAGE)
        self._hold_part = redis.register_script(_HOLD_PART)
        self._part_sent = redis.register_script(_PART_SENT)

    @property
    def _marker(self) -> str:
        return f"{PROCESSING}:{self.name}"

    def _cutoff_ms(self) -> int:
        return int(time.time() * 1000) - STALE_LEASES * self.lease_ms

    async def hold_message(self, marker_key: str, ttl_s: int) -> bool:
        """True: process the message (first sight, or its holder died); False: it was done before.

        Raises:
            InFlightElsewhere: A live consumer is processing it.
        """
        held = await self._hold_message(
            keys=[marker_key, self._keys.ingest_consumers], args=[self._marker, self._cutoff_ms(), ttl_s]
        )
        if int(held) < 0:
            raise InFlightElsewhere("message in flight in another consumer", marker=marker_key, consumer=self.name)
        return bool(held)

    async def release_message(self, marker_key: str) -> None:
        """Forget the marker (processing failed), unless another consumer took it over."""
        await self._release_message(keys=[marker_key], args=[self._marker])

    async def hold_part(self, outbox_key: str, index: int) -> bool:
        """True: send part ``index``; False: it was sent.

        Raises:
            InFlightElsewhere: A live consumer is sending it.
        """
        held = await self._hold_part(
            keys=[outbox_key, self._keys.ingest_consumers], args=[index, self._cutoff_ms(), self.name]
        )
        if int(held) < 0:
            raise InFlightElsewhere("reply part in flight in another consumer", outbox=outbox_key, part=index)
        return bool(held)

    async def part_sent(self, outbox_key: str, index: int) -> None:
        """Count part ``index`` as sent (after Meta accepted it)."""
        await self._part_sent(keys=[outbox_key], args=[index, self.name])
