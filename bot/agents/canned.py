"""Canned replies per brand and language (a Redis hash per brand)."""

from __future__ import annotations

import time
import uuid

from redis import Redis

from bot.agents.models import CannedReply, CannedReplyCreate, CannedReplyUpdate
from bot.errors import InvalidInputError, NotFoundError
from bot.keys import Keys

MAX_PER_BRAND = 2000


class CannedStore:
    """CRUD of canned replies."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def list(self, brand: str, language: str | None = None) -> list[CannedReply]:
        """A brand's replies (of one language if given), by language then title."""
        replies = [CannedReply.model_validate_json(v) for v in self._redis.hvals(self._keys.canned_replies(brand))]  # type: ignore[union-attr]
        if language:
            replies = [r for r in replies if r.language == language]
        return sorted(replies, key=lambda r: (r.language, r.title.lower(), r.id))

    def get(self, brand: str, reply_id: str) -> CannedReply:
        """One reply.

        Raises:
            NotFoundError: No such reply in the brand.
        """
        raw = self._redis.hget(self._keys.canned_replies(brand), reply_id)
        if raw is None:
            raise NotFoundError("canned reply not found", reply_id=reply_id)
        return CannedReply.model_validate_json(raw)  # type: ignore[arg-type]

    def create(self, brand: str, data: CannedReplyCreate, author: str) -> CannedReply:
        """Add a reply.

        Raises:
            InvalidInputError: The brand has too many replies.
        """
        key = self._keys.canned_replies(brand)
        if int(self._redis.hlen(key)) >= MAX_PER_BRAND:  # type: ignore[arg-type]
            raise InvalidInputError("too many canned replies")
        reply = CannedReply(
            id=uuid.uuid4().hex[:12], brand=brand, updated_by=author, updated_at=time.time(), **data.model_dump()
        )
        self._redis.hset(key, reply.id, reply.model_dump_json())
        return reply

    def update(self, brand: str, reply_id: str, data: CannedReplyUpdate, author: str) -> CannedReply:
        """Change a reply.

        Raises:
            NotFoundError: No such reply.
            InvalidInputError: A field set to null or blank.
        """
        reply = self.get(brand, reply_id)
        changes = data.model_dump(exclude_unset=True)
        if any(v is None or (isinstance(v, str) and not v.strip()) for v in changes.values()):
            raise InvalidInputError("fields cannot be null or blank")
        updated = reply.model_copy(update={**changes, "updated_by": author, "updated_at": time.time()})
        self._redis.hset(self._keys.canned_replies(brand), reply_id, updated.model_dump_json())
        return updated

    def delete(self, brand: str, reply_id: str) -> None:
        """Remove a reply.

        Raises:
            NotFoundError: No such reply.
        """
        if not self._redis.hdel(self._keys.canned_replies(brand), reply_id):
            raise NotFoundError("canned reply not found", reply_id=reply_id)
