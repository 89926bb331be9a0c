"""A conversation's recent Meta context (referrals, story replies, story mentions), kept for Rasa and agents.

Items are appended when their event is handled and read back (the last few) into the metadata
of each message and into a ticket opened by a person. Appending is idempotent: an event handled
again (its entry retried after a failure further on) adds nothing a second time.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from bot.keys import Keys
from connectors.meta.events import EventKind, MetaEvent

CONTEXT_TTL_S = 30 * 24 * 3600
CONTEXT_KEEP = 20
CONTEXT_SHOWN = 5

# KEYS: the context list; ARGV: keep, ttl (s), item, item, ... Each item is appended unless the
# list holds it already (the same event's item is the same JSON text); then trimmed, its expiry renewed.
_ADD = """
for i = 3, #ARGV do
  if not redis.call('LPOS', KEYS[1], ARGV[i]) then redis.call('RPUSH', KEYS[1], ARGV[i]) end
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def context_items(event: MetaEvent) -> list[dict[str, Any]]:
    """What an event adds to its conversation's context (a referral, a story reply or mention), if anything."""

    def item(kind: str, data: dict[str, Any]) -> dict[str, Any]:
        fields = {(f"{kind}_type" if k == "type" else k): v for k, v in data.items()}
        return {**fields, "type": kind, "at": event.timestamp}

    items: list[dict[str, Any]] = []
    if event.referral or event.kind == EventKind.REFERRAL:
        items.append(item("referral", event.referral or {}))
    story = (event.reply_to or {}).get("story")
    if isinstance(story, dict):
        items.append(item("story_reply", {**story, "mid": event.mid}))
    if event.kind == EventKind.STORY_MENTION:
        items += [item("story_mention", {**(a.get("payload") or {}), "mid": event.mid}) for a in event.attachments]
    return items


class ConversationContext:
    """The context lists of conversations in Redis."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._add = redis.register_script(_ADD)

    async def add(self, event: MetaEvent) -> None:
        """Append the event's items (none twice, however often the event is handled)."""
        items = context_items(event)
        if not items:
            return
        key = self._keys.conversation_context(event.conversation_id)
        await self._add(keys=[key], args=[CONTEXT_KEEP, CONTEXT_TTL_S, *[json.dumps(i) for i in items]])

    async def recent(self, conversation_id: str) -> list[dict[str, Any]]:
        """The last few items, oldest first."""
        raw = await self._redis.lrange(self._keys.conversation_context(conversation_id), -CONTEXT_SHOWN, -1)  # type: ignore[misc]
        return [json.loads(r) for r in raw]
