"""Sentence vectors of customer messages, shared by the NLU and the FAQ search of the same turn.

The Rasa server's featurizer (``bot.nlu.components.SentenceEncoderFeaturizer``)
encodes every message with the FAQ index's encoder; the action server then
searched the FAQ with the same text and encoded it again (about a quarter of
the action server's CPU, README "Performance"). The featurizer now puts each
vector in Redis under the SHA-1 of the exact text it encoded, for
:data:`TTL_S` seconds; the search looks its (normalised) query up there first
and encodes only on a miss (a text that normalisation changed, an expired or
lost key, another encoder). Content-addressed: a hit is the vector the search
would have computed itself (the same encoder on the same text; both
environments give bit-identical vectors when they run the same OpenBLAS
kernels, which the stack sets for every process: ``bot.processes.openblas_coretype``;
``tests/unit/test_query_vectors.py`` checks it on dev queries).

Plain Python, numpy and redis-py only: imported by the Rasa process
(Python 3.10) and by the action server.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from bot.keys import Keys

log = logging.getLogger(__name__)

#: seconds a message's vector is kept (a turn takes well under a second; retries, replicas and a
#: busy machine get the rest)
TTL_S = 120
#: Redis calls give up after this long: the vector is an optimisation, a turn never waits for it
SOCKET_TIMEOUT_S = 0.5


def text_digest(text: str) -> str:
    """The key part for a text (the FAQ index's own content address: SHA-1 of UTF-8)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class QueryVectors:
    """Put and get message vectors by encoder and text; Redis errors are logged, never raised."""

    def __init__(self, redis: Redis, keys: Keys, ttl_s: int = TTL_S) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s
        self._warned_at = 0.0

    def _warn(self, what: str, exc: RedisError) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:  # at most once a minute
            self._warned_at = now
            log.warning("query vector %s failed: %s", what, type(exc).__name__)

    def put(self, encoder: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep the vector of each text (rows of ``vectors``, float32)."""
        if not len(texts):
            return
        try:
            self._queue_sets(self._redis.pipeline(transaction=False), encoder, texts, vectors).execute()
        except RedisError as exc:
            self._warn("put", exc)

    async def aput(self, redis: AsyncRedis, encoder: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """:meth:`put` on an asyncio connection (the consumers, which encode messages for the Rasa server)."""
        if not len(texts):
            return
        try:
            async with redis.pipeline(transaction=False) as pipe:
                await self._queue_sets(pipe, encoder, texts, vectors).execute()
        except RedisError as exc:
            self._warn("put", exc)

    def _queue_sets(self, pipe: Any, encoder: str, texts: Sequence[str], vectors: np.ndarray) -> Any:
        for text, vector in zip(texts, vectors, strict=True):
            key = self._keys.query_embedding(encoder, text_digest(text))
            pipe.set(key, np.asarray(vector, dtype=np.float32).tobytes(), ex=self._ttl_s)
        return pipe

    def get(self, encoder: str, text: str, dim: int) -> np.ndarray | None:
        """The vector of ``text`` by ``encoder`` if one was put (and has ``dim`` floats), else None."""
        try:
            raw = self._redis.get(self._keys.query_embedding(encoder, text_digest(text)))
        except RedisError as exc:
            self._warn("get", exc)
            return None
        if not isinstance(raw, bytes) or len(raw) != 4 * dim:
            return None
        return np.frombuffer(raw, dtype=np.float32)


def sharing_enabled() -> bool:
    """False if ``DMDESK_SHARE_QUERY_VECTORS`` is ``false`` (default: true)."""
    return os.environ.get("DMDESK_SHARE_QUERY_VECTORS", "true").lower() not in ("0", "false", "no")


def from_environment() -> QueryVectors | None:
    """The stack's query vectors (``REDIS_URL``, ``DMDESK_REDIS_PREFIX``), or None outside a stack or when off."""
    url = os.environ.get("REDIS_URL")
    if not url or not sharing_enabled():
        return None
    redis = Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S)
    return QueryVectors(redis, Keys(os.environ.get("DMDESK_REDIS_PREFIX", "dmdesk")))
