"""Tickets and the waiting queue in Redis.

The queue is a sorted set scored ``priority * 10**13 + created_ms`` so that
ZRANGE returns the most urgent ticket first and, within a priority, the one
waiting longest. Creating a ticket, queueing it and marking the conversation
as owned by a human happen in one Lua script: a conversation never gets two
open tickets, even when two replicas escalate it at once.

Each brand has its own queue, and a hash of the filter fields (channel,
language, team, priority) of its waiting tickets: the agents' queue is
filtered and paged inside Redis (one Lua call), so only the rows of the
requested page are loaded and parsed, however long the queue is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from bot.errors import NotFoundError
from bot.handoff.events import EventType, TicketEvent
from bot.handoff.models import Ticket, TicketStatus, TicketSummary, TranscriptLine
from bot.handoff.scripts import CREATE, FILTER
from bot.keys import Keys

#: ``change(ticket)`` mutates the ticket (or raises) and returns the events to publish
Change = Callable[[Ticket], Sequence[TicketEvent]]

_PRIORITY_SCALE = 10**13


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def queue_score(priority: int, created_at: float) -> int:
    """Sorted-set score: priority first, then creation time."""
    return priority * _PRIORITY_SCALE + int(created_at * 1000)


def created_ms_of(score: float) -> int:
    """The creation time (ms) encoded in a queue score."""
    return int(score) % _PRIORITY_SCALE


def queue_attrs(ticket: Ticket) -> str:
    """The filter fields of a waiting ticket, as stored in ``Keys.queue_attrs``."""
    return json.dumps(
        {"channel": ticket.channel, "language": ticket.language, "team": ticket.team or "", "priority": ticket.priority}
    )


def handoff_labels(ticket: Ticket) -> str:
    """The label set a new ticket is counted under in ``Keys.handoff_counts`` (JSON)."""
    return json.dumps(
        {"reason": ticket.reason.value, "rule": ticket.rule or "", "priority": str(ticket.priority)}, sort_keys=True
    )


@dataclass(frozen=True)
class QueueQuery:
    """Filters and page of a queue request (None: any)."""

    channel: str | None = None
    language: str | None = None
    priority: int | None = None
    team: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class QueuePage:
    """One page of a filtered queue: ticket ids, most urgent first, and how many match in all."""

    ids: list[str]
    total: int


T = TypeVar("T")


class HandoffStore:
    """Redis-backed tickets, queue and conversation ownership."""

    def __init__(self, redis: Redis, keys: Keys, brand: str = "") -> None:
        self._redis = redis
        self._keys = keys
        self._create = redis.register_script(CREATE)
        self._filter = redis.register_script(FILTER)
        #: brand of tickets opened here, and of older tickets that carry none
        self.brand = brand

    def brand_of(self, ticket: Ticket) -> str:
        """The ticket's brand (tickets from before brands belong to the default one)."""
        return ticket.brand or self.brand

    def open(self, ticket: Ticket) -> tuple[Ticket, bool]:
        """Queue ``ticket`` unless the conversation already has an open one.

        Returns:
            ``(ticket, created)``: the new ticket, or the already open one.
        """
        k = self._keys
        ticket.brand = self.brand_of(ticket)
        event = TicketEvent(
            type=EventType.CREATED,
            ticket_id=ticket.id,
            brand=ticket.brand,
            conversation_id=ticket.conversation_id,
            data={"priority": ticket.priority, "reason": ticket.reason.value, "channel": ticket.channel},
        )
        deleted = {_text(m) for m in self._redis.smembers(k.deleted_messages(ticket.conversation_id))}  # type: ignore[union-attr]
        if deleted:
            ticket.transcript = [line for line in ticket.transcript if line.message_id not in deleted]
            ticket.intents = [i for i in ticket.intents if i.get("message_id") not in deleted]
        created, ticket_id = self._create(
            keys=[
                k.conversation_owner(ticket.conversation_id),
                k.ticket(ticket.id),
                k.brand_queue(ticket.brand),
                k.tickets_all,
                k.conversation_tickets(ticket.conversation_id),
                k.queue_attrs(ticket.brand),
                k.brands,
                k.handoff_counts(ticket.brand),
                k.tickets_claimed,
            ],
            args=[
                ticket.id,
                ticket.model_dump_json(),
                queue_score(ticket.priority, ticket.created_at),
                int(ticket.created_at * 1000),
                k.handoff_channel,
                k.agent_events(ticket.brand),
                event.model_dump_json(),
                queue_attrs(ticket),
                ticket.brand,
                handoff_labels(ticket),
                "1" if ticket.status is TicketStatus.WAITING else "0",
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
        return Ticket.model_validate_json(raw)  # type: ignore[arg-type]

    def owner(self, conversation_id: str) -> str | None:
        """The open ticket id if a human owns the conversation, else None."""
        raw = self._redis.get(self._keys.conversation_owner(conversation_id))
        return None if raw is None else _text(raw)

    def waiting(self, limit: int = 100, offset: int = 0) -> list[TicketSummary]:
        """The deployment brand's queue, most urgent first."""
        now = time.time()
        page = self.waiting_page(self.brand, QueueQuery(limit=limit, offset=offset))
        return [TicketSummary(**TicketSummary.fields_of(t, now)) for t in self.get_many(page.ids)]

    def queue_length(self, brand: str | None = None) -> int:
        """Number of waiting tickets of ``brand`` (default: the deployment's)."""
        return int(self._redis.zcard(self._keys.brand_queue(brand or self.brand)))  # type: ignore[arg-type]

    def waiting_page(self, brand: str, query: QueueQuery | None = None) -> QueuePage:
        """Ids of a brand's waiting tickets, filtered and paged inside Redis, most urgent first."""
        q = query or QueueQuery()
        scale = _PRIORITY_SCALE
        low, high = ("-inf", "+inf") if q.priority is None else (q.priority * scale, (q.priority + 1) * scale - 1)
        k = self._keys
        total, ids = self._filter(
            keys=[k.brand_queue(brand), k.queue_attrs(brand)],
            args=[low, high, q.channel or "", q.language or "", q.team or "", q.offset, q.limit],
        )
        return QueuePage(ids=[_text(i) for i in ids], total=int(total))

    def waiting_scores(self, brand: str) -> list[tuple[str, float]]:
        """Every waiting ticket id of a brand with its queue score (metrics)."""
        rows: list[tuple[bytes, float]] = self._redis.zrange(  # type: ignore[assignment]
            self._keys.brand_queue(brand), 0, -1, withscores=True
        )
        return [(_text(i), float(s)) for i, s in rows]

    def waiting_attrs(self, brand: str) -> list[dict[str, object]]:
        """The filter fields of every waiting ticket of a brand (metrics)."""
        raws = self._redis.hvals(self._keys.queue_attrs(brand))
        return [json.loads(r) for r in raws]  # type: ignore[union-attr]

    def _queue(self, pipe: Pipeline, ticket: Ticket) -> None:
        """Queue a waiting ticket (with its filter fields), or take any other out of the queue."""
        k = self._keys
        if ticket.status is TicketStatus.WAITING:
            pipe.zadd(k.brand_queue(ticket.brand), {ticket.id: queue_score(ticket.priority, ticket.created_at)})
            pipe.hset(k.queue_attrs(ticket.brand), ticket.id, queue_attrs(ticket))
        else:
            pipe.zrem(k.brand_queue(ticket.brand), ticket.id)
            pipe.hdel(k.queue_attrs(ticket.brand), ticket.id)

    def migrate_legacy_queue(self) -> int:
        """Move tickets of the single queue of earlier versions (``<prefix>:queue``) into their
        brands' queues; returns how many were moved. Safe to run on every start."""
        legacy = f"{self._keys.prefix}:queue"
        if self._redis.type(legacy) not in (b"zset", "zset"):
            return 0
        moved = 0
        for ticket in self.get_many([_text(i) for i in self._redis.zrange(legacy, 0, -1)]):  # type: ignore[union-attr]
            ticket.brand = self.brand_of(ticket)
            pipe = self._redis.pipeline(transaction=True)
            self._queue(pipe, ticket)
            pipe.zrem(legacy, ticket.id)
            pipe.execute()
            moved += 1
        self._redis.delete(legacy)
        return moved

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
        self._update(ticket_id, lambda ticket: ticket.transcript.extend(lines), lines)

    def _with_ticket(self, ticket_id: str, write: Callable[[Pipeline, Ticket], T]) -> T:
        """Optimistic transaction on one ticket: WATCH its JSON, load it, let ``write`` queue the
        commands (after ``pipe.multi()``), execute; retried from the start when the ticket changed.

        Raises:
            NotFoundError: No such ticket.
        """
        key = self._keys.ticket(ticket_id)
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        raise NotFoundError("ticket not found", ticket_id=ticket_id)
                    result = write(pipe, Ticket.model_validate_json(raw))  # type: ignore[arg-type]
                    pipe.execute()
                    return result
                except WatchError:
                    continue

    def _update(
        self, ticket_id: str, change: Callable[[Ticket], None], new_lines: Sequence[TranscriptLine] = ()
    ) -> None:
        """Change a ticket's JSON optimistically; customer lines in ``new_lines`` are announced to agents."""

        def write(pipe: Pipeline, ticket: Ticket) -> None:
            change(ticket)
            pipe.multi()
            pipe.set(self._keys.ticket(ticket_id), ticket.model_dump_json())
            pipe.publish(self._keys.handoff_channel, f"message:{ticket_id}")
            for line in new_lines:
                if line.sender == "customer":
                    event = TicketEvent(
                        type=EventType.CUSTOMER_MESSAGE,
                        ticket_id=ticket_id,
                        brand=self.brand_of(ticket),
                        conversation_id=ticket.conversation_id,
                        data={"text": line.text, "status": ticket.status.value, "assignee": ticket.assignee},
                    )
                    pipe.publish(self._keys.agent_events(event.brand), event.model_dump_json())

        self._with_ticket(ticket_id, write)

    # ------------------------------------------------------- agent workspace
    def transact(
        self,
        ticket_id: str,
        change: Change,
        extra: Callable[[Pipeline, Ticket], None] | None = None,
        resolved_ttl_s: int = 0,
    ) -> Ticket:
        """Change a ticket atomically (WATCH/MULTI, retried on conflict).

        ``change`` sees the current ticket, mutates it or raises (nothing is
        written then). Queue membership and conversation ownership follow the
        new status in the same transaction: waiting tickets are queued,
        waiting and claimed ones own their conversation, a resolved one
        releases it (and is remembered ``resolved_ttl_s`` seconds so that the
        customer's next message can reopen it). The events are published in
        the same transaction.

        Raises:
            NotFoundError: No such ticket.
        """
        k = self._keys

        def write(pipe: Pipeline, ticket: Ticket) -> Ticket:
            events = change(ticket)
            ticket.brand = self.brand_of(ticket)
            owner_key = k.conversation_owner(ticket.conversation_id)
            pipe.watch(owner_key)
            current_owner = pipe.get(owner_key)
            owns = current_owner is not None and _text(current_owner) == ticket.id
            pipe.multi()
            pipe.set(k.ticket(ticket_id), ticket.model_dump_json())
            self._queue(pipe, ticket)
            if ticket.status is TicketStatus.CLAIMED:
                pipe.sadd(k.tickets_claimed, ticket.id)
            else:
                pipe.srem(k.tickets_claimed, ticket.id)
            if ticket.status is TicketStatus.RESOLVED:
                if owns:  # never another (newer) ticket's ownership
                    pipe.delete(owner_key)
                if resolved_ttl_s > 0:
                    pipe.set(k.recently_resolved(ticket.conversation_id), ticket.id, ex=resolved_ttl_s)
            else:
                pipe.set(owner_key, ticket.id)
            if extra is not None:
                extra(pipe, ticket)
            for event in events:
                pipe.publish(k.agent_events(ticket.brand), event.model_dump_json())
            if events:
                pipe.publish(k.handoff_channel, f"changed:{ticket.id}")
            return ticket

        return self._with_ticket(ticket_id, write)

    def raise_priority(self, ticket_id: str, priority: int, rule: str, matched: str, team: str | None) -> bool:
        """Make a waiting ticket more urgent (a keyword rule matched a later customer message).

        Only a waiting ticket whose priority is lower (a larger number) changes: it takes the
        rule's priority and id, and the rule's team unless it has one. True if it changed.
        """
        raised = False

        def change(ticket: Ticket) -> Sequence[TicketEvent]:
            nonlocal raised
            raised = ticket.status is TicketStatus.WAITING and priority < ticket.priority
            if not raised:
                return []
            ticket.priority, ticket.rule, ticket.matched = priority, rule, matched
            ticket.team = ticket.team or team
            data = {"priority": priority, "rule": rule, "team": ticket.team}
            brand = self.brand_of(ticket)
            return [
                TicketEvent(
                    type=EventType.ESCALATED,
                    ticket_id=ticket.id,
                    brand=brand,
                    conversation_id=ticket.conversation_id,
                    data=data,
                )
            ]

        self.transact(ticket_id, change)
        return raised

    def reopen_recent(self, conversation_id: str, now: float | None = None) -> Ticket | None:
        """Reopen the conversation's ticket if it was resolved moments ago.

        Called before the bot handles a customer message. Returns the reopened
        ticket (waiting again, owning the conversation), or None when there is
        none to reopen or the conversation already has an open ticket.
        """
        k = self._keys
        marker, owner = k.recently_resolved(conversation_id), k.conversation_owner(conversation_id)
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(marker, owner)
                    ticket_id, current = pipe.get(marker), pipe.get(owner)
                    if ticket_id is None or current is not None:
                        pipe.unwatch()
                        return None
                    tid = _text(ticket_id)
                    pipe.watch(k.ticket(tid))
                    raw = pipe.get(k.ticket(tid))
                    if raw is None:
                        pipe.unwatch()
                        return None
                    ticket = Ticket.model_validate_json(raw)  # type: ignore[arg-type]
                    if ticket.status is not TicketStatus.RESOLVED:
                        pipe.unwatch()
                        return None
                    moment = now if now is not None else time.time()
                    ticket.status = TicketStatus.WAITING
                    ticket.reopened_at = ticket.waiting_since = moment
                    ticket.assignee, ticket.resolved_at = None, None
                    ticket.brand = self.brand_of(ticket)
                    event = TicketEvent(
                        type=EventType.REOPENED,
                        ticket_id=tid,
                        brand=ticket.brand,
                        conversation_id=conversation_id,
                        data={"resolved_by": ticket.resolved_by},
                    )
                    pipe.multi()
                    pipe.set(k.ticket(tid), ticket.model_dump_json())
                    self._queue(pipe, ticket)
                    pipe.set(owner, tid)
                    pipe.delete(marker)
                    pipe.publish(k.agent_events(ticket.brand), event.model_dump_json())
                    pipe.publish(k.handoff_channel, f"changed:{tid}")
                    pipe.execute()
                    return ticket
                except WatchError:
                    continue

    def conversation_ticket_ids(self, conversation_id: str, limit: int = 50) -> list[str]:
        """Ids of the conversation's tickets, newest first."""
        ids = self._redis.zrevrange(self._keys.conversation_tickets(conversation_id), 0, limit - 1)
        return [_text(i) for i in ids]  # type: ignore[union-attr]

    def get_many(self, ticket_ids: Sequence[str]) -> list[Ticket]:
        """Load tickets (missing ones are skipped)."""
        if not ticket_ids:
            return []
        raws = self._redis.mget([self._keys.ticket(i) for i in ticket_ids])
        return [Ticket.model_validate_json(r) for r in raws if r is not None]  # type: ignore[union-attr]

    def claimed_ids(self) -> list[str]:
        """Ids of tickets an agent owns now."""
        return sorted(_text(i) for i in self._redis.smembers(self._keys.tickets_claimed))  # type: ignore[union-attr]
