"""Agent API: canned replies per brand and language (agents read, editors and admins write)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from bot.agents.models import LANG_PATTERN, CannedReply, CannedReplyCreate, CannedReplyUpdate
from bot.api.agent_deps import AgentAccount, AgentsDep, EditorAccount, errors

router = APIRouter(prefix="/api/agent/canned-replies", tags=["agent: canned replies"])

ReplyId = Annotated[str, Path(pattern=r"^[a-f0-9]{12}$")]


@router.get("", response_model=list[CannedReply], summary="Canned replies of the brand", responses=errors(422))
async def list_replies(
    account: AgentAccount, agents: AgentsDep, language: Annotated[str | None, Query(pattern=LANG_PATTERN)] = None
) -> list[CannedReply]:
    """By language, then title; ``language`` filters."""
    return await asyncio.to_thread(agents.canned.list, account.brand, language)


@router.get("/{reply_id}", response_model=CannedReply, summary="One canned reply", responses=errors(404))
async def get_reply(reply_id: ReplyId, account: AgentAccount, agents: AgentsDep) -> CannedReply:
    """One reply of the brand."""
    return await asyncio.to_thread(agents.canned.get, account.brand, reply_id)


@router.post(
    "",
    response_model=CannedReply,
    status_code=status.HTTP_201_CREATED,
    summary="Create a canned reply (editors, admins)",
    responses=errors(422),
)
async def create_reply(body: CannedReplyCreate, account: EditorAccount, agents: AgentsDep) -> CannedReply:
    """A new reply in one language."""
    return await asyncio.to_thread(agents.canned.create, account.brand, body, account.username)


@router.patch(
    "/{reply_id}",
    response_model=CannedReply,
    summary="Change a canned reply (editors, admins)",
    responses=errors(404, 422),
)
async def update_reply(
    reply_id: ReplyId, body: CannedReplyUpdate, account: EditorAccount, agents: AgentsDep
) -> CannedReply:
    """Only the fields given change."""
    return await asyncio.to_thread(agents.canned.update, account.brand, reply_id, body, account.username)


@router.delete(
    "/{reply_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a canned reply (editors, admins)",
    responses=errors(404),
)
async def delete_reply(reply_id: ReplyId, account: EditorAccount, agents: AgentsDep) -> Response:
    """Removes it for every agent."""
    await asyncio.to_thread(agents.canned.delete, account.brand, reply_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
