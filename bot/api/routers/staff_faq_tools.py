"""Staff API: FAQ "try it", completeness per language, not-covered questions, import and export (editors, admins)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from bot.api.agent_deps import AgentsDep, EditorAccount, errors
from bot.api.faq_deps import FaqEditorDep, ImportErrorBody
from bot.faq import transfer
from bot.faq.editor_models import (
    Completeness,
    ImportReport,
    NotCoveredChange,
    NotCoveredList,
    TryRequest,
    TryResult,
)
from bot.faq.transfer import ImportFormat
from bot.faq.tryit import try_message

router = APIRouter(prefix="/api/staff/faq", tags=["staff: FAQ tools"])

MAX_IMPORT_CHARS = 20_000_000


class ImportRequest(BaseModel):
    """An FAQ file (the whole FAQ) or a CSV export (upserts; ``delete_missing`` deletes the entries it lacks)."""

    format: ImportFormat
    content: str = Field(max_length=MAX_IMPORT_CHARS, description="the file's text (UTF-8)")
    dry_run: bool = Field(default=False, description="report what would change, apply nothing")
    delete_missing: bool = Field(default=False, description="CSV: delete entries the file lacks (YAML always does)")


@router.post("/try", response_model=TryResult, summary="What the bot would answer", responses=errors(404, 422))
async def try_it(body: TryRequest, account: EditorAccount, faq: FaqEditorDep, agents: AgentsDep) -> TryResult:
    """The bot's own FAQ path (search, verifier, decision) on this process's live index; NLU is not run."""
    faq.scope(account.brand)
    kb = await asyncio.to_thread(agents.knowledge_base)
    return await asyncio.to_thread(try_message, kb, body.text, body.language, body.strict)


@router.get(
    "/completeness",
    response_model=Completeness,
    summary="Entries lacking an answer, per language",
    responses=errors(404),
)
async def completeness(account: EditorAccount, faq: FaqEditorDep) -> Completeness:
    """For each of the brand's languages, how many entries answer in it and which do not."""
    return await asyncio.to_thread(faq.completeness, account.brand)


@router.get(
    "/not-covered",
    response_model=NotCoveredList,
    summary="Questions the FAQ does not cover",
    responses=errors(404),
)
async def not_covered(account: EditorAccount, faq: FaqEditorDep) -> NotCoveredList:
    """Customer questions no entry answers: a message closer to one of them than to the best entry gets no answer."""
    return await asyncio.to_thread(faq.not_covered, account.brand)


@router.post(
    "/not-covered",
    response_model=NotCoveredList,
    summary="Add or remove questions the FAQ does not cover",
    responses=errors(404, 409, 422),
)
async def change_not_covered(body: NotCoveredChange, account: EditorAccount, faq: FaqEditorDep) -> NotCoveredList:
    """One transaction; the bot applies it within moments, with no retraining."""
    return await asyncio.to_thread(faq.change_not_covered, account.brand, account.username, body)


@router.get(
    "/export.yml",
    summary="Export the FAQ file (data/faq.yml)",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}}}, **errors(404)},
)
async def export_yaml(account: EditorAccount, faq: FaqEditorDep) -> Response:
    """Canonical layout: exporting an unedited import gives the same bytes; commit it as data/faq.yml."""
    book = await asyncio.to_thread(faq.book, account.brand)
    return Response(
        transfer.export_yaml(book),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="faq.yml"'},
    )


@router.get(
    "/export.csv",
    summary="Export the FAQ as CSV (one row per entry)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **errors(404)},
)
async def export_csv(account: EditorAccount, faq: FaqEditorDep) -> Response:
    """Columns id, topic, enabled, question, alternatives (one per line), answer_<lang>, title_<lang>."""
    book = await asyncio.to_thread(faq.book, account.brand)
    return Response(
        transfer.export_csv(book),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="faq.csv"'},
    )


@router.post(
    "/import",
    response_model=ImportReport,
    summary="Import an FAQ file or a CSV (all or nothing)",
    responses={**errors(404), 422: {"model": ImportErrorBody, "description": "invalid rows; nothing applied"}},
)
async def import_faq(body: ImportRequest, account: EditorAccount, faq: FaqEditorDep) -> ImportReport:
    """Every row is validated first (errors by row and column: 422, nothing applied); then one transaction."""
    return await asyncio.to_thread(
        transfer.import_faq,
        faq,
        account.brand,
        account.username,
        body.format,
        body.content,
        body.dry_run,
        body.delete_missing,
    )
