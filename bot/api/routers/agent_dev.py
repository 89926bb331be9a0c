"""Dev channel, customer side of the agent workspace: what agents sent to a dev customer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from bot.agents.outbound import OutboxMessage
from bot.api.agent_deps import AgentsDep
from bot.api.deps import Authenticated, ServicesDep

router = APIRouter(prefix="/api/dev", tags=["dev"])


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=list[OutboxMessage],
    summary="Messages agents sent to a dev-channel customer",
    responses={401: {"description": "missing or invalid bearer token"}, 404: {"description": "dev endpoint disabled"}},
)
async def outbox(
    services: ServicesDep,
    agents: AgentsDep,
    _: Authenticated,
    conversation_id: Annotated[str, Path(pattern=r"^dev:[A-Za-z0-9_.:@-]{1,128}$", description="e.g. dev:budi")],
    after: Annotated[int, Query(ge=0, description="skip the first ``after`` messages (poll with the count seen)")] = 0,
) -> list[OutboxMessage]:
    """Agents' replies and the resolution message, oldest first (the dev channel's ``Sender``)."""
    if not services.settings.enable_dev_endpoint:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "dev endpoint disabled")
    return await agents.outbox.read(conversation_id, after)
