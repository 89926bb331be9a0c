"""Tickets and the waiting queue in Redis.

The queue is a sorted set scored ``priority * 10**13 + created_ms`` so that
ZRANGE returns the most urgent ticket first and, within a priority, the one
waiting longest. Creating a ticket, queueing it and marking the conversation
as owned by a human happen in one Lua script: a conversation never gets two
open tickets, even when two replicas escalate it at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import WatchError

from bot.errors import NotFoundError
from bot.handoff.models import Ticket, TicketSummary, TranscriptLine
from bot.keys import Keys

_PRIORITY_SCALE = 10**13

# KEYS: owner, ticket, queue, all   ARGV: ticket id, ticket json, queue score, created ms, channel
_CREATE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('PUBLISH', ARGV[5], 'created:' .. ARGV[1])
return {1, ARGV[1]}
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def queue_score(priority: int, created_at: float) -> int:
    """Sorted-set score: priority first, then creation time."""
    return priority * _PRIORITY_SCALE + int(created_at * 1000)


class HandoffStore:
    """Redis-backed tickets, queue and conversation ownership."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._create = redis.register_script(_CREATE)

    def open(self, ticket: Ticket) -> tuple[Ticket, bool]:
        """Queue ``ticket`` unless the conversation already has an open one.

        Returns:
            ``(ticket, created)``: the new ticket, or the already open one.
        """
        k = self._keys
        deleted = {_text(m) for m in self._redis.smembers(k.deleted_messages(ticket.conversation_id))}  # type: ignore[union-attr]
        if deleted:
            ticket.transcript = [line for line in ticket.transcript if line.message_id not in deleted]
            ticket.intents = [i for i in ticket.intents if i.get("message_id") not in deleted]
        created, ticket_id = self._create(
            keys=[k.conversation_owner(ticket.conversation_id), k.ticket(ticket.id), k.ticket_queue, k.tickets_all],
            args=[
                ticket.id,
                ticket.model_dump_json(),
                queue_score(ticket.priority, ticket.created_at),
                int(ticket.created_at * 1000),
                k.handoff_channel,
            ],
        )
        if int(created):
            return ticket, True
        existing_id = _text(ticket_id)
        return self.get(existing_id), False

    def get(self, ticket_id: str) -> Ticket:
        """Load one ticket.

        Raises:
            NotFoundError: No such ticket.
        """
        raw = self._redis.get(self._keys.ticket(ticket_id))
        if raw is None:
            raise NotFoundError("ticket not found", ticket_id=ticket_id)
        return Ticket.model_validate_json(raw)

    def owner(self, conversation_id: str) -> str | None:
        """The open ticket id if a human owns the conversation, else None."""
        raw = self._redis.get(self._keys.conversation_owner(conversation_id))
        return None if raw is None else _text(raw)

    def waiting(self, limit: int = 100, offset: int = 0) -> list[TicketSummary]:
        """The queue, most urgent first."""
        ids = self._redis.zrange(self._keys.ticket_queue, offset, offset + limit - 1)
        if not ids:
            return []
        raws = self._redis.mget([self._keys.ticket(_text(i)) for i in ids])  # type: ignore[union-attr]
        now = time.time()
        out = []
        for raw in raws:
            if raw is None:
                continue
            t = Ticket.model_validate_json(raw)
            last = next((line.text for line in reversed(t.transcript) if line.sender == "customer"), None)
            out.append(
                TicketSummary(
                    id=t.id,
                    conversation_id=t.conversation_id,
                    channel=t.channel,
                    customer_name=t.customer.name,
                    language=t.language,
                    reason=t.reason,
                    priority=t.priority,
                    status=t.status,
                    created_at=t.created_at,
                    waiting_s=round(now - t.created_at, 3),
                    last_message=last,
                )
            )
        return out

    def queue_length(self) -> int:
        """Number of waiting tickets."""
        return int(self._redis.zcard(self._keys.ticket_queue))

    def remove_message(self, ticket_id: str, message_id: str) -> bool:
        """Remove a message the customer unsent from the ticket's transcript; True if it was there."""
        removed = False

        def change(ticket: Ticket) -> None:
            nonlocal removed
            before = len(ticket.transcript)
            ticket.transcript = [line for line in ticket.transcript if line.message_id != message_id]
            removed = len(ticket.transcript) != before

        self._update(ticket_id, change)
        return removed

    def append_lines(self, ticket_id: str, lines: list[TranscriptLine]) -> None:
        """Add messages to a ticket's transcript in one transaction.

        The ticket JSON is updated optimistically (WATCH/MULTI), so concurrent
        appends never lose a line.
        """
        self._update(ticket_id, lambda ticket: ticket.transcript.extend(lines))

    def _update(self, ticket_id: str, change: Callable[[Ticket], None]) -> None:
        key = self._keys.ticket(ticket_id)
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        raise NotFoundError("ticket not found", ticket_id=ticket_id)
                    ticket = Ticket.model_validate_json(raw)
                    change(ticket)
                    pipe.multi()
                    pipe.set(key, ticket.model_dump_json())
                    pipe.publish(self._keys.handoff_channel, f"message:{ticket_id}")
                    pipe.execute()
                    return
                except WatchError:
                    continue
