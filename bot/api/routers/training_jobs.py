"""Retraining API: request a training or a restore, follow its progress, list models (editors and admins)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from bot.api.agent_deps import EditorAccount, errors
from bot.api.training_deps import BrandDep, TrainingDep
from bot.errors import NotFoundError
from bot.retrain.models import JOB_ID_PATTERN, JobKind, ModelsPublic, RestoreCreate, TrainingJob
from bot.trainingdata.store import TrainingDataInvalid

router = APIRouter(prefix="/api/training", tags=["retraining"])

JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN)]


@router.post(
    "/jobs",
    response_model=TrainingJob,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Retrain on the current training data and swap the model in",
    responses=errors(409, 422),
)
async def train(account: EditorAccount, brand: BrandDep, training: TrainingDep) -> TrainingJob:
    """Queued for the NLU supervisor: ``queued`` → ``training`` → ``validating`` (a second Rasa server on the
    new model answers a probe turn) → ``swapping`` (clients switch, the old server drains) → ``done``, or
    ``failed`` with the reason and the log tail; the running model is untouched until the switch. 409 while
    another job is queued or running; 422 when the data has validation errors."""
    issues = await asyncio.to_thread(training.data.validate_all, brand)
    if issues:
        raise TrainingDataInvalid(f"the training data has {len(issues)} problems: {issues[0].message}", issues)
    return await asyncio.to_thread(training.jobs.create, JobKind.TRAIN, brand, account.username)


@router.post(
    "/models/restore",
    response_model=TrainingJob,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Swap back to an earlier model (the previous one by default)",
    responses=errors(404, 409, 422),
)
async def restore(body: RestoreCreate, account: EditorAccount, brand: BrandDep, training: TrainingDep) -> TrainingJob:
    """The same swap as after a training, with a stored model."""
    if body.version is not None:
        await asyncio.to_thread(training.jobs.model, body.version)  # 404 for an unknown version
    return await asyncio.to_thread(training.jobs.create, JobKind.RESTORE, brand, account.username, body.version)


@router.get("/jobs", response_model=list[TrainingJob], summary="Recent jobs, newest first", responses=errors(422))
async def jobs(
    account: EditorAccount, brand: BrandDep, training: TrainingDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[TrainingJob]:
    """With their states and timestamps."""
    return await asyncio.to_thread(training.jobs.recent, brand, limit)


@router.get("/jobs/{job_id}", response_model=TrainingJob, summary="One job's progress", responses=errors(404))
async def job(job_id: JobId, account: EditorAccount, brand: BrandDep, training: TrainingDep) -> TrainingJob:
    """Poll this while a job runs: state, state history, log tail, error."""
    found = await asyncio.to_thread(training.jobs.get, job_id)
    if found.brand != brand:
        raise NotFoundError("training job not found", job_id=job_id)
    return found


@router.get("/models", response_model=ModelsPublic, summary="Stored models and the one being served")
async def models(account: EditorAccount, brand: BrandDep, training: TrainingDep) -> ModelsPublic:
    """The active model, the one before it (what restore goes back to), and every stored model."""
    active, endpoint, stored = await asyncio.gather(
        asyncio.to_thread(training.jobs.active),
        asyncio.to_thread(training.jobs.endpoint),
        asyncio.to_thread(training.jobs.models),
    )
    return ModelsPublic(active=active, endpoint=endpoint, models=stored)
