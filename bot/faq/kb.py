"""The knowledge base: FAQ entries in Redis, an in-process index, and decisions.

Every process keeps its own index. Each FAQ change increments the FAQ version,
records which entries it touched (``Keys.faq_changes``) and is announced on
``Keys.faq_changed_channel``; a listener thread in each process
(:meth:`KnowledgeBase.listen`) then applies just those entries to its index
(re-encoding only texts whose vectors are not cached). Every search also
checks the version first, so a process whose listener missed a message
still answers from the current FAQ.
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
from redis.client import Pipeline
from redis.exceptions import RedisError

from bot.encoders import Encoder
from bot.faq import store
from bot.faq.index import Candidate, FaqIndex, IndexWeights
from bot.faq.models import FaqBook, FaqEntry
from bot.faq.query_vectors import QueryVectors, sharing_enabled
from bot.faq.verifier import Verifier
from bot.keys import Keys

log = logging.getLogger(__name__)


class DecisionKind(str, Enum):
    """What the bot does with a question."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    NONE = "none"


class DecisionReason(str, Enum):
    """Why the decision went the way it did (shown to staff and agents, counted in the inbox)."""

    CONFIDENT = "confident"  # the verifier is sure enough of the top entry
    CLOSE_CALL = "close_call"  # not sure enough to answer, sure enough to offer the closest entries
    LOW_CONFIDENCE = "low_confidence"  # the verifier doubts every entry
    STRICT = "strict"  # NLU found the message out of scope and the verifier is not very sure
    NOT_COVERED = "not_covered"  # closer to one of the FAQ's not-covered questions than to the top entry
    EMPTY = "empty"  # the FAQ has no enabled entry
    SPAM = "spam"  # not searched: the classifier is sure the message is spam (bot.faq.turn.SPAM_SURE)


@dataclass(frozen=True)
class Thresholds:
    """Calibrated decision thresholds.

    ``answer``, ``clarify`` and ``strict`` are verifier probabilities (that
    the top entry answers the message); ``window`` is in combined z-score
    units: entries that close to the top are offered as choices;
    ``not_covered`` is in cosine: a message closer by more than this to one of
    the FAQ's not-covered questions than to the top entry's best text gets
    no answer.
    """

    answer: float
    clarify: float
    window: float
    strict: float
    not_covered: float = 0.05


@dataclass(frozen=True)
class Decision:
    """The outcome of a search: answer one entry, offer choices, or nothing."""

    kind: DecisionKind
    candidates: list[Candidate] = field(default_factory=list)
    confidence: float = 0.0
    ranked: list[Candidate] = field(default_factory=list)
    reason: DecisionReason = DecisionReason.EMPTY

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

    A message closer to one of the FAQ's not-covered questions than to the top
    entry (its ``not_covered`` evidence above ``t.not_covered``) gets nothing.
    """
    if not candidates:
        return Decision(DecisionKind.NONE)
    ranked = list(candidates)
    top = candidates[0]
    if top.evidence.get("not_covered", -1.0) > t.not_covered:
        return Decision(DecisionKind.NONE, [top], confidence, ranked, DecisionReason.NOT_COVERED)
    if strict:
        if confidence >= t.strict:
            return Decision(DecisionKind.ANSWER, [top], confidence, ranked, DecisionReason.CONFIDENT)
        return Decision(DecisionKind.NONE, [top], confidence, ranked, DecisionReason.STRICT)
    if confidence >= t.answer:
        return Decision(DecisionKind.ANSWER, [top], confidence, ranked, DecisionReason.CONFIDENT)
    if confidence >= t.clarify:
        close = [c for c in candidates if top.score - c.score <= t.window][:max_choices]
        return Decision(DecisionKind.CLARIFY, close, confidence, ranked, DecisionReason.CLOSE_CALL)
    return Decision(DecisionKind.NONE, [top], confidence, ranked, DecisionReason.LOW_CONFIDENCE)


#: changes remembered for incremental refreshes; a process further behind rebuilds in full
CHANGES_KEPT = 1000
ALL_ENTRIES = "*"
#: the change id of an edit of the not-covered questions (no entry changed; they travel in the meta)
NOT_COVERED_CHANGE = "~not_covered"

# KEYS: version, changes, channel. ARGV: changes kept, then the changed entry ids ("*": all).
_BUMP = """
local v = redis.call('INCR', KEYS[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], v, v .. ':' .. ARGV[i]) end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[1]) - 1)
redis.call('PUBLISH', KEYS[3], v)
return v
"""


def bump_version(redis: Redis, pipe: Pipeline, keys: Keys, entry_ids: Sequence[str]) -> None:
    """Queue, in ``pipe``'s transaction, the FAQ version increment for changed entries.

    The new version is announced on the change channel; its result is the
    pipeline's reply at this position.
    """
    script = redis.register_script(_BUMP)
    script(
        keys=[keys.faq_version, keys.faq_changes, keys.faq_changed_channel],
        args=[CHANGES_KEPT, *entry_ids],
        client=pipe,
    )


def book_of(meta: dict[str, Any], entries: dict[str, FaqEntry]) -> FaqBook:
    """The FAQ book from its stored meta and entries, in the meta's order (entries it lacks last, by id)."""
    order = [i for i in meta.get("order", []) if i in entries]
    order += sorted(set(entries) - set(order))
    return FaqBook(
        version=meta.get("version", 1),
        brand=meta["brand"],
        default_language=meta["default_language"],
        languages=meta["languages"],
        entries=[entries[i] for i in order],
        not_covered=meta.get("not_covered", []),
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
        # the NLU's vector of a customer message, when it shared it (bot/faq/query_vectors.py)
        queries = QueryVectors(redis, keys) if sharing_enabled() else None
        self.index = FaqIndex(encoders, weights, RedisVectorCache(redis, keys), queries)
        self._book: FaqBook | None = None
        self._version: int | None = None
        self._lock = threading.RLock()  # refreshes and searches: a search never sees a half-updated index
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        #: entries applied by the last refresh (None: a full rebuild)
        self.last_refresh: list[str] | None = None

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
            "not_covered": book.not_covered,
        }
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._keys.faq_entries)
        if book.entries:
            pipe.hset(self._keys.faq_entries, mapping={e.id: e.model_dump_json() for e in book.entries})
        pipe.set(self._keys.faq_meta, json.dumps(meta))
        bump_version(self._redis, pipe, self._keys, [ALL_ENTRIES])
        return int(pipe.execute()[-1])

    @staticmethod
    def _decode_meta(raw_meta: bytes | str | None) -> dict[str, Any]:
        empty = {"brand": "", "default_language": "en", "languages": ["en"], "order": []}
        return json.loads(raw_meta) if raw_meta else empty

    def _load_book(self) -> FaqBook:
        raw = self._redis.hgetall(self._keys.faq_entries)
        entries = {k.decode() if isinstance(k, bytes) else k: FaqEntry.model_validate_json(v) for k, v in raw.items()}  # type: ignore[union-attr]
        return book_of(self._decode_meta(self._redis.get(self._keys.faq_meta)), entries)  # type: ignore[arg-type]

    def current_version(self) -> int:
        """The FAQ version in Redis (0 when empty)."""
        return int(self._redis.get(self._keys.faq_version) or 0)  # type: ignore[arg-type]

    def _changed_since(self, version: int) -> tuple[int, dict[str, Any], set[str] | None]:
        """Current version, meta, and the ids changed after ``version`` (None: rebuild everything)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.get(self._keys.faq_version)
        pipe.get(self._keys.faq_meta)
        pipe.zrangebyscore(self._keys.faq_changes, version + 1, "+inf")
        raw_version, raw_meta, members = pipe.execute()
        current = int(raw_version or 0)
        ids: set[str] = set()
        seen: set[int] = set()
        for member in members:
            at, _, entry_id = (member.decode() if isinstance(member, bytes) else member).partition(":")
            seen.add(int(at))
            ids.add(entry_id)
        if ALL_ENTRIES in ids or not set(range(version + 1, current + 1)) <= seen:
            return current, self._decode_meta(raw_meta), None
        return current, self._decode_meta(raw_meta), ids

    def refresh(self) -> bool:
        """Bring the index up to the FAQ in Redis. Returns True if anything changed.

        Only entries changed since the last refresh are read and re-indexed;
        the first refresh, or one that finds the change log trimmed past its
        version (or a whole-FAQ replacement), rebuilds in full.
        """
        version = self.current_version()
        if version == self._version and self._book is not None:
            return False
        with self._lock:
            if self._book is None or self._version is None:
                current, meta, ids = self.current_version(), dict[str, Any](), None
            else:
                current, meta, ids = self._changed_since(self._version)
            if current == self._version and self._book is not None:
                return False
            if ids is None:
                book = self._load_book()
                self.index.build(book.entries)
            else:
                assert self._book is not None
                ids.discard(NOT_COVERED_CHANGE)  # no entry: the list comes with the meta, applied below
                wanted = sorted(ids)
                raw = self._redis.hmget(self._keys.faq_entries, wanted) if wanted else []
                found = {
                    i: FaqEntry.model_validate_json(r)  # type: ignore[arg-type]
                    for i, r in zip(wanted, raw, strict=True)  # type: ignore[arg-type]
                    if r is not None
                }
                entries = {e.id: e for e in self._book.entries if e.id not in ids} | found
                book = book_of(meta, entries)
                self.index.update(list(found.values()), ids - set(found))
            self.index.set_not_covered(book.not_covered)  # read with the meta, re-encoded only if new
            self._book, self._version = book, current
            self.last_refresh = None if ids is None else sorted(ids)
            log.info(
                "faq index updated",
                extra={
                    "version": current,
                    "entries": len(self.index),
                    "changed": "all" if ids is None else len(ids),
                    "encoded": self.index.encoded_last_build,
                },
            )
            return True

    def listen(self) -> threading.Thread:
        """Start (once) a daemon thread that refreshes as soon as a change is announced.

        It resubscribes after a lost connection and refreshes then, in case
        a change was announced meanwhile.
        """
        with self._lock:
            if self._listener is None or not self._listener.is_alive():
                self._stop.clear()
                self._listener = threading.Thread(target=self._listen, name="faq-listener", daemon=True)
                self._listener.start()
            return self._listener

    def close(self) -> None:
        """Stop the listener thread (within a second)."""
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                try:
                    pubsub.subscribe(self._keys.faq_changed_channel)
                    self.refresh()
                    while not self._stop.is_set():
                        if pubsub.get_message(timeout=1.0) is not None:
                            self.refresh()
                finally:
                    pubsub.close()
            except (RedisError, OSError) as exc:
                log.warning("faq listener lost Redis; retrying", extra={"error": str(exc)})
                self._stop.wait(1.0)

    @property
    def lock(self) -> threading.RLock:
        """Held while the index changes or is searched; hold it to read the index consistently."""
        return self._lock

    @property
    def book(self) -> FaqBook:
        """The FAQ as last loaded (refreshing first if never loaded)."""
        if self._book is None:
            self.refresh()
        assert self._book is not None
        return self._book

    def topic_of(self, entry_id: str) -> str | None:
        """The topic of an FAQ entry (None if there is no such entry)."""
        entry = self.book.get(entry_id)
        return entry.topic if entry is not None else None

    # ------------------------------------------------------------------ search
    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """Ranked candidates for a customer message (refreshes the index if stale)."""
        with self._lock:
            self.refresh()
            return self.index.search(text, k)

    def ask(self, text: str, strict: bool = False) -> Decision:
        """Search and decide in one call: the same path the bot uses."""
        candidates = self.search(text)
        return decide(candidates, self.verifier.probability(candidates), self.thresholds, strict=strict)
