"""Unanswered messages of each brand in Redis (a hash of items, a sorted set by time, capped)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

from redis import Redis

from bot.errors import NotFoundError
from bot.faq.turn import FaqTurn, Outcome
from bot.keys import Keys
from bot.unanswered.models import ItemStatus, MissKind, UnansweredItem

log = logging.getLogger(__name__)

MAX_TEXT = 1000
_KINDS = {
    Outcome.NO_ANSWER: MissKind.NONE,
    Outcome.OUT_OF_SCOPE: MissKind.NONE,
    Outcome.CLARIFY: MissKind.CLARIFY,
    Outcome.ESCALATE: MissKind.HANDOFF,
}


def miss_of(turn: FaqTurn) -> MissKind | None:
    """Why an FAQ turn belongs in the inbox (None: the bot answered)."""
    return _KINDS.get(turn.outcome)


class UnansweredStore:
    """Record, list and close unanswered messages."""

    def __init__(self, redis: Redis, keys: Keys, kept: int = 5000) -> None:
        self._redis = redis
        self._keys = keys
        self.kept = kept

    def record_turn(self, brand: str, text: str, language: str | None, turn: FaqTurn, conversation_id: str) -> None:
        """Record an FAQ turn the bot did not answer directly (the action server calls this)."""
        kind = miss_of(turn)
        if kind is None:
            return
        candidates = [str(c["entry_id"]) for c in (turn.attempt or {}).get("candidates", [])]
        strict = turn.outcome is Outcome.OUT_OF_SCOPE
        reason = (turn.attempt or {}).get("reason")
        self.record(brand, text, language, kind, conversation_id, candidates, strict, reason)

    def record(
        self,
        brand: str,
        text: str,
        language: str | None,
        kind: MissKind,
        conversation_id: str,
        candidates: Iterable[str] = (),
        strict: bool = False,
        reason: str | None = None,
    ) -> UnansweredItem | None:
        """Store one message (called by the bot at decision time); None when it has no text."""
        clean = " ".join(text.split())[:MAX_TEXT]
        if not clean:
            return None
        item = UnansweredItem(
            id=uuid.uuid4().hex[:16],
            brand=brand,
            text=clean,
            language=language,
            kind=kind,
            strict=strict,
            conversation_id=conversation_id,
            at=time.time(),
            candidates=list(candidates)[:3],
            reason=reason,
        )
        order = self._keys.unanswered_order(brand)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.unanswered_items(brand), item.id, item.model_dump_json())
        pipe.zadd(order, {item.id: item.at})
        pipe.zrange(order, 0, -self.kept - 1)
        pipe.zremrangebyrank(order, 0, -self.kept - 1)
        dropped = pipe.execute()[2]
        if dropped:
            self._redis.hdel(self._keys.unanswered_items(brand), *dropped)
        return item

    def items(self, brand: str, status: ItemStatus | None = ItemStatus.OPEN, limit: int = 2000) -> list[UnansweredItem]:
        """Newest first, of one status (None: all)."""
        ids = self._redis.zrevrange(self._keys.unanswered_order(brand), 0, max(0, limit - 1))
        if not ids:
            return []
        raw = self._redis.hmget(self._keys.unanswered_items(brand), ids)  # type: ignore[arg-type]
        items = [UnansweredItem.model_validate_json(r) for r in raw if r]  # type: ignore[union-attr]
        return [i for i in items if status is None or i.status is status]

    def get(self, brand: str, item_id: str) -> UnansweredItem:
        """One item.

        Raises:
            NotFoundError: No such message in the brand's inbox.
        """
        raw = self._redis.hget(self._keys.unanswered_items(brand), item_id)
        if raw is None:
            raise NotFoundError("unanswered message not found", item_id=item_id)
        return UnansweredItem.model_validate_json(raw)  # type: ignore[arg-type]

    def save(self, items: Iterable[UnansweredItem]) -> None:
        """Store changed items (status, re-check results)."""
        by_brand: dict[str, dict[str, str]] = {}
        for item in items:
            by_brand.setdefault(item.brand, {})[item.id] = item.model_dump_json()
        for brand, mapping in by_brand.items():
            self._redis.hset(self._keys.unanswered_items(brand), mapping=mapping)  # type: ignore[arg-type]
