"""Agent API: availability (online / away) and who of the brand is online."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bot.agents.models import Account
from bot.agents.service import AgentServices
from bot.api.agent_deps import AgentAccount, AgentsDep, errors

router = APIRouter(prefix="/api/agent", tags=["agent: availability"])


class AvailabilityUpdate(BaseModel):
    """Mark yourself available or away."""

    available: bool = Field(description="false: away (never counted online); true: available and seen now")


class AvailabilityPublic(BaseModel):
    """The caller's availability and the brand's."""

    username: str
    available: bool = Field(description="the agent has not marked themselves away")
    online: bool = Field(description="available and seen within DMDESK_PRESENCE_TTL_S (open event stream)")
    last_seen: float | None = Field(description="last open event stream keep-alive or availability update (s)")
    agents_online: list[str] = Field(description="usernames of the brand's online agents")
    presence_counts: bool = Field(description="whether customers are told 'nobody online' when agents_online is empty")
    support_open: bool = Field(description="inside DMDESK_SUPPORT_HOURS now")
    next_open: datetime | None = Field(description="next opening of support hours when closed")


def _availability(agents: AgentServices, account: Account) -> AvailabilityPublic:
    presence, brand = agents.presence, account.brand
    online = presence.online(brand)
    now = datetime.now(timezone.utc)
    is_open = agents.hours.is_open(now)
    return AvailabilityPublic(
        username=account.username,
        available=not presence.is_away(brand, account.username),
        online=account.username in online,
        last_seen=presence.last_seen(brand, account.username),
        agents_online=online,
        presence_counts=presence.counts(brand),
        support_open=is_open,
        next_open=None if is_open else agents.hours.next_open(now),
    )


@router.get("/availability", response_model=AvailabilityPublic, summary="Your availability and who is online")
async def get_availability(account: AgentAccount, agents: AgentsDep) -> AvailabilityPublic:
    """An agent is online when available and seen within ``DMDESK_PRESENCE_TTL_S`` seconds: an open
    ``GET /api/agent/events`` stream refreshes that every 15 s. When support hours are open but no
    agent is online, customers who are handed off are told a longer wait (``DMDESK_AWAY_WAIT_MINUTES``)."""
    return await asyncio.to_thread(_availability, agents, account)


@router.put(
    "/availability",
    response_model=AvailabilityPublic,
    summary="Mark yourself available or away",
    responses=errors(422),
)
async def put_availability(body: AvailabilityUpdate, account: AgentAccount, agents: AgentsDep) -> AvailabilityPublic:
    """``available: false`` takes you offline at once, even with a console open. ``available: true``
    counts you online for ``DMDESK_PRESENCE_TTL_S`` seconds, and for as long as your event stream
    stays open (API clients without one can repeat this call as a heartbeat)."""
    await asyncio.to_thread(agents.presence.set_available, account.brand, account.username, body.available)
    return await asyncio.to_thread(_availability, agents, account)
