"""FAQ editor pages (editors and admins): list and search, edit form, history, try it, import/export,
the questions the FAQ does not cover.

Pages are rendered from the FAQ editing service (``bot/faq/editor.py``);
saving, deleting, rolling back, trying and importing go through the JSON API
(``/api/staff/faq``) from ``/static/faq.js`` with the session's Bearer token;
adding and removing not-covered questions from ``/static/not_covered.js``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from bot.api.deps import ServicesDep
from bot.api.faq_deps import FaqEditorDep
from bot.api.web_deps import EditorPage
from bot.errors import NotFoundError
from bot.faq.editor_models import HistoryRecord
from bot.faq.models import ID_PATTERN, LANG_PATTERN, FaqEntry
from bot.web import render

router = APIRouter(include_in_schema=False)

EntryId = Annotated[str, Path(pattern=ID_PATTERN)]


@dataclass(frozen=True)
class FieldChange:
    """One field of an entry that a change touched, for the history page."""

    field: str
    before: str
    after: str
    added: list[str]
    removed: list[str]


def changes_of(record: HistoryRecord) -> list[FieldChange]:
    """What a recorded change altered, field by field (alternatives as added/removed phrasings)."""
    before: dict[str, Any] = record.before.model_dump() if record.before else {}
    after: dict[str, Any] = record.after.model_dump() if record.after else {}
    out: list[FieldChange] = []
    for name in ("question", "topic", "enabled"):
        if before.get(name) != after.get(name):
            out.append(FieldChange(name, _show(before.get(name)), _show(after.get(name)), [], []))
    old_alts, new_alts = before.get("alternatives", []), after.get("alternatives", [])
    if old_alts != new_alts:
        added = [a for a in new_alts if a not in old_alts]
        removed = [a for a in old_alts if a not in new_alts]
        out.append(
            FieldChange("alternatives", f"{len(old_alts)} phrasings", f"{len(new_alts)} phrasings", added, removed)
        )
    for group, label in (("answers", "answer"), ("titles", "title")):
        old, new = before.get(group, {}), after.get(group, {})
        for lang in sorted(set(old) | set(new)):
            if old.get(lang) != new.get(lang):
                out.append(FieldChange(f"{label} ({lang})", old.get(lang, "—"), new.get(lang, "—"), [], []))
    return out


def _show(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@router.get("/staff/faq", response_class=HTMLResponse)
async def faq_list(
    request: Request,
    account: EditorPage,
    faq: FaqEditorDep,
    services: ServicesDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    topic: Annotated[str | None, Query(max_length=40)] = None,
    enabled: Annotated[str | None, Query(pattern=r"^(|true|false)$")] = None,
    missing: Annotated[str | None, Query(pattern=r"^$|" + LANG_PATTERN)] = None,
) -> HTMLResponse:
    """Entries (filtered), completeness badges, try it, import and export."""
    flag = None if not enabled else enabled == "true"
    listed = await asyncio.to_thread(
        faq.list_entries, account.brand, q or None, topic or None, flag, missing or None, 0, 10_000
    )
    everything = await asyncio.to_thread(faq.publics, account.brand)
    completeness = await asyncio.to_thread(faq.completeness, account.brand)
    not_covered = await asyncio.to_thread(faq.not_covered, account.brand)
    filters = {"q": q or "", "topic": topic or "", "enabled": enabled or "", "missing": missing or ""}
    return render(
        request,
        "faq/list.html",
        account,
        entries=listed.entries,
        total=len(everything),
        topics=sorted({e.topic for e in everything}),
        completeness=completeness,
        filters=filters,
        not_covered=len(not_covered.questions),
        margin=services.settings.not_covered_margin,
    )


def _blank() -> FaqEntry:
    return FaqEntry.model_construct(id="", topic="", question="", alternatives=[], answers={}, titles={}, enabled=True)


@router.get("/staff/faq/new", response_class=HTMLResponse)
async def faq_new(request: Request, account: EditorPage, faq: FaqEditorDep) -> HTMLResponse:
    """The edit form for a new entry."""
    completeness = await asyncio.to_thread(faq.completeness, account.brand)
    return render(
        request,
        "faq/edit.html",
        account,
        entry=_blank(),
        version=0,
        is_new=True,
        languages=completeness.languages,
        default_language=completeness.default_language,
        updated_by=None,
    )


# before /staff/faq/{entry_id}, which would take "not-covered" as an (invalid) entry id
@router.get("/staff/faq/not-covered", response_class=HTMLResponse)
async def faq_not_covered(
    request: Request, account: EditorPage, faq: FaqEditorDep, services: ServicesDep
) -> HTMLResponse:
    """The questions no entry answers (a filter, add, remove); the list is handed to the page's script."""
    listed = await asyncio.to_thread(faq.not_covered, account.brand)
    return render(
        request,
        "faq/not_covered.html",
        account,
        listed=listed.model_dump(),
        margin=services.settings.not_covered_margin,
    )


@router.get("/staff/faq/{entry_id}", response_class=HTMLResponse)
async def faq_edit(request: Request, entry_id: EntryId, account: EditorPage, faq: FaqEditorDep) -> HTMLResponse:
    """The edit form of an entry (404 page if there is none)."""
    entry = await asyncio.to_thread(faq.get, account.brand, entry_id)
    completeness = await asyncio.to_thread(faq.completeness, account.brand)
    languages = [*completeness.languages, *sorted(set(entry.answers) - set(completeness.languages))]
    return render(
        request,
        "faq/edit.html",
        account,
        entry=entry,
        version=entry.version,
        is_new=False,
        languages=languages,
        default_language=completeness.default_language,
        updated_by=entry.updated_by,
    )


@router.get("/staff/faq/{entry_id}/history", response_class=HTMLResponse)
async def faq_history(request: Request, entry_id: EntryId, account: EditorPage, faq: FaqEditorDep) -> HTMLResponse:
    """Every change of the entry with what it altered, and a rollback button per earlier version."""
    records = await asyncio.to_thread(faq.history, account.brand, entry_id)
    try:
        current = await asyncio.to_thread(faq.get, account.brand, entry_id)
        version, exists = current.version, True
    except NotFoundError:  # deleted: its history stays, and a rollback restores it
        version, exists = (records[0].version if records else 0), False
    rows = [(r, changes_of(r)) for r in records]
    return render(request, "faq/history.html", account, entry_id=entry_id, rows=rows, version=version, exists=exists)
