"""Training data editor API: examples per intent, validation, history, export (editors and admins)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from bot.api.agent_deps import EditorAccount, errors
from bot.api.training_deps import BrandDep, TrainingDep
from bot.trainingdata.models import (
    EXAMPLE_ID_PATTERN,
    INTENT_PATTERN,
    ChangeRecord,
    DataStatus,
    ExampleCreate,
    ExamplePublic,
    ExampleUpdate,
)

router = APIRouter(prefix="/api/training", tags=["training data"])

IntentName = Annotated[str, Path(pattern=INTENT_PATTERN)]
ExampleId = Annotated[str, Path(pattern=EXAMPLE_ID_PATTERN)]


@router.get("/intents", response_model=DataStatus, summary="Intents with example counts and the set's issues")
async def intents(account: EditorAccount, brand: BrandDep, training: TrainingDep) -> DataStatus:
    """Every domain intent with its examples per language tag, the data version, and what
    ``rasa data validate``'s NLU rules would report on the whole set."""
    return await asyncio.to_thread(training.data.status, brand)


@router.get(
    "/intents/{intent}/examples",
    response_model=list[ExamplePublic],
    summary="Examples of an intent",
    responses=errors(404, 422),
)
async def examples(
    intent: IntentName,
    account: EditorAccount,
    brand: BrandDep,
    training: TrainingDep,
    language: Annotated[str | None, Query(pattern=r"^([a-z]{2}|none)$")] = None,
) -> list[ExamplePublic]:
    """In file order; ``language`` filters by tag (``none``: no language signal)."""
    items = await asyncio.to_thread(training.data.examples, brand, intent, language)
    return [ExamplePublic.of(e) for e in items]


@router.post(
    "/intents/{intent}/examples",
    response_model=ChangeRecord,
    status_code=status.HTTP_201_CREATED,
    summary="Add an example",
    responses=errors(422),
)
async def add_example(
    intent: IntentName, body: ExampleCreate, account: EditorAccount, brand: BrandDep, training: TrainingDep
) -> ChangeRecord:
    """Checked before it is saved (422 with ``issues``): empty, too long, several lines, unknown intent,
    entity annotation syntax and entities, the same text in another intent (conflict) or this one."""
    return await asyncio.to_thread(training.data.add, brand, intent, body, account.username)


@router.get("/examples/{example_id}", response_model=ExamplePublic, summary="One example", responses=errors(404))
async def get_example(
    example_id: ExampleId, account: EditorAccount, brand: BrandDep, training: TrainingDep
) -> ExamplePublic:
    """With its version (send it back to change or remove the example)."""
    return ExamplePublic.of(await asyncio.to_thread(training.data.get, brand, example_id))


@router.patch(
    "/examples/{example_id}",
    response_model=ChangeRecord,
    summary="Change an example's text, intent or language",
    responses=errors(404, 409, 422),
)
async def update_example(
    example_id: ExampleId, body: ExampleUpdate, account: EditorAccount, brand: BrandDep, training: TrainingDep
) -> ChangeRecord:
    """409 when ``version`` is not the stored one (someone saved first; nothing is lost); 422 as for adding,
    and when a move would leave the old intent below the minimum of examples."""
    return await asyncio.to_thread(training.data.update, brand, example_id, body, account.username)


@router.delete(
    "/examples/{example_id}",
    response_model=ChangeRecord,
    summary="Remove an example",
    responses=errors(404, 409, 422),
)
async def remove_example(
    example_id: ExampleId,
    account: EditorAccount,
    brand: BrandDep,
    training: TrainingDep,
    version: Annotated[int, Query(ge=1, description="The version you saw.")],
) -> ChangeRecord:
    """409 on a stale version; 422 when the intent would keep fewer than the minimum of examples."""
    return await asyncio.to_thread(training.data.remove, brand, example_id, version, account.username)


@router.get(
    "/intents/{intent}/history",
    response_model=list[ChangeRecord],
    summary="Changes of an intent, newest first",
    responses=errors(422),
)
async def history(
    intent: IntentName,
    account: EditorAccount,
    brand: BrandDep,
    training: TrainingDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ChangeRecord]:
    """Who, when, before and after (a move shows in both intents' history)."""
    return await asyncio.to_thread(training.data.history, brand, intent, limit)


@router.get("/export", response_model=dict[str, str], summary="The data as Rasa files (data/ layout)")
async def export(account: EditorAccount, brand: BrandDep, training: TrainingDep) -> dict[str, str]:
    """``nlu/<intent>.yml`` per intent (and ``nlu_languages.yml`` when editors set language tags); unedited
    data gives the repository's files byte for byte. ``dmdesk training export`` writes them into data/."""
    return await asyncio.to_thread(training.data.export, brand)
