"""FastAPI dependencies of the staff FAQ API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, status

from bot.api.agent_deps import ErrorBody
from bot.api.deps import ServicesDep
from bot.faq.editor import FaqEditor
from bot.faq.editor_models import Check, EntryPublic, ImportReport


async def get_faq_editor(services: ServicesDep) -> FaqEditor:
    """The FAQ editing service."""
    if services.faq is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "FAQ editor not configured")
    return services.faq


FaqEditorDep = Annotated[FaqEditor, Depends(get_faq_editor)]


class ConflictBody(ErrorBody):
    """409 on an FAQ entry: someone saved it since the version you edited."""

    current: EntryPublic | None = None


class CheckErrorBody(ErrorBody):
    """422 when a blocking check fails: every finding (errors and warnings)."""

    checks: list[Check] = []


class ImportErrorBody(ErrorBody):
    """422 when an import has invalid rows: nothing was applied."""

    report: ImportReport | None = None


#: OpenAPI descriptions of the FAQ-specific error bodies
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ConflictBody, "description": "stale expected_version: `current` is the entry as it is now"}
}
CHECK_FAILED: dict[int | str, dict[str, Any]] = {
    422: {"model": CheckErrorBody, "description": "invalid input, or a blocking check failed (`checks`)"}
}
