"""Unanswered questions API: the grouped inbox and the actions on it (editors and admins)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query

from bot.api.agent_deps import EditorAccount, errors
from bot.api.training_deps import TrainingDep
from bot.faq.editor_models import EntryCreate
from bot.unanswered.models import ITEM_ID_PATTERN, ActionResult, AddAlternative, Dismiss, Inbox

router = APIRouter(prefix="/api/unanswered", tags=["unanswered questions"])

ItemId = Annotated[str, Path(pattern=ITEM_ID_PATTERN)]


@router.get("", response_model=Inbox, summary="Open unanswered messages, grouped by similarity", responses=errors(422))
async def inbox(
    account: EditorAccount,
    training: TrainingDep,
    language: Annotated[str | None, Query(pattern=r"^([a-z]{2}|none)$")] = None,
) -> Inbox:
    """Messages the bot found no entry for, asked the customer to choose, or handed off after failing, newest
    group first, with counts. Each is re-checked when the FAQ changed: those the bot now answers are gone."""
    return await asyncio.to_thread(training.inbox.inbox, account.brand, language)


@router.post(
    "/{item_id}/alternative",
    response_model=ActionResult,
    summary="Add a message as an alternative of an FAQ entry",
    responses=errors(404, 409, 422),
)
async def add_alternative(
    item_id: ItemId, body: AddAlternative, account: EditorAccount, training: TrainingDep
) -> ActionResult:
    """Through the FAQ editor (its checks, history and live update); the message's group is re-checked at once."""
    return await asyncio.to_thread(training.inbox.add_alternative, account.brand, item_id, body, account.username)


@router.post(
    "/{item_id}/entry",
    response_model=ActionResult,
    summary="Start a new FAQ entry from a message",
    responses=errors(404, 409, 422),
)
async def new_entry(item_id: ItemId, body: EntryCreate, account: EditorAccount, training: TrainingDep) -> ActionResult:
    """The entry is created through the FAQ editor; the message's group is re-checked at once."""
    return await asyncio.to_thread(training.inbox.new_entry, account.brand, item_id, body, account.username)


@router.post(
    "/dismiss", response_model=dict[str, int], summary="Take messages out of the inbox", responses=errors(404, 422)
)
async def dismiss(body: Dismiss, account: EditorAccount, training: TrainingDep) -> dict[str, int]:
    """For messages that are no FAQ question (spam, thanks); with ``not_covered``, for shop questions no entry
    answers, which also join the FAQ's not-covered questions."""
    dismissed = await asyncio.to_thread(
        training.inbox.dismiss, account.brand, body.ids, account.username, body.not_covered
    )
    return {"dismissed": dismissed}
