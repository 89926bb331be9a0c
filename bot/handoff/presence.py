"""Agent availability: who is online to answer a handoff now.

An agent is **online** when they were seen within ``DMDESK_PRESENCE_TTL_S``
seconds and have not marked themselves away. Being seen means: an open live
event stream (``GET /api/agent/events``, which checks the session and
refreshes presence at every keep-alive, every 15 s), or marking oneself
available (``PUT /api/agent/availability``, which API clients without a
stream can repeat as a heartbeat). Logging out, or marking oneself away,
takes an agent offline at once; a closed console is offline once the TTL has
passed.

Presence counts (``DMDESK_AGENT_PRESENCE``): ``on`` always, ``off`` never
(support hours only), ``auto`` (default) when the brand has agent accounts,
so deployments that work tickets only through ``/api/handoffs`` are not told
"nobody is online".
"""

from __future__ import annotations

import time

from redis import Redis

from bot.keys import Keys


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Presence:
    """Presence and availability of a brand's agents, in Redis (shared by every replica)."""

    def __init__(self, redis: Redis, keys: Keys, ttl_s: int, mode: str = "auto") -> None:
        self._redis = redis
        self._keys = keys
        self.ttl_s = ttl_s
        self.mode = mode

    def seen(self, brand: str, username: str, now: float | None = None) -> None:
        """Record that the agent is connected now."""
        moment = now if now is not None else time.time()
        self._redis.zadd(self._keys.agent_presence(brand), {username: int(moment * 1000)})

    def gone(self, brand: str, username: str) -> None:
        """The agent logged out."""
        self._redis.zrem(self._keys.agent_presence(brand), username)

    def set_available(self, brand: str, username: str, available: bool, now: float | None = None) -> None:
        """Mark the agent available (and seen now) or away."""
        pipe = self._redis.pipeline(transaction=True)
        if available:
            pipe.srem(self._keys.agent_away(brand), username)
            pipe.zadd(self._keys.agent_presence(brand), {username: int((now or time.time()) * 1000)})
        else:
            pipe.sadd(self._keys.agent_away(brand), username)
        pipe.execute()

    def is_away(self, brand: str, username: str) -> bool:
        """True if the agent marked themselves away."""
        return bool(self._redis.sismember(self._keys.agent_away(brand), username))

    def last_seen(self, brand: str, username: str) -> float | None:
        """When the agent was last seen (s), or None."""
        score = self._redis.zscore(self._keys.agent_presence(brand), username)
        return None if score is None else float(score) / 1000  # type: ignore[arg-type]

    def online(self, brand: str, now: float | None = None) -> list[str]:
        """Usernames of the brand's online agents, sorted."""
        moment = now if now is not None else time.time()
        cutoff = int((moment - self.ttl_s) * 1000)
        key = self._keys.agent_presence(brand)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", f"({cutoff}")
        pipe.zrangebyscore(key, cutoff, "+inf")
        pipe.smembers(self._keys.agent_away(brand))
        _, seen, away = pipe.execute()
        away_names = {_text(a) for a in away}
        return sorted(name for name in (_text(s) for s in seen) if name not in away_names)

    def counts(self, brand: str) -> bool:
        """Whether online agents decide what customers are told (see the module docstring)."""
        if self.mode == "off":
            return False
        if self.mode == "on":
            return True
        return bool(self._redis.scard(self._keys.accounts(brand)))

    def anyone_online(self, brand: str, now: float | None = None) -> bool | None:
        """True/False when presence counts for the brand, else None (support hours decide alone)."""
        if not self.counts(brand):
            return None
        return bool(self.online(brand, now))
