"""Staff API: FAQ entries (editors and admins of the deployment's brand).

Every change is versioned: send the ``expected_version`` you edited; a stale
one gets 409 with the current entry. Saves run the checks of
``bot/faq/checks.py``: errors give 422 with every finding, warnings come back
with the saved entry. A saved change is served by the bot within moments.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field

from bot.api.agent_deps import EditorAccount, errors
from bot.api.faq_deps import CHECK_FAILED, CONFLICT, FaqEditorDep
from bot.faq.editor_models import (
    Check,
    EntryCreate,
    EntryList,
    EntryPatch,
    EntryPublic,
    EntryUpdate,
    HistoryRecord,
    SaveResult,
)
from bot.faq.models import ID_PATTERN, LANG_PATTERN
from bot.faq.records import entry_from

router = APIRouter(prefix="/api/staff/faq", tags=["staff: FAQ entries"])

EntryId = Annotated[str, Path(pattern=ID_PATTERN, description="entry id")]


class RollbackRequest(BaseModel):
    """Restore an earlier version (as a new version)."""

    to_version: int = Field(ge=1, description="the version to restore")
    expected_version: int = Field(ge=0, description="the entry's version now (as you saw it)")


@router.get("/entries", response_model=EntryList, summary="List and search entries", responses=errors(404, 422))
async def list_entries(
    account: EditorAccount,
    faq: FaqEditorDep,
    q: Annotated[
        str | None, Query(max_length=200, description="words in id, question, alternatives or answers")
    ] = None,
    topic: Annotated[str | None, Query(max_length=40)] = None,
    enabled: bool | None = None,
    missing_language: Annotated[
        str | None, Query(pattern=LANG_PATTERN, description="no answer in this language")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EntryList:
    """Entries matching every filter, in file order, with versions and missing languages."""
    return await asyncio.to_thread(faq.list_entries, account.brand, q, topic, enabled, missing_language, offset, limit)


@router.post(
    "/entries",
    response_model=SaveResult,
    status_code=status.HTTP_201_CREATED,
    summary="Create an entry",
    responses={**errors(404, 409), **CHECK_FAILED},
)
async def create_entry(body: EntryCreate, account: EditorAccount, faq: FaqEditorDep) -> SaveResult:
    """409 if the id exists. The bot answers with it within moments."""
    return await asyncio.to_thread(faq.create, account.brand, account.username, body)


@router.get("/entries/{entry_id}", response_model=EntryPublic, summary="One entry", responses=errors(404))
async def get_entry(entry_id: EntryId, account: EditorAccount, faq: FaqEditorDep) -> EntryPublic:
    """With its version (send it back as ``expected_version`` when saving)."""
    return await asyncio.to_thread(faq.get, account.brand, entry_id)


@router.patch(
    "/entries/{entry_id}",
    response_model=SaveResult,
    summary="Edit, disable or enable an entry",
    responses={**errors(404), **CONFLICT, **CHECK_FAILED},
)
async def update_entry(entry_id: EntryId, body: EntryUpdate, account: EditorAccount, faq: FaqEditorDep) -> SaveResult:
    """Only the fields given change (``{"enabled": false, "expected_version": 3}`` disables)."""
    changes = EntryPatch.model_validate(body.model_dump(exclude_unset=True, exclude={"expected_version"}))
    return await asyncio.to_thread(
        faq.update, account.brand, account.username, entry_id, changes, body.expected_version
    )


@router.delete(
    "/entries/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an entry",
    responses={**errors(404, 422), **CONFLICT},
)
async def delete_entry(
    entry_id: EntryId,
    account: EditorAccount,
    faq: FaqEditorDep,
    expected_version: Annotated[int, Query(ge=0, description="the entry's version as you saw it")],
) -> Response:
    """The history stays; a rollback to an earlier version restores the entry."""
    await asyncio.to_thread(faq.delete, account.brand, account.username, entry_id, expected_version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/entries/{entry_id}/history",
    response_model=list[HistoryRecord],
    summary="Every change of an entry, newest first",
    responses=errors(404),
)
async def entry_history(entry_id: EntryId, account: EditorAccount, faq: FaqEditorDep) -> list[HistoryRecord]:
    """Who, when, what kind of change, the entry before and after (deleted entries keep theirs)."""
    return await asyncio.to_thread(faq.history, account.brand, entry_id)


@router.post(
    "/entries/{entry_id}/rollback",
    response_model=SaveResult,
    summary="Roll an entry back to an earlier version",
    responses={**errors(404), **CONFLICT, **CHECK_FAILED},
)
async def rollback_entry(
    entry_id: EntryId, body: RollbackRequest, account: EditorAccount, faq: FaqEditorDep
) -> SaveResult:
    """The restored content becomes a new version (also restores a deleted entry)."""
    return await asyncio.to_thread(
        faq.rollback, account.brand, account.username, entry_id, body.to_version, body.expected_version
    )


@router.post(
    "/checks",
    response_model=list[Check],
    summary="Check an entry without saving it",
    responses=errors(404, 422),
)
async def check_entry(body: EntryCreate, account: EditorAccount, faq: FaqEditorDep) -> list[Check]:
    """The findings a save would give (errors first); nothing is stored."""
    return await asyncio.to_thread(faq.check, account.brand, entry_from(body.model_dump()))
