"""Build a handoff ticket from a Rasa tracker (as the JSON dict actions receive).

Plain Python over the tracker's wire format; no Rasa import.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from bot.handoff.hours import SupportHours
from bot.handoff.models import (
    PRIORITY_BY_REASON,
    CustomerProfile,
    FaqAttempt,
    HandoffReason,
    Ticket,
    TranscriptLine,
)
from bot.handoff.rules import Escalation, Escalator, Situation
from bot.nlu.handoff import READ_FROM, READ_OVER

CONTEXT_SLOTS = ("order_number", "email", "phone")


def _user_line(event: Mapping[str, Any]) -> TranscriptLine:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    entities = [
        {"entity": e.get("entity"), "value": e.get("value"), "extractor": e.get("extractor")}
        for e in parse.get("entities") or []
    ]
    language = next((e["value"] for e in entities if e["entity"] == "language"), None)
    metadata = event.get("metadata") or {}
    return TranscriptLine(
        sender="customer",
        text=metadata.get("display_text") or event.get("text"),
        message_id=metadata.get("message_id"),
        timestamp=float(event.get("timestamp") or time.time()),
        intent=intent.get("name"),
        confidence=intent.get("confidence"),
        read_over=intent.get(READ_OVER),
        read_from=intent.get(READ_FROM),
        entities=[e for e in entities if e["entity"] != "language"],
        language=language,
    )


def _bot_line(event: Mapping[str, Any]) -> TranscriptLine:
    data = event.get("data") or {}
    payload = {k: data[k] for k in ("buttons", "quick_replies", "custom") if data.get(k)}
    return TranscriptLine(
        sender="bot",
        text=event.get("text"),
        timestamp=float(event.get("timestamp") or time.time()),
        payload=payload or None,
    )


def transcript(events: list[Mapping[str, Any]]) -> list[TranscriptLine]:
    """Customer and bot messages, in order, with timestamps and NLU results."""
    lines = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            lines.append(_user_line(event))
        elif kind == "bot" and (event.get("text") or (event.get("data") or {}).get("buttons")):
            lines.append(_bot_line(event))
    return lines


def with_stored_history(tracker: Mapping[str, Any], stored: Sequence[bytes | str]) -> dict[str, Any]:
    """The tracker with the stored events from before its window put in front of its own events.

    Rasa loads only a window of a conversation's recent events (connectors/tracker_store.py), cut at a
    customer message and preceded by restored state; the whole history stays in Redis. A ticket's
    transcript should reach further back than the window: ``stored`` are the last events of that
    history (JSON, oldest first; the turn in progress is not stored yet). The stored events before the
    copy of the window's first customer message go in front of the tracker's events from that message
    on. If that message is not among ``stored`` (a shorter read), the tracker is returned as it is.

    Args:
        tracker: The tracker state dict the action received.
        stored: The conversation's last stored events as JSON, oldest first.
    """
    events = list(tracker.get("events") or [])
    first = next((i for i, e in enumerate(events) if e.get("event") == "user"), None)
    if first is None or not stored:
        return dict(tracker)
    anchor = events[first]
    history = [json.loads(raw) for raw in stored]
    at = next(
        (
            i
            for i in range(len(history) - 1, -1, -1)
            if history[i].get("event") == "user"
            and history[i].get("timestamp") == anchor.get("timestamp")
            and history[i].get("text") == anchor.get("text")
        ),
        None,
    )
    if at is None:
        return dict(tracker)
    return {**tracker, "events": history[:at] + events[first:]}


def _customer(sender_id: str, events: list[Mapping[str, Any]]) -> CustomerProfile:
    metadata: dict[str, Any] = {}
    for event in events:
        if event.get("event") == "user" and event.get("metadata"):
            metadata.update(event["metadata"])
    channel = str(metadata.get("channel") or sender_id.split(":", 1)[0] or "unknown")
    customer_id = str(metadata.get("customer_id") or sender_id.split(":", 1)[-1])
    profile = metadata.get("profile") or {}
    extra = {**profile, **({"page_id": str(metadata["page_id"])} if metadata.get("page_id") else {})}
    return CustomerProfile(id=customer_id, channel=channel, name=profile.get("name"), extra=extra)


def build_ticket(
    tracker: Mapping[str, Any],
    reason: HandoffReason,
    language: str,
    faq_tried: list[dict[str, Any]] | None = None,
    now: float | None = None,
) -> Ticket:
    """Everything the bot knew, as a ticket ready to queue.

    Args:
        tracker: The tracker state dict (``sender_id``, ``events``, ``slots``).
        reason: Why the bot escalates.
        language: The conversation's language.
        faq_tried: FAQ attempts recorded by the FAQ action.
        now: Creation time (defaults to now).
    """
    events = list(tracker.get("events") or [])
    lines = transcript(events)
    customer = _customer(str(tracker["sender_id"]), events)
    slots = dict(tracker.get("slots") or {})
    customer_lines = [line for line in lines if line.sender == "customer"]
    context: list[dict[str, Any]] = []
    for event in events:
        for item in (event.get("metadata") or {}).get("context") or [] if event.get("event") == "user" else []:
            if isinstance(item, dict) and item not in context:
                context.append(item)
    return Ticket(
        id=uuid.uuid4().hex[:12],
        conversation_id=str(tracker["sender_id"]),
        channel=customer.channel,
        customer=customer,
        language=language,
        reason=reason,
        priority=PRIORITY_BY_REASON[reason],
        created_at=now if now is not None else time.time(),
        transcript=lines,
        intents=[
            {
                "text": line.text,
                "intent": line.intent,
                "confidence": line.confidence,
                "read_over": line.read_over,
                "read_from": line.read_from,
                "timestamp": line.timestamp,
                "message_id": line.message_id,
            }
            for line in customer_lines
        ],
        entities=[dict(e, text=line.text) for line in customer_lines for e in line.entities],
        faq_attempts=[FaqAttempt.model_validate(a) for a in faq_tried or []],
        slots={k: slots.get(k) for k in CONTEXT_SLOTS if slots.get(k) is not None},
        context=context,
    )


#: FAQ attempt outcomes that say what the customer asked about (``bot.faq.kb.DecisionKind``)
_TOPICAL = ("answer", "clarify")


def last_faq_entry(ticket: Ticket) -> str | None:
    """The top entry of the customer's last FAQ search that found something (answered or offered)."""
    for attempt in reversed(ticket.faq_attempts):
        if attempt.outcome in _TOPICAL and attempt.candidates:
            return str(attempt.candidates[0].get("entry_id") or "") or None
    return None


def apply_escalation(ticket: Ticket, escalator: Escalator, topic_of: Callable[[str], str | None]) -> Escalation:
    """Set the ticket's reason, priority, team, rule and VIP flag from the escalation rules.

    Args:
        ticket: A new ticket (``build_ticket``).
        escalator: The compiled rules.
        topic_of: FAQ entry id -> its topic (None if unknown).
    """
    last_text = next((line.text for line in reversed(ticket.transcript) if line.sender == "customer"), None)
    entry = last_faq_entry(ticket)
    decided = escalator.decide(
        Situation(
            reason=ticket.reason,
            text=last_text or "",
            language=ticket.language,
            channel=ticket.channel,
            customer_id=ticket.customer.id,
            profile=ticket.customer.extra,
            topic=topic_of(entry) if entry else None,
        )
    )
    ticket.reason, ticket.priority, ticket.team = decided.reason, decided.priority, decided.team
    ticket.rule, ticket.matched, ticket.vip = decided.rule, decided.matched, decided.vip
    return decided


def wait_message_vars(
    hours: SupportHours,
    expected_wait_minutes: int,
    now: datetime | None = None,
    agents_online: bool | None = None,
    away_wait_minutes: int = 60,
) -> tuple[str, dict[str, str]]:
    """Which handoff response to use and its template variables.

    Outside support hours: when the next opening is. In hours with nobody online
    (``agents_online`` False; None when presence does not count): a longer wait.
    """
    moment = now or datetime.now(timezone.utc)
    if hours.is_open(moment):
        if agents_online is False:
            return "utter_handoff_away", {"wait": str(away_wait_minutes)}
        return "utter_handoff_open", {"wait": str(expected_wait_minutes)}
    nxt = hours.next_open(moment)
    label = nxt.strftime("%Y-%m-%d %H:%M %Z") if nxt else "?"
    return "utter_handoff_closed", {"next_open": label}
