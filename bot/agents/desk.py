"""Queue operations of the agent workspace: view, claim, transfer, release, notes.

Every state change goes through ``HandoffStore.transact`` (WATCH/MULTI): when
two agents claim the same ticket at once, exactly one transaction commits
and the other sees the ticket claimed and fails with ``ConflictError``.
Tickets of another brand are reported as not found.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from redis import Redis
from redis.client import Pipeline

from bot.agents.accounts import AccountStore
from bot.agents.errors import ConflictError, PermissionDeniedError
from bot.agents.models import Account, Note, QueueItem, Role, TicketView, TransferRequest
from bot.errors import InvalidInputError, NotFoundError
from bot.handoff.events import EventType, TicketEvent
from bot.handoff.models import Ticket, TicketStatus
from bot.handoff.queue import HandoffStore, QueueQuery
from bot.keys import Keys

MAX_NOTES = 500


def event(kind: EventType, ticket: Ticket, actor: str | None, **data: object) -> TicketEvent:
    """A ticket event caused by ``actor``."""
    return TicketEvent(
        type=kind,
        ticket_id=ticket.id,
        brand=ticket.brand,
        conversation_id=ticket.conversation_id,
        actor=actor,
        data=data,
    )


def require_owner(ticket: Ticket, actor: Account, admin_may: bool = True) -> None:
    """The ticket must be claimed by ``actor`` (or ``actor`` an admin, when allowed).

    Raises:
        ConflictError: The ticket is not claimed, or claimed by someone else.
    """
    if ticket.status is not TicketStatus.CLAIMED:
        raise ConflictError(f"ticket is {ticket.status.value}, not claimed", ticket_id=ticket.id)
    if ticket.assignee != actor.username and not (admin_may and actor.role is Role.ADMIN):
        raise ConflictError("ticket is claimed by another agent", ticket_id=ticket.id, assignee=ticket.assignee)


class AgentDesk:
    """Tickets as agents see and work them."""

    def __init__(
        self, store: HandoffStore, redis: Redis, keys: Keys, accounts: AccountStore, first_response_target_s: int
    ) -> None:
        self.store = store
        self._redis = redis
        self._keys = keys
        self._accounts = accounts
        self.target_s = first_response_target_s

    # ------------------------------------------------------------------ views
    def item(self, ticket: Ticket, now: float | None = None) -> QueueItem:
        """A queue row for ``ticket`` with its first-response state."""
        moment = now if now is not None else time.time()
        due = ticket.created_at + self.target_s
        answered = ticket.first_response_at
        breached = (answered is None and moment > due) or (answered is not None and answered > due)
        return QueueItem(
            **QueueItem.fields_of(ticket, moment),
            team=ticket.team,
            assignee=ticket.assignee,
            waiting_since=ticket.waiting_since or ticket.created_at,
            first_response_due_at=due,
            first_response_breached=breached,
        )

    def queue_page(self, brand: str, query: QueueQuery | None = None) -> tuple[list[QueueItem], int]:
        """Waiting tickets of a brand, most urgent first, then longest waiting; filtered and paged
        in Redis (the brand's queue index). Returns the page and how many tickets match in all."""
        now = time.time()
        page = self.store.waiting_page(brand, query)
        rows = [
            self.item(t, now)
            for t in self.store.get_many(page.ids)
            if t.status is TicketStatus.WAITING and self.store.brand_of(t) == brand
        ]
        return rows, page.total

    def queue(
        self,
        brand: str,
        channel: str | None = None,
        language: str | None = None,
        priority: int | None = None,
        team: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[QueueItem]:
        """The rows of ``queue_page``."""
        return self.queue_page(brand, QueueQuery(channel, language, priority, team, limit, offset))[0]

    def claimed_by(self, actor: Account, username: str | None) -> list[QueueItem]:
        """Tickets claimed in the actor's brand (by ``username`` if given), oldest first."""
        now = time.time()
        tickets = self.store.get_many(self.store.claimed_ids())
        rows = [
            self.item(t, now)
            for t in tickets
            if t.status is TicketStatus.CLAIMED
            and self.store.brand_of(t) == actor.brand
            and (username is None or t.assignee == username)
        ]
        return sorted(rows, key=lambda r: r.created_at)

    def ticket_for(self, actor: Account, ticket_id: str) -> Ticket:
        """A ticket of the actor's brand.

        Raises:
            NotFoundError: No such ticket, or another brand's.
        """
        ticket = self.store.get(ticket_id)
        self._check_brand(ticket, actor)
        return ticket

    def view(self, actor: Account, ticket_id: str) -> TicketView:
        """The whole ticket, its notes and the customer's earlier tickets."""
        ticket = self.ticket_for(actor, ticket_id)
        other_ids = [i for i in self.store.conversation_ticket_ids(ticket.conversation_id) if i != ticket.id]
        earlier = [self.item(t) for t in self.store.get_many(other_ids) if self.store.brand_of(t) == actor.brand]
        item = self.item(ticket)
        return TicketView(
            ticket=ticket,
            notes=self.notes(ticket.id),
            earlier_tickets=earlier,
            first_response_due_at=item.first_response_due_at,
            first_response_breached=item.first_response_breached,
        )

    # ------------------------------------------------------------- operations
    def _check_brand(self, ticket: Ticket, actor: Account) -> None:
        if self.store.brand_of(ticket) != actor.brand:
            raise NotFoundError("ticket not found", ticket_id=ticket.id)
        ticket.brand = actor.brand

    def claim(self, actor: Account, ticket_id: str) -> Ticket:
        """Take a waiting ticket. Atomic: of two agents claiming at once, one wins.

        Raises:
            NotFoundError: No such ticket in the actor's brand.
            PermissionDeniedError: The ticket is routed to a team the agent is not in.
            ConflictError: The ticket is not waiting (claimed by someone, or resolved).
        """

        def change(ticket: Ticket) -> Sequence[TicketEvent]:
            self._check_brand(ticket, actor)
            if ticket.status is not TicketStatus.WAITING:
                raise ConflictError(
                    f"ticket is already {ticket.status.value}", ticket_id=ticket.id, assignee=ticket.assignee
                )
            if ticket.team and ticket.team not in actor.teams and actor.role is not Role.ADMIN:
                raise PermissionDeniedError("ticket is routed to another team", team=ticket.team)
            ticket.status, ticket.assignee, ticket.claimed_at = TicketStatus.CLAIMED, actor.username, time.time()
            return [event(EventType.CLAIMED, ticket, actor.username, assignee=actor.username)]

        return self.store.transact(ticket_id, change)

    def release(self, actor: Account, ticket_id: str) -> Ticket:
        """Put a claimed ticket back in the queue (owner or admin).

        Raises:
            NotFoundError, ConflictError: see ``claim``.
        """

        def change(ticket: Ticket) -> Sequence[TicketEvent]:
            self._check_brand(ticket, actor)
            require_owner(ticket, actor)
            previous = ticket.assignee
            ticket.status, ticket.assignee, ticket.waiting_since = TicketStatus.WAITING, None, time.time()
            return [event(EventType.RELEASED, ticket, actor.username, previous_assignee=previous)]

        return self.store.transact(ticket_id, change)

    def transfer(self, actor: Account, ticket_id: str, request: TransferRequest) -> Ticket:
        """Hand a claimed ticket to another agent of the brand, or to a team's queue.

        Raises:
            InvalidInputError: Neither or both of ``to_agent`` and ``to_team``, or a team nobody is in.
            NotFoundError: No such ticket or target agent in the brand.
            ConflictError: The ticket is not claimed by the actor (admins may transfer any claimed one),
                or the target agent is inactive.
        """
        if (request.to_agent is None) == (request.to_team is None):
            raise InvalidInputError("give exactly one of to_agent and to_team")
        if request.to_team is not None and not any(
            request.to_team in a.teams and a.active for a in self._accounts.list(actor.brand)
        ):
            raise InvalidInputError("no active agent of the brand is in that team", team=request.to_team)
        target = None
        if request.to_agent is not None:
            target = self._accounts.get(actor.brand, request.to_agent)
            if not target.active:
                raise ConflictError("target agent is inactive", username=target.username)
        note = self._note(ticket_id, actor, request.note) if request.note else None

        def change(ticket: Ticket) -> Sequence[TicketEvent]:
            self._check_brand(ticket, actor)
            require_owner(ticket, actor)
            previous = ticket.assignee
            now = time.time()
            if target is not None:
                ticket.assignee, ticket.claimed_at = target.username, now
            else:
                ticket.status, ticket.assignee, ticket.team = TicketStatus.WAITING, None, request.to_team
                ticket.waiting_since = now
            return [
                event(
                    EventType.TRANSFERRED,
                    ticket,
                    actor.username,
                    previous_assignee=previous,
                    to_agent=request.to_agent,
                    to_team=request.to_team,
                )
            ]

        def extra(pipe: Pipeline, ticket: Ticket) -> None:
            if note is not None:
                pipe.rpush(self._keys.ticket_notes(ticket.id), note.model_dump_json())

        return self.store.transact(ticket_id, change, extra)

    # ------------------------------------------------------------------ notes
    def _note(self, ticket_id: str, actor: Account, text: str) -> Note:
        return Note(
            id=uuid.uuid4().hex[:12], ticket_id=ticket_id, author=actor.username, text=text, created_at=time.time()
        )

    def add_note(self, actor: Account, ticket_id: str, text: str) -> Note:
        """Add an internal note (any agent of the brand, whoever owns the ticket).

        Raises:
            NotFoundError: No such ticket in the actor's brand.
            ConflictError: The ticket has too many notes.
        """
        ticket = self.ticket_for(actor, ticket_id)
        key = self._keys.ticket_notes(ticket_id)
        if int(self._redis.llen(key)) >= MAX_NOTES:  # type: ignore[arg-type]
            raise ConflictError("too many notes on this ticket", ticket_id=ticket_id)
        note = self._note(ticket_id, actor, text)
        pipe = self._redis.pipeline(transaction=True)
        pipe.rpush(key, note.model_dump_json())
        pipe.publish(
            self._keys.agent_events(actor.brand),
            event(EventType.NOTE, ticket, actor.username, note_id=note.id).model_dump_json(),
        )
        pipe.execute()
        return note

    def notes(self, ticket_id: str) -> list[Note]:
        """A ticket's notes, oldest first."""
        return [Note.model_validate_json(r) for r in self._redis.lrange(self._keys.ticket_notes(ticket_id), 0, -1)]  # type: ignore[union-attr]
