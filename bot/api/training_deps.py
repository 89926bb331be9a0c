"""Dependencies of the training data, retraining and unanswered-questions routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from redis import Redis

from bot import runtime
from bot.api.agent_deps import EditorAccount
from bot.errors import NotFoundError
from bot.faq.editor import FaqEditor
from bot.keys import Keys
from bot.retrain.jobs import JobStore
from bot.settings import ROOT, ServiceSettings
from bot.trainingdata import nlufile
from bot.trainingdata.store import TrainingDataStore
from bot.trainingdata.validate import Domain
from bot.unanswered.inbox import UnansweredInbox
from bot.unanswered.store import UnansweredStore


@dataclass
class TrainingServices:
    """The training data store, the job store and the unanswered inbox of this deployment."""

    settings: ServiceSettings
    data: TrainingDataStore
    jobs: JobStore
    unanswered: UnansweredStore
    inbox: UnansweredInbox


def build_training_services(settings: ServiceSettings, redis: Redis, keys: Keys, faq: FaqEditor) -> TrainingServices:
    """Wire the stores over the app's FAQ editing service; the knowledge base is built on first use."""
    intents, entities = nlufile.read_domain(ROOT / "domain.yml")
    domain = Domain(tuple(intents), tuple(entities), settings.nlu_min_examples)
    unanswered = UnansweredStore(redis, keys, settings.unanswered_kept)
    inbox = UnansweredInbox(unanswered, runtime.knowledge_base, lambda: faq, settings.unanswered_similarity)
    return TrainingServices(settings, TrainingDataStore(redis, keys, domain), JobStore(redis, keys), unanswered, inbox)


async def get_training(request: Request) -> TrainingServices:
    """The app's training services."""
    services: TrainingServices | None = getattr(request.app.state, "training", None)
    if services is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "training services not configured")
    return services


TrainingDep = Annotated[TrainingServices, Depends(get_training)]


def deployment_brand(account: EditorAccount, training: TrainingDep) -> str:
    """The editor's brand, which must be the brand this deployment's model and FAQ serve.

    The training data is imported from data/nlu on first use.

    Raises:
        NotFoundError: The account belongs to another brand (its data is not here).
    """
    if account.brand != training.settings.brand:
        raise NotFoundError("this deployment serves another brand", brand=account.brand)
    training.data.seed_from_dir(account.brand, training.settings.nlu_dir)
    return account.brand


BrandDep = Annotated[str, Depends(deployment_brand)]
