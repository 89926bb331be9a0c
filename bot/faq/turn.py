"""One FAQ turn: what the bot says when a customer asks a question.

Plain logic over the knowledge base, called by ``actions.ActionAnswerFaq``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bot.faq.kb import Decision, DecisionKind, DecisionReason, KnowledgeBase

#: intents whose messages are unlikely FAQ questions: answer only when very sure. Spam the classifier doubts
#: (below SPAM_SURE) is searched too, strictly; spam it is sure of is not (one of eval/dev.yml's 15 spam
#: messages, a follower-selling ad, passed the strict bar with the collaboration entry).
STRICT_INTENTS = frozenset({"out_of_scope", "spam"})
#: of those, intents whose unanswered messages are not worth a staff member's look (unanswered inbox)
UNRECORDED_INTENTS = frozenset({"spam"})
#: spam the classifier is this sure of is not searched at all: the out-of-scope reply, no FAQ answer. Since the
#: count vectors are scaled to one norm (config.yml), no FAQ question of eval/dev.yml (636) reads as spam, and
#: 13 of its 15 spam messages are above this (the others: 0.68, 0.74)
SPAM_SURE = 0.8
MAX_ATTEMPTS_KEPT = 20


class Outcome(str, Enum):
    """Reply kinds, also reported to the eval tool in the reply's custom data."""

    FAQ = "faq"
    CLARIFY = "clarify"
    NO_ANSWER = "none"
    OUT_OF_SCOPE = "out_of_scope"
    ESCALATE = "handoff"


@dataclass
class FaqTurn:
    """What to send and which slots to set."""

    outcome: Outcome
    text: str | None = None
    response: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    failed_answers: int = 0
    pending_offer: str | None = None
    attempt: dict[str, Any] | None = None
    reason: str = "repeated_failure"
    #: the decision: the search's, or sure spam's with no search behind it (reason ``spam``)
    decision: Decision | None = None


def _attempt(text: str, decision: Decision) -> dict[str, Any]:
    """What an agent sees of this search: the outcome, the top 3 entries, the confidence."""
    return {
        "text": text,
        "outcome": decision.kind.value,
        "reason": decision.reason.value,
        "candidates": [{"entry_id": c.entry_id, "score": round(c.score, 4)} for c in decision.ranked[:3]],
        "confidence": round(decision.confidence, 4),
        "timestamp": time.time(),
    }


def _button_title(title: str, limit: int = 20) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def answer_entry(kb: KnowledgeBase, entry_id: str, language: str | None) -> FaqTurn | None:
    """Answer a specific entry (a clarification button was tapped)."""
    kb.refresh()  # the same freshness as a search: an edit made since is served
    book = kb.book
    entry = book.get(entry_id)
    if entry is None or not entry.enabled:
        return None
    lang, text = entry.answer_in(language, book.default_language)
    return FaqTurn(
        Outcome.FAQ, text=text, meta={"kind": Outcome.FAQ, "faq_id": entry.id, "language": lang, "chosen": True}
    )


def skips_search(intent: str | None, confidence: float | None) -> bool:
    """The classifier is sure enough that the message is spam to give it no FAQ search."""
    return intent == "spam" and confidence is not None and confidence >= SPAM_SURE


def faq_turn(
    kb: KnowledgeBase,
    text: str,
    intent: str | None,
    language: str | None,
    failed_answers: int,
    max_failed: int,
    confidence: float | None = None,
) -> FaqTurn:
    """Search the FAQ for ``text`` and decide the reply.

    Args:
        kb: The knowledge base.
        text: The customer's message.
        intent: The NLU intent (``out_of_scope`` makes the search strict).
        language: The conversation's language (None: default language).
        failed_answers: Failed answers in a row before this message.
        max_failed: Failed answers in a row that trigger a handoff.
        confidence: The intent's confidence (spam at :data:`SPAM_SURE` or above is not searched).
    """
    strict = intent in STRICT_INTENTS
    if skips_search(intent, confidence):  # the strict path's reply, with no search behind it
        decision = Decision(DecisionKind.NONE, reason=DecisionReason.SPAM)
    else:
        decision = kb.ask(text, strict=strict)
    turn = _reply(kb, text, decision, strict, language, failed_answers, max_failed)
    turn.decision = decision
    turn.meta["decision_reason"] = decision.reason.value
    return turn


def _reply(
    kb: KnowledgeBase,
    text: str,
    decision: Decision,
    strict: bool,
    language: str | None,
    failed_answers: int,
    max_failed: int,
) -> FaqTurn:
    attempt = _attempt(text, decision)
    book = kb.book
    scores = {c.entry_id: round(c.score, 4) for c in decision.candidates}
    if decision.kind is DecisionKind.ANSWER and decision.best is not None:
        entry = book.get(decision.best.entry_id)
        if entry is not None:
            lang, answer = entry.answer_in(language, book.default_language)
            meta = {
                "kind": Outcome.FAQ,
                "faq_id": entry.id,
                "score": scores[entry.id],
                "language": lang,
                "confidence": round(decision.confidence, 4),
            }
            return FaqTurn(Outcome.FAQ, text=answer, meta=meta, attempt=attempt)
    if decision.kind is DecisionKind.CLARIFY:
        buttons = []
        for cand in decision.candidates:
            entry = book.get(cand.entry_id)
            if entry is not None:
                title = entry.titles.get(language or book.default_language) or entry.question
                buttons.append({"title": _button_title(title, 80), "payload": f'/choose_faq{{"faq_id":"{entry.id}"}}'})
        meta = {"kind": Outcome.CLARIFY, "choices": [c.entry_id for c in decision.candidates], "scores": scores}
        return FaqTurn(
            Outcome.CLARIFY,
            response="utter_faq_clarify",
            buttons=buttons,
            meta=meta,
            failed_answers=failed_answers,
            attempt=attempt,
        )
    if strict:
        return FaqTurn(
            Outcome.OUT_OF_SCOPE,
            response="utter_out_of_scope",
            meta={"kind": Outcome.NO_ANSWER, "scores": scores},
            failed_answers=failed_answers,
            attempt=attempt,
        )
    failed = failed_answers + 1
    if failed >= max_failed:
        return FaqTurn(
            Outcome.ESCALATE, meta={"kind": Outcome.NO_ANSWER, "scores": scores}, failed_answers=failed, attempt=attempt
        )
    return FaqTurn(
        Outcome.NO_ANSWER,
        response="utter_faq_none",
        meta={"kind": Outcome.NO_ANSWER, "scores": scores},
        failed_answers=failed,
        pending_offer="human",
        attempt=attempt,
    )


#: intents whose messages are searched in the FAQ (data/rules.yml: action_answer_faq)
FAQ_INTENTS = frozenset({"faq", "nlu_fallback", *STRICT_INTENTS})


def keep_attempts(previous: list[dict[str, Any]] | None, attempt: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Append an attempt to the slot value, keeping the most recent ones."""
    items = list(previous or [])
    if attempt:
        items.append(attempt)
    return items[-MAX_ATTEMPTS_KEPT:]
