"""The Rasa URL every client process uses, switched by the NLU supervisor with no failed request.

Each client (bot service, consumer replicas) reads the endpoint record from
Redis every ``refresh_s`` and counts its requests in flight per URL. After
a switch, new requests go to the new server while the old one finishes what
it has; every client reports the generation it uses and how many requests it
still has on older URLs, and the supervisor stops the old server only when
every live client reports none (``bot.retrain.supervisor``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.keys import Keys
from bot.retrain.models import ClientReport, RasaEndpoint

log = logging.getLogger(__name__)


class RasaEndpoints:
    """This process's view of the Rasa endpoint, with requests in flight per URL."""

    def __init__(self, redis: Redis, keys: Keys, fallback_url: str, refresh_s: float = 0.25) -> None:
        self._redis = redis
        self._keys = keys
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.refresh_s = refresh_s
        self.url = fallback_url.rstrip("/")
        self.generation = 0
        self._inflight: Counter[str] = Counter()
        self._read_at = 0.0

    async def refresh(self) -> None:
        """Read the endpoint record and report this client's state."""
        self._read_at = time.monotonic()
        try:
            raw = await self._redis.get(self._keys.rasa_endpoint)
            if raw:
                endpoint = RasaEndpoint.model_validate_json(raw)
                if endpoint.generation != self.generation:
                    log.info("rasa endpoint switched", extra={"url": endpoint.url, "generation": endpoint.generation})
                    self.url, self.generation = endpoint.url.rstrip("/"), endpoint.generation
            await self._report()
        except RedisError as exc:  # keep the last known URL; the next refresh retries
            log.warning("rasa endpoint not read", extra={"error": type(exc).__name__})

    async def _report(self) -> None:
        old = sum(n for url, n in self._inflight.items() if url != self.url)
        report = ClientReport(generation=self.generation, inflight_old=old, at=time.time())
        await self._redis.hset(self._keys.rasa_clients, self.name, report.model_dump_json())  # type: ignore[misc]

    @asynccontextmanager
    async def use(self) -> AsyncIterator[str]:
        """The base URL for one request, counted in flight until the block ends."""
        if time.monotonic() - self._read_at >= self.refresh_s:
            await self.refresh()
        url = self.url  # chosen and counted with no await in between
        self._inflight[url] += 1
        try:
            yield url
        finally:
            self._inflight[url] -= 1
            if self._inflight[url] <= 0:
                del self._inflight[url]

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh and report until ``stop`` is set; then withdraw the report."""
        while not stop.is_set():
            await self.refresh()
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.refresh_s)
        with suppress(RedisError):
            await self._redis.hdel(self._keys.rasa_clients, self.name)  # type: ignore[misc]
