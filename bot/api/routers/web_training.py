"""Pages: the training data editor (/staff/training) and the unanswered-questions inbox (/staff/unanswered)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot import runtime
from bot.api.training_deps import TrainingDep
from bot.api.web_deps import EditorPage
from bot.web import render

router = APIRouter(include_in_schema=False)


@router.get("/staff/training", response_class=HTMLResponse)
async def training_page(request: Request, account: EditorPage, training: TrainingDep) -> HTMLResponse:
    """Intents and their examples, the model served, retraining with its progress."""
    return render(
        request,
        "training/index.html",
        account,
        languages=list(training.data.languages),
        own_brand=account.brand == training.settings.brand,
    )


@router.get("/staff/unanswered", response_class=HTMLResponse)
async def unanswered_page(request: Request, account: EditorPage, training: TrainingDep) -> HTMLResponse:
    """Groups of messages the bot did not answer, and the actions that teach it the answer."""
    kb = await asyncio.to_thread(runtime.knowledge_base)
    book = kb.book
    entries = [{"id": e.id, "question": e.question, "topic": e.topic} for e in book.entries]
    return render(
        request,
        "unanswered/index.html",
        account,
        entries=entries,
        languages=book.languages,
        default_language=book.default_language,
    )
