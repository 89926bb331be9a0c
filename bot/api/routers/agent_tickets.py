"""Agent API: the queue, ticket view, claim / transfer / release, notes, suggestions, replies, resolve."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from bot.agents.models import (
    LANG_PATTERN,
    TEAM_PATTERN,
    USERNAME_PATTERN,
    Note,
    NoteCreate,
    QueueItem,
    ReplyCreate,
    Suggestions,
    TicketView,
    TransferRequest,
)
from bot.agents.suggest import suggest
from bot.api.agent_deps import AgentAccount, AgentsDep, errors
from bot.handoff.models import TranscriptLine
from bot.handoff.queue import QueueQuery
from bot.messages import Channel

router = APIRouter(prefix="/api/agent", tags=["agent: tickets"])

TicketId = Annotated[str, Path(pattern=r"^[a-f0-9]{12}$")]
LineId = Annotated[str, Path(pattern=r"^[a-f0-9]{12}$")]


class ResolveResult(BaseModel):
    """The resolved ticket and the message the customer was sent."""

    ticket: QueueItem
    line: TranscriptLine


@router.get("/queue", response_model=list[QueueItem], summary="Waiting tickets of the brand", responses=errors(422))
async def queue(
    response: Response,
    account: AgentAccount,
    agents: AgentsDep,
    channel: Channel | None = None,
    language: Annotated[str | None, Query(pattern=LANG_PATTERN)] = None,
    priority: Annotated[int | None, Query(ge=1, le=5)] = None,
    team: Annotated[str | None, Query(pattern=TEAM_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[QueueItem]:
    """Most urgent first (priority 1 = angry, allergy, chargeback, legal; VIPs one step higher), then
    longest waiting; with waiting time and whether the first-response target
    (``DMDESK_FIRST_RESPONSE_TARGET_S``) is breached. ``team`` is the team the escalation rules (or a
    transfer) routed the ticket to. Filtering and paging happen in Redis on the brand's queue index;
    the ``X-Total-Count`` header says how many tickets match in all."""
    query = QueueQuery(channel.value if channel else None, language, priority, team, limit, offset)
    rows, total = await asyncio.to_thread(agents.desk.queue_page, account.brand, query)
    response.headers["X-Total-Count"] = str(total)
    return rows


@router.get("/tickets/claimed", response_model=list[QueueItem], summary="Tickets agents own now", responses=errors(422))
async def claimed(
    account: AgentAccount,
    agents: AgentsDep,
    assignee: Annotated[
        str | None, Query(pattern=USERNAME_PATTERN, description="default: yours; 'all' for everyone's")
    ] = None,
) -> list[QueueItem]:
    """Claimed tickets of the brand: the caller's by default."""
    who = None if assignee == "all" else (assignee or account.username)
    return await asyncio.to_thread(agents.desk.claimed_by, account, who)


@router.get(
    "/tickets/{ticket_id}", response_model=TicketView, summary="One ticket with everything", responses=errors(404)
)
async def view(ticket_id: TicketId, account: AgentAccount, agents: AgentsDep) -> TicketView:
    """Transcript (with agent lines and their delivery), intents with confidences, entities, FAQ
    entries tried, language, channel, customer, reason, priority, notes, and the customer's
    earlier tickets."""
    return await asyncio.to_thread(agents.desk.view, account, ticket_id)


@router.post(
    "/tickets/{ticket_id}/claim", response_model=QueueItem, summary="Take a waiting ticket", responses=errors(404, 409)
)
async def claim(ticket_id: TicketId, account: AgentAccount, agents: AgentsDep) -> QueueItem:
    """Atomic: when two agents claim at once, one gets 200 and the other 409."""
    ticket = await asyncio.to_thread(agents.desk.claim, account, ticket_id)
    return agents.desk.item(ticket)


@router.post(
    "/tickets/{ticket_id}/release",
    response_model=QueueItem,
    summary="Put a claimed ticket back in the queue",
    responses=errors(404, 409),
)
async def release(ticket_id: TicketId, account: AgentAccount, agents: AgentsDep) -> QueueItem:
    """The owner (or an admin) gives the ticket back; it keeps its place in the queue."""
    ticket = await asyncio.to_thread(agents.desk.release, account, ticket_id)
    return agents.desk.item(ticket)


@router.post(
    "/tickets/{ticket_id}/transfer",
    response_model=QueueItem,
    summary="Transfer to another agent or to a team",
    responses=errors(404, 409, 422),
)
async def transfer(ticket_id: TicketId, body: TransferRequest, account: AgentAccount, agents: AgentsDep) -> QueueItem:
    """``to_agent``: the ticket is claimed by that agent at once. ``to_team``: it goes back to the
    queue routed to the team (only its members and admins can claim it). An optional note is kept."""
    ticket = await asyncio.to_thread(agents.desk.transfer, account, ticket_id, body)
    return agents.desk.item(ticket)


@router.get("/tickets/{ticket_id}/notes", response_model=list[Note], summary="Internal notes", responses=errors(404))
async def list_notes(ticket_id: TicketId, account: AgentAccount, agents: AgentsDep) -> list[Note]:
    """Notes are for agents only; the customer never sees them."""
    await asyncio.to_thread(agents.desk.ticket_for, account, ticket_id)
    return await asyncio.to_thread(agents.desk.notes, ticket_id)


@router.post(
    "/tickets/{ticket_id}/notes",
    response_model=Note,
    status_code=status.HTTP_201_CREATED,
    summary="Add an internal note",
    responses=errors(404, 409, 422),
)
async def add_note(ticket_id: TicketId, body: NoteCreate, account: AgentAccount, agents: AgentsDep) -> Note:
    """Any agent of the brand may add a note, whoever owns the ticket."""
    return await asyncio.to_thread(agents.desk.add_note, account, ticket_id, body.text)


@router.get(
    "/tickets/{ticket_id}/suggestions",
    response_model=Suggestions,
    summary="FAQ answers for the customer's latest message",
    responses=errors(404),
)
async def suggestions(
    ticket_id: TicketId, account: AgentAccount, agents: AgentsDep, k: Annotated[int, Query(ge=1, le=5)] = 3
) -> Suggestions:
    """The top ``k`` FAQ entries for the latest customer message, answers in the customer's language
    (or the FAQ's default language). The knowledge base loads on first use (a few seconds)."""
    ticket = await asyncio.to_thread(agents.desk.ticket_for, account, ticket_id)
    kb = await asyncio.to_thread(agents.knowledge_base)
    return await asyncio.to_thread(suggest, kb, ticket, k)


@router.post(
    "/tickets/{ticket_id}/replies",
    response_model=TranscriptLine,
    status_code=status.HTTP_201_CREATED,
    summary="Reply to the customer",
    responses=errors(404, 409, 422),
)
async def reply(ticket_id: TicketId, body: ReplyCreate, account: AgentAccount, agents: AgentsDep) -> TranscriptLine:
    """Only the agent who claimed the ticket may reply. The message is recorded on the transcript,
    then sent through the channel's sender; the line returned carries the delivery result
    (``sent``, or ``failed`` with the error: retry it with ``.../replies/{line_id}/retry``)."""
    return await agents.workflow.reply(account, ticket_id, body.text, body.quick_replies)


@router.post(
    "/tickets/{ticket_id}/replies/{line_id}/retry",
    response_model=TranscriptLine,
    summary="Send a failed message again",
    responses=errors(404, 409),
)
async def retry(ticket_id: TicketId, line_id: LineId, account: AgentAccount, agents: AgentsDep) -> TranscriptLine:
    """409 if it was delivered already."""
    return await agents.workflow.retry(account, ticket_id, line_id)


@router.post(
    "/tickets/{ticket_id}/resolve",
    response_model=ResolveResult,
    summary="Resolve: the bot takes the conversation back",
    responses=errors(404, 409, 502),
)
async def resolve(ticket_id: TicketId, account: AgentAccount, agents: AgentsDep) -> ResolveResult:
    """The bot is resumed in Rasa, the customer gets a message in their language, and the bot answers
    their next message. A message within ``DMDESK_REOPEN_WINDOW_S`` seconds reopens this ticket instead."""
    ticket, line = await agents.workflow.resolve(account, ticket_id)
    return ResolveResult(ticket=agents.desk.item(ticket), line=line)
