"""Agent API: live ticket events of the brand as Server-Sent Events."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from bot.agents.errors import AuthenticationError
from bot.agents.events import stream_events
from bot.api.agent_deps import ActorDep, AgentAccount, AgentsDep, errors

router = APIRouter(prefix="/api/agent", tags=["agent: events"])


@router.get(
    "/events",
    summary="Live ticket events of the brand (SSE)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "``event: ready`` once subscribed, then one frame per TicketEvent "
            "(``event: ticket.created`` ... ``data: {json}``); comment keep-alives every 15 s; "
            "``event: session_ended`` when the session expires or is revoked.",
        },
        **errors(),
    },
)
async def events(actor: ActorDep, account: AgentAccount, agents: AgentsDep) -> StreamingResponse:
    """New escalations, customer messages on human-owned tickets, claims, transfers, releases,
    replies (and their delivery), notes, resolves and reopens of the caller's brand. Session
    authenticated: Bearer header, or the ``dmdesk_session`` cookie for a browser EventSource.
    While the stream is open the agent counts as online (``/api/agent/availability``), unless they
    marked themselves away."""

    async def still_valid() -> bool:
        try:
            await asyncio.to_thread(agents.sessions.resolve, actor.token)
        except AuthenticationError:
            return False
        return True

    async def seen() -> None:
        await asyncio.to_thread(agents.presence.seen, account.brand, account.username)

    return StreamingResponse(
        stream_events(agents.redis, agents.keys.agent_events(account.brand), still_valid, on_beat=seen),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
