"""Suggested answers: the FAQ entries that best fit the customer's latest message."""

from __future__ import annotations

from bot.agents.models import Suggestion, Suggestions
from bot.faq.kb import KnowledgeBase
from bot.handoff.models import Ticket


def suggest(kb: KnowledgeBase, ticket: Ticket, k: int = 3) -> Suggestions:
    """Top ``k`` FAQ answers, in the customer's language, for their latest message.

    Uses the same search the bot uses (``KnowledgeBase.search``); disabled
    entries are left out.
    """
    query = next((line.text for line in reversed(ticket.transcript) if line.sender == "customer" and line.text), None)
    if not query:
        return Suggestions(ticket_id=ticket.id, query=None, language=ticket.language, confidence=None, suggestions=[])
    candidates = kb.search(query)  # the same top 5 the bot decides on
    book = kb.book
    out = []
    for candidate in candidates:
        entry = book.get(candidate.entry_id)
        if entry is None or not entry.enabled:
            continue
        language, answer = entry.answer_in(ticket.language, book.default_language)
        out.append(
            Suggestion(
                entry_id=entry.id, question=entry.question, answer=answer, language=language, score=candidate.score
            )
        )
        if len(out) == k:
            break
    confidence = kb.verifier.probability(candidates) if candidates else None
    return Suggestions(
        ticket_id=ticket.id, query=query, language=ticket.language, confidence=confidence, suggestions=out
    )
