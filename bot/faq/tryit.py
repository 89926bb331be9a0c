""" "Try it": what the bot would answer to a customer message, through the bot's own code path.

:func:`bot.faq.turn.faq_turn` (``KnowledgeBase.ask``: search, verifier,
decision) is what the action server runs for every FAQ question; here it runs
on this process's knowledge base, which follows every FAQ change like the
action server's. Only NLU is not run: the message is treated as an FAQ
question (``strict``: as if NLU had said ``out_of_scope``), and never counts
as a failed answer towards a handoff.
"""

from __future__ import annotations

import sys

from bot.faq.editor_models import TryCandidate, TryResult
from bot.faq.kb import DecisionKind, KnowledgeBase
from bot.faq.turn import STRICT_INTENTS, faq_turn
from bot.language import detect_language


def try_message(kb: KnowledgeBase, text: str, language: str | None = None, strict: bool = False) -> TryResult:
    """The decision, reply, verifier probability and ranked entries for ``text``.

    Args:
        kb: The process's knowledge base.
        text: The customer's message.
        language: Reply language; None: detected as the bot does, else the FAQ's default.
        strict: Search as for a message NLU found out of scope.
    """
    book = kb.book
    lang = language or detect_language(text, book.languages) or book.default_language
    intent = next(iter(STRICT_INTENTS)) if strict else "faq"
    turn = faq_turn(kb, text, intent, lang, failed_answers=0, max_failed=sys.maxsize)
    decision = turn.decision
    assert decision is not None
    book = kb.book
    candidates = []
    for cand in decision.ranked:
        entry = book.get(cand.entry_id)
        candidates.append(
            TryCandidate(
                entry_id=cand.entry_id,
                question=entry.question if entry else "",
                score=round(cand.score, 4),
                matched=cand.matched,
                components=cand.components,
                evidence=cand.evidence,
            )
        )
    answered = decision.kind is DecisionKind.ANSWER and turn.text is not None
    with kb.lock:
        nearest = kb.index.nearest_not_covered(text)
    lead = decision.ranked[0].evidence.get("not_covered") if decision.ranked else None
    return TryResult(
        decision=decision.kind.value,
        reason=decision.reason.value,
        outcome=turn.outcome.value,
        entry_id=str(turn.meta.get("faq_id")) if answered else None,
        reply=turn.text if answered else None,
        language=str(turn.meta.get("language", lang)),
        choices=[c.entry_id for c in decision.candidates] if decision.kind is DecisionKind.CLARIFY else [],
        probability=round(decision.confidence, 4),
        candidates=candidates,
        not_covered=nearest[0] if nearest else None,
        not_covered_lead=lead,
        faq_version=kb.current_version(),
    )
