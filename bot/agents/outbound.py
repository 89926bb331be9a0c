"""Sending agents' messages to customers.

``Sender`` is the protocol every channel implements. The dev channel's sender
(``DevOutbox``) appends to a per-conversation list in Redis that
``GET /api/dev/conversations/{id}/messages`` reads. Messenger and Instagram
use :class:`bot.meta.agent_sender.MetaAgentSender`, registered by the app
through ``OutboundRouter.register``; a channel without a sender fails with a
clear error that can be retried.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Protocol

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from bot.handoff.models import DeliveryStatus, Ticket
from bot.keys import Keys

OUTBOX_MAX = 500


class DeliveryResult(BaseModel):
    """What a sender did with one message."""

    status: DeliveryStatus = Field(description="sent | failed")
    error: str | None = Field(default=None, description="why it failed (no secrets)")
    message_id: str | None = Field(default=None, description="the channel's message id")


class Sender(Protocol):
    """Sends one agent message to the ticket's customer on its channel."""

    async def send_agent_message(self, ticket: Ticket, text: str, quick_replies: list[str]) -> DeliveryResult:
        """Send ``text`` (with optional quick replies); never raises for delivery failures."""
        ...


class OutboxMessage(BaseModel):
    """A message waiting in a dev customer's outbox."""

    id: str
    ticket_id: str
    text: str
    quick_replies: list[str] = Field(default_factory=list)
    sent_at: float


class DevOutbox:
    """Sender of the ``dev`` channel: messages land in a Redis list per conversation."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def send_agent_message(self, ticket: Ticket, text: str, quick_replies: list[str]) -> DeliveryResult:
        """Append the message to the conversation's outbox."""
        message = OutboxMessage(
            id=f"dev-out-{uuid.uuid4().hex[:16]}",
            ticket_id=ticket.id,
            text=text,
            quick_replies=quick_replies,
            sent_at=time.time(),
        )
        key = self._keys.dev_outbox(ticket.conversation_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.rpush(key, message.model_dump_json())
        pipe.ltrim(key, -OUTBOX_MAX, -1)
        await pipe.execute()
        return DeliveryResult(status=DeliveryStatus.SENT, message_id=message.id)

    async def read(self, conversation_id: str, after: int = 0) -> list[OutboxMessage]:
        """Messages of a conversation's outbox from position ``after`` on."""
        raws = await self._redis.lrange(self._keys.dev_outbox(conversation_id), after, -1)  # type: ignore[misc]
        return [OutboxMessage.model_validate(json.loads(r)) for r in raws]


class UnavailableSender:
    """Placeholder for a channel without a sender yet: every message fails (retry later)."""

    def __init__(self, channel: str) -> None:
        self._channel = channel

    async def send_agent_message(self, ticket: Ticket, text: str, quick_replies: list[str]) -> DeliveryResult:
        """Fail with a clear reason."""
        return DeliveryResult(status=DeliveryStatus.FAILED, error=f"no sender configured for channel {self._channel}")


class OutboundRouter:
    """Picks the sender of a ticket's channel."""

    def __init__(self, senders: dict[str, Sender] | None = None) -> None:
        self._senders: dict[str, Sender] = dict(senders or {})

    def register(self, channel: str, sender: Sender) -> None:
        """Use ``sender`` for ``channel`` (the Meta branch registers messenger and instagram)."""
        self._senders[channel] = sender

    def for_channel(self, channel: str) -> Sender:
        """The channel's sender (a failing placeholder when none is registered)."""
        return self._senders.get(channel) or UnavailableSender(channel)

    async def send_agent_message(self, ticket: Ticket, text: str, quick_replies: list[str]) -> DeliveryResult:
        """Send through the ticket's channel; a sender that raises counts as a failed delivery."""
        sender = self.for_channel(ticket.channel)
        try:
            return await sender.send_agent_message(ticket, text, quick_replies)
        except Exception as exc:  # a sender bug must not lose the agent's message: it is recorded as failed
            return DeliveryResult(status=DeliveryStatus.FAILED, error=f"{type(exc).__name__}")
