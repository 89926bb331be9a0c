"""The knowledge base: FAQ entries in Redis, an in-process index, and decisions.

Every process keeps its own index and rebuilds it when the FAQ version in
Redis changes, re-encoding only texts whose vectors are not cached.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from redis import Redis

from bot.encoders import Encoder
from bot.faq import store
from bot.faq.index import Candidate, FaqIndex, IndexWeights
from bot.faq.models import FaqBook, FaqEntry
from bot.faq.verifier import Verifier
from bot.keys import Keys

log = logging.getLogger(__name__)


class DecisionKind(str, Enum):
    """What the bot does with a question."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    NONE = "none"


@dataclass(frozen=True)
class Thresholds:
    """Calibrated decision thresholds.

    ``answer``, ``clarify`` and ``strict`` are verifier probabilities (that
    the top entry answers the message); ``window`` is in combined z-score
    units: entries that close to the top are offered as choices.
    """

    answer: float
    clarify: float
    window: float
    strict: float


@dataclass(frozen=True)
class Decision:
    """The outcome of a search: answer one entry, offer choices, or nothing."""

    kind: DecisionKind
    candidates: list[Candidate] = field(default_factory=list)
    confidence: float = 0.0
    ranked: list[Candidate] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        """The top candidate, if any."""
        return self.candidates[0] if self.candidates else None


def decide(
    candidates: Sequence[Candidate], confidence: float, t: Thresholds, strict: bool = False, max_choices: int = 3
) -> Decision:
    """Turn ranked candidates into an answer, a clarification or nothing.

    Args:
        candidates: Ranked candidates, best first.
        confidence: Verifier probability that the top candidate is right.
        t: Thresholds.
        strict: The message did not look like a question for the FAQ (out of
            scope by NLU): answer only when very sure, never offer choices.
        max_choices: At most this many entries are offered.
    """
    if not candidates:
        return Decision(DecisionKind.NONE)
    ranked = list(candidates)
    top = candidates[0]
    if strict:
        kind = DecisionKind.ANSWER if confidence >= t.strict else DecisionKind.NONE
        return Decision(kind, [top], confidence, ranked)
    if confidence >= t.answer:
        return Decision(DecisionKind.ANSWER, [top], confidence, ranked)
    if confidence >= t.clarify:
        close = [c for c in candidates if top.score - c.score <= t.window][:max_choices]
        return Decision(DecisionKind.CLARIFY, close, confidence, ranked)
    return Decision(DecisionKind.NONE, [top], confidence, ranked)


def read_book(redis: Redis, keys: Keys) -> FaqBook:
    """The FAQ as stored in Redis (empty when never imported), without building an index."""
    raw_meta = redis.get(keys.faq_meta)
    empty = {"brand": "", "default_language": "en", "languages": ["en"], "order": []}
    meta: dict[str, Any] = json.loads(raw_meta) if raw_meta else empty
    raw = redis.hgetall(keys.faq_entries)
    entries = {k.decode() if isinstance(k, bytes) else k: FaqEntry.model_validate_json(v) for k, v in raw.items()}
    order = [i for i in meta.get("order", []) if i in entries] + sorted(set(entries) - set(meta.get("order", [])))
    return FaqBook(
        version=meta.get("version", 1),
        brand=meta["brand"],
        default_language=meta["default_language"],
        languages=meta["languages"],
        entries=[entries[i] for i in order],
    )


class RedisVectorCache:
    """Embedding cache in a Redis hash per encoder."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def get_many(self, encoder: str, digests: Sequence[str]) -> list[bytes | None]:
        """Return cached vectors (or None) for the digests."""
        if not digests:
            return []
        return list(self._redis.hmget(self._keys.embeddings(encoder), list(digests)))  # type: ignore[arg-type]

    def set_many(self, encoder: str, items: dict[str, bytes]) -> None:
        """Store vectors by digest."""
        if items:
            self._redis.hset(self._keys.embeddings(encoder), mapping=items)  # type: ignore[arg-type]


class KnowledgeBase:
    """FAQ entries in Redis plus this process's index over them."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        encoders: Sequence[Encoder],
        weights: IndexWeights,
        verifier: Verifier,
        thresholds: Thresholds,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.verifier = verifier
        self.thresholds = thresholds
        self.index = FaqIndex(encoders, weights, RedisVectorCache(redis, keys))
        self._book: FaqBook | None = None
        self._version: int | None = None
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- storage
    def seed_from_file(self, path: Path, timeout_s: float = 30.0) -> bool:
        """Import ``path`` if Redis has no FAQ yet. Returns True if this call imported."""
        if self._redis.exists(self._keys.faq_version):
            return False
        if self._redis.set(self._keys.faq_seed_lock, "1", nx=True, ex=int(timeout_s)):
            try:
                if not self._redis.exists(self._keys.faq_version):
                    self.replace_all(store.load(path))
                    log.info("faq imported", extra={"path": str(path)})
                    return True
                return False
            finally:
                self._redis.delete(self._keys.faq_seed_lock)
        deadline = time.monotonic() + timeout_s
        while not self._redis.exists(self._keys.faq_version) and time.monotonic() < deadline:
            time.sleep(0.05)
        return False

    def replace_all(self, book: FaqBook) -> int:
        """Replace the whole FAQ with ``book`` atomically; returns the new version."""
        meta = {
            "brand": book.brand,
            "default_language": book.default_language,
            "languages": book.languages,
            "version": book.version,
            "order": [e.id for e in book.entries],
        }
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._keys.faq_entries)
        if book.entries:
            pipe.hset(self._keys.faq_entries, mapping={e.id: e.model_dump_json() for e in book.entries})
        pipe.set(self._keys.faq_meta, json.dumps(meta))
        pipe.incr(self._keys.faq_version)
        pipe.publish(self._keys.faq_changed_channel, "all")
        version = int(pipe.execute()[-2])
        return version

    def _load_book(self) -> FaqBook:
        return read_book(self._redis, self._keys)

    def current_version(self) -> int:
        """The FAQ version in Redis (0 when empty)."""
        return int(self._redis.get(self._keys.faq_version) or 0)

    def refresh(self) -> bool:
        """Rebuild the index if the FAQ changed in Redis. Returns True if rebuilt."""
        version = self.current_version()
        if version == self._version and self._book is not None:
            return False
        with self._lock:
            if version == self._version and self._book is not None:
                return False
            book = self._load_book()
            self.index.build(book.entries)
            self._book, self._version = book, version
            log.info(
                "faq index built",
                extra={"version": version, "entries": len(self.index), "encoded": self.index.encoded_last_build},
            )
            return True

    @property
    def book(self) -> FaqBook:
        """The FAQ as last loaded (refreshing first if never loaded)."""
        if self._book is None:
            self.refresh()
        assert self._book is not None
        return self._book

    # ------------------------------------------------------------------ search
    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """Ranked candidates for a customer message (refreshes the index if stale)."""
        self.refresh()
        return self.index.search(text, k)

    def ask(self, text: str, strict: bool = False) -> Decision:
        """Search and decide in one call: the same path the bot uses."""
        candidates = self.search(text)
        return decide(candidates, self.verifier.probability(candidates), self.thresholds, strict=strict)
