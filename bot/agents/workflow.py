"""Replies, retries and resolve: what reaches the customer and the bot.

Each reply is first recorded on the ticket's transcript as ``pending``, then
sent through the ticket channel's ``Sender``; the line then carries the
delivery result (sent, or failed with the error), and a failed one can be
retried. Resolve runs under the conversation's lock (the dispatcher's), so
no customer message slips between handing the chat back to Rasa and the
ticket closing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence

from redis.asyncio import Redis as AsyncRedis
from redis.client import Pipeline

from bot.agents.desk import AgentDesk, event, require_owner
from bot.agents.errors import ConflictError
from bot.agents.models import Account, Role
from bot.agents.outbound import DeliveryResult, OutboundRouter
from bot.agents.texts import idle_closed_message, resolved_message
from bot.errors import NotFoundError
from bot.handoff.events import EventType, TicketEvent
from bot.handoff.models import Delivery, DeliveryStatus, Ticket, TicketStatus, TranscriptLine
from bot.keys import Keys
from bot.metrics import record_first_response
from bot.rasa_client import RasaClient

LOCK_TIMEOUT_S = 60


class AgentWorkflow:
    """Async operations that talk to the customer's channel and to Rasa."""

    def __init__(
        self,
        desk: AgentDesk,
        outbound: OutboundRouter,
        rasa: RasaClient,
        redis: AsyncRedis,
        keys: Keys,
        reopen_window_s: int,
    ) -> None:
        self.desk = desk
        self.outbound = outbound
        self._rasa = rasa
        self._redis = redis
        self._keys = keys
        self._reopen_window_s = reopen_window_s

    async def _deliver(self, ticket: Ticket, line: TranscriptLine, actor: str) -> TranscriptLine:
        """Send a recorded line and write the delivery result onto it."""
        result: DeliveryResult = await self.outbound.send_agent_message(ticket, line.text or "", line.quick_replies)
        updated: list[TranscriptLine] = []

        def change(t: Ticket) -> Sequence[TicketEvent]:
            target = next((x for x in t.transcript if x.id == line.id), None)
            if target is None:
                raise NotFoundError("transcript line not found", line_id=line.id)
            attempts = (target.delivery.attempts if target.delivery else 0) + 1
            target.delivery = Delivery(
                status=result.status,
                error=result.error,
                message_id=result.message_id,
                attempts=attempts,
                updated_at=time.time(),
            )
            updated.append(target)
            return [
                event(
                    EventType.DELIVERY,
                    t,
                    actor,
                    line_id=line.id,
                    status=result.status.value,
                    error=result.error,
                )
            ]

        await asyncio.to_thread(self.desk.store.transact, ticket.id, change)
        return updated[-1]

    async def reply(self, actor: Account, ticket_id: str, text: str, quick_replies: list[str]) -> TranscriptLine:
        """Record the agent's message on the ticket and send it to the customer.

        Raises:
            NotFoundError: No such ticket in the actor's brand.
            ConflictError: The ticket is not claimed by the actor.
        """
        now = time.time()
        line = TranscriptLine(
            sender="agent",
            text=text,
            timestamp=now,
            id=uuid.uuid4().hex[:12],
            author=actor.username,
            quick_replies=quick_replies,
            delivery=Delivery(status=DeliveryStatus.PENDING, updated_at=now),
        )

        first: list[bool] = []

        def change(ticket: Ticket) -> Sequence[TicketEvent]:
            self.desk._check_brand(ticket, actor)
            require_owner(ticket, actor, admin_may=False)
            ticket.transcript.append(line)
            first[:] = [ticket.first_response_at is None]
            if ticket.first_response_at is None:
                ticket.first_response_at = now
            return [event(EventType.REPLIED, ticket, actor.username, line_id=line.id, text=text)]

        def count_first_response(pipe: Pipeline, ticket: Ticket) -> None:
            if first == [True]:
                record_first_response(pipe, self._keys, ticket.brand, now - ticket.created_at)

        ticket = await asyncio.to_thread(self.desk.store.transact, ticket_id, change, count_first_response)
        return await self._deliver(ticket, line, actor.username)

    async def retry(self, actor: Account, ticket_id: str, line_id: str) -> TranscriptLine:
        """Send a failed line again (the ticket's owner, or an admin).

        Raises:
            NotFoundError: No such ticket or line.
            ConflictError: The line was delivered already, or the actor may not send on this ticket.
        """
        ticket = await asyncio.to_thread(self.desk.ticket_for, actor, ticket_id)
        line = next((x for x in ticket.transcript if x.id == line_id), None)
        if line is None or line.delivery is None:
            raise NotFoundError("outbound transcript line not found", line_id=line_id)
        if line.delivery.status is DeliveryStatus.SENT:
            raise ConflictError("message was delivered already", line_id=line_id)
        if ticket.status is TicketStatus.CLAIMED:
            require_owner(ticket, actor, admin_may=True)
        elif actor.role is not Role.ADMIN and ticket.resolved_by != actor.username:
            raise ConflictError(f"ticket is {ticket.status.value}", ticket_id=ticket_id)
        return await self._deliver(ticket, line, actor.username)

    async def resolve(
        self, actor: Account, ticket_id: str, default_language: str = "en"
    ) -> tuple[Ticket, TranscriptLine]:
        """Close the ticket, hand the chat back to the bot and tell the customer.

        Raises:
            NotFoundError: No such ticket in the actor's brand.
            ConflictError: The ticket is not claimed by the actor (admins may resolve any claimed one).
            UpstreamError: Rasa did not take the chat back (nothing changed then).
        """

        def check(ticket: Ticket) -> None:
            self.desk._check_brand(ticket, actor)
            require_owner(ticket, actor)

        ticket = await asyncio.to_thread(self.desk.ticket_for, actor, ticket_id)
        check(ticket)
        text = resolved_message(ticket.language, default_language)
        return await self._close(ticket_id, check, text, actor.username, "resolved")

    async def close_idle(
        self, ticket_id: str, still_idle: Callable[[Ticket], bool], default_language: str = "en"
    ) -> tuple[Ticket, TranscriptLine] | None:
        """Close a ticket nobody wrote on for a while (``bot/agents/idle.py``), telling the customer.

        ``still_idle`` is checked again under the conversation's lock and in the closing
        transaction: a customer message that arrives meanwhile keeps the ticket open. Returns None
        when the ticket was not closed.

        Raises:
            UpstreamError: Rasa did not take the chat back (nothing changed then).
        """

        def check(ticket: Ticket) -> None:
            if not still_idle(ticket):
                raise ConflictError("ticket is no longer idle", ticket_id=ticket.id)

        ticket = await asyncio.to_thread(self.desk.store.get, ticket_id)
        text = idle_closed_message(ticket.language, default_language)
        try:
            return await self._close(ticket_id, check, text, None, "idle_closed")
        except (ConflictError, NotFoundError):
            return None

    async def _close(
        self, ticket_id: str, check: Callable[[Ticket], None], text: str, actor: str | None, kind: str
    ) -> tuple[Ticket, TranscriptLine]:
        """Resolve under the conversation's lock: Rasa resumes, the ticket closes, the customer is told.

        ``check`` raises when the ticket may not be closed; it runs under the lock and again in the
        closing transaction.
        """
        ticket = await asyncio.to_thread(self.desk.store.get, ticket_id)
        lock = self._redis.lock(
            self._keys.conversation_lock(ticket.conversation_id),
            timeout=LOCK_TIMEOUT_S,
            blocking_timeout=LOCK_TIMEOUT_S,
        )
        async with lock:
            ticket = await asyncio.to_thread(self.desk.store.get, ticket_id)
            check(ticket)
            await self._rasa.control(ticket.conversation_id, "resume", text)
            now = time.time()
            line = TranscriptLine(
                sender="bot",
                text=text,
                timestamp=now,
                id=uuid.uuid4().hex[:12],
                author=actor,
                payload={"meta": {"kind": kind}},
                delivery=Delivery(status=DeliveryStatus.PENDING, updated_at=now),
            )

            def change(t: Ticket) -> Sequence[TicketEvent]:
                check(t)
                previous = t.assignee
                t.status, t.resolved_at, t.resolved_by = TicketStatus.RESOLVED, now, actor
                t.transcript.append(line)
                data: dict[str, object] = {"previous_assignee": previous}
                if actor is None:
                    data["auto"] = kind
                return [event(EventType.RESOLVED, t, actor, **data)]

            try:
                ticket = await asyncio.to_thread(
                    self.desk.store.transact, ticket_id, change, None, self._reopen_window_s
                )
            except BaseException:
                await self._rasa.control(ticket.conversation_id, "pause")
                raise
        delivered = await self._deliver(ticket, line, actor or "system")
        return ticket, delivered
