"""Custom actions. Each one reads the tracker, calls plain logic in bot/, and
turns the result into rasa-sdk events and messages."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from bot import runtime
from bot.faq.turn import (
    UNRECORDED_INTENTS,
    FaqTurn,
    Outcome,
    answer_entry,
    faq_turn,
    keep_attempts,
)
from bot.handoff.context import apply_escalation, build_ticket, wait_message_vars, with_stored_history
from bot.handoff.models import HandoffReason
from bot.keys import Keys
from bot.settings import CoreSettings, core_settings

log = logging.getLogger(__name__)

REASON_BY_INTENT = {
    "request_human": HandoffReason.REQUESTED,
    "complaint_angry": HandoffReason.ANGRY,
    "affirm": HandoffReason.OFFER_ACCEPTED,
}


async def _language(tracker: Tracker) -> str:
    lang = tracker.get_slot("language")
    if lang:
        return str(lang)
    kb = await asyncio.to_thread(runtime.knowledge_base)  # built off the event loop on first use
    return kb.book.default_language


class ActionGreet(Action):
    """Greets, by first name when the channel's profile gave one (Messenger/Instagram)."""

    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        profile = (tracker.latest_message.get("metadata") or {}).get("profile") or {}
        first = str(profile.get("name") or "").strip()[:40]
        if first:
            dispatcher.utter_message(response="utter_greet_named", name=first)
        else:
            dispatcher.utter_message(response="utter_greet")
        return []


async def _with_history(tracker: Tracker, settings: CoreSettings) -> dict[str, Any]:
    """The tracker's state, its events reaching back ``transcript_events`` stored events (Rasa loads fewer)."""
    state = tracker.current_state()
    events = settings.transcript_events
    if events <= 0:
        return state
    key = Keys(settings.redis_prefix).tracker_events(tracker.sender_id)
    try:
        stored = await asyncio.to_thread(runtime.redis_client().lrange, key, -events, -1)
    except RedisError as exc:  # the ticket still gets the window's transcript
        log.warning("stored history not read for the ticket", extra={"error": str(exc)})
        return state
    return with_stored_history(state, stored)


async def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: HandoffReason, faq_tried: list[dict[str, Any]]
) -> list[EventType]:
    """Open (or reuse) a ticket, tell the customer, pause the bot."""
    settings = core_settings()
    language = await _language(tracker)
    ticket = build_ticket(await _with_history(tracker, settings), reason, language, faq_tried)
    kb = await asyncio.to_thread(runtime.knowledge_base)
    apply_escalation(ticket, runtime.escalator(), kb.topic_of)
    store = runtime.handoff_store()
    ticket, created = await asyncio.to_thread(store.open, ticket)
    online = await asyncio.to_thread(runtime.presence().anyone_online, store.brand_of(ticket))
    response, variables = wait_message_vars(
        runtime.support_hours(),
        settings.expected_wait_minutes,
        agents_online=online,
        away_wait_minutes=settings.away_wait_minutes,
    )
    dispatcher.utter_message(
        response=response,
        json_message={
            "dmdesk": {
                "kind": Outcome.ESCALATE.value,
                "ticket_id": ticket.id,
                "reason": ticket.reason.value,
                "priority": ticket.priority,
                "team": ticket.team,
                "rule": ticket.rule,
                "new_ticket": created,
                "agents_online": online,
            }
        },
        **variables,
    )
    log.info(
        "handoff",
        extra={"ticket": ticket.id, "reason": ticket.reason.value, "rule": ticket.rule, "new_ticket": created},
    )
    return [SlotSet("pending_offer", None), SlotSet("failed_answers", 0), ConversationPaused()]


class ActionAnswerFaq(Action):
    """Answer from the FAQ, offer choices, or say so plainly and offer a person."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        latest = tracker.latest_message or {}
        intent = (latest.get("intent") or {}).get("name")
        confidence = (latest.get("intent") or {}).get("confidence")
        language = tracker.get_slot("language")
        kb = await asyncio.to_thread(runtime.knowledge_base)
        chosen = next(tracker.get_latest_entity_values("faq_id"), None)
        if intent == "choose_faq" and chosen:
            turn = await asyncio.to_thread(answer_entry, kb, str(chosen), language)
            if turn is not None:
                dispatcher.utter_message(text=turn.text, json_message={"dmdesk": turn.meta})
                return [SlotSet("pending_offer", None), SlotSet("failed_answers", 0)]
        text = latest.get("text") or ""
        failed = int(tracker.get_slot("failed_answers") or 0)
        turn = await asyncio.to_thread(
            faq_turn, kb, text, intent, language, failed, core_settings().max_failed_answers, confidence
        )
        if intent not in UNRECORDED_INTENTS:
            await record_miss(text, language, turn, tracker.sender_id)
        tried = keep_attempts(tracker.get_slot("faq_tried"), turn.attempt)
        events: list[EventType] = [SlotSet("faq_tried", tried)]
        if turn.outcome is Outcome.ESCALATE:
            return events + await hand_off(dispatcher, tracker, HandoffReason(turn.reason), tried)
        dispatcher.utter_message(
            text=turn.text, response=turn.response, buttons=turn.buttons or None, json_message={"dmdesk": turn.meta}
        )
        return events + [SlotSet("failed_answers", turn.failed_answers), SlotSet("pending_offer", turn.pending_offer)]


async def record_miss(text: str, language: str | None, turn: FaqTurn, conversation_id: str) -> None:
    """Put a message the bot did not answer into the unanswered inbox; never fails the turn."""
    try:
        store = runtime.unanswered_store()
        await asyncio.to_thread(store.record_turn, core_settings().brand, text, language, turn, conversation_id)
    except RedisError as exc:
        log.warning("unanswered message not recorded", extra={"error": type(exc).__name__})


class ActionHandoff(Action):
    """Hand the conversation to a person now, with its whole context."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        reason = REASON_BY_INTENT.get(str(intent), HandoffReason.REQUESTED)
        return await hand_off(dispatcher, tracker, reason, list(tracker.get_slot("faq_tried") or []))


class ActionClearOffer(Action):
    """Forget an offer of a person the customer declined."""

    def name(self) -> str:
        return "action_clear_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return [SlotSet("pending_offer", None), SlotSet("failed_answers", 0)]
