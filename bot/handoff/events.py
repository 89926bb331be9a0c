"""Ticket events published on a brand's pub/sub channel (``Keys.agent_events``).

The agent console listens to them through ``GET /api/agent/events`` (SSE).
"""

from __future__ import annotations

import time
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class EventType(str, Enum):
    """What happened to a ticket."""

    CREATED = "ticket.created"
    CUSTOMER_MESSAGE = "ticket.customer_message"
    CLAIMED = "ticket.claimed"
    TRANSFERRED = "ticket.transferred"
    RELEASED = "ticket.released"
    REPLIED = "ticket.replied"
    DELIVERY = "ticket.delivery"
    NOTE = "ticket.note"
    RESOLVED = "ticket.resolved"
    REOPENED = "ticket.reopened"
    ESCALATED = "ticket.escalated"


class TicketEvent(BaseModel):
    """One event, as published (JSON) and streamed to agents."""

    type: EventType
    ticket_id: str
    brand: str
    conversation_id: str | None = None
    actor: str | None = Field(default=None, description="username of the agent who caused it, if any")
    at: float = Field(default_factory=time.time)
    data: dict[str, Any] = Field(default_factory=dict)
