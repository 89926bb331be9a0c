"""Handoff queue API (token-protected)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query

from bot.api.deps import Authenticated, ServicesDep
from bot.handoff.models import Ticket, TicketSummary

router = APIRouter(prefix="/api/handoffs", tags=["handoffs"])


@router.get("", response_model=list[TicketSummary], summary="Waiting tickets, most urgent first")
async def list_waiting(
    services: ServicesDep,
    _: Authenticated,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TicketSummary]:
    """The queue ordered by priority, then waiting time."""
    return await asyncio.to_thread(services.handoffs.waiting, limit, offset)


@router.get("/{ticket_id}", response_model=Ticket, summary="One ticket with its whole context")
async def get_ticket(
    services: ServicesDep,
    _: Authenticated,
    ticket_id: Annotated[str, Path(pattern=r"^[a-f0-9]{12}$")],
) -> Ticket:
    """Transcript, intents, entities, FAQ attempts, language, channel, customer, reason, priority."""
    return await asyncio.to_thread(services.handoffs.get, ticket_id)
