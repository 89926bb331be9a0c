"""Rasa input channel ``dmdesk_control``: the bot service pauses or resumes the
bot in a conversation (agent workspace: resolve hands the chat back to the bot,
a reopened ticket pauses it again).

Endpoint: ``POST /webhooks/dmdesk_control/control`` with
``{"sender": str, "op": "pause" | "resume", "text": str | null}`` and the
header ``X-Dmdesk-Token: $DMDESK_CHANNEL_TOKEN`` (constant-time compare).
The events are appended to the tracker under Rasa's conversation lock, the
way Rasa's own ``/conversations/<id>/tracker/events`` does, without opening
Rasa's whole HTTP API.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, ConversationResumed, Event
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.rasa_channel import MAX_TEXT, channel_token, checked_body

log = logging.getLogger(__name__)


class DmdeskControlInput(InputChannel):
    """Channel ``dmdesk_control``: conversation state changes, no NLU."""

    @classmethod
    def name(cls) -> str:
        """Channel name, also the URL segment."""
        return "dmdesk_control"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes of the channel."""
        hook = Blueprint("dmdesk_control", __name__)
        expected = channel_token()
        if not expected:
            log.warning("DMDESK_CHANNEL_TOKEN is not set: the dmdesk_control channel accepts unauthenticated calls")

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/control", methods=["POST"])
        async def control(request: Request) -> HTTPResponse:
            body = checked_body(request, expected)
            if isinstance(body, HTTPResponse):
                return body
            sender, op, text = body.get("sender"), body.get("op"), body.get("text")
            if not isinstance(sender, str) or not sender or op not in ("pause", "resume"):
                return response.json({"detail": "sender (string) and op (pause|resume) required"}, status=400)
            if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
                return response.json({"detail": "text must be a string"}, status=400)
            events: list[Event] = [ConversationPaused()] if op == "pause" else [ConversationResumed()]
            if op == "resume":
                if text:
                    events.append(BotUttered(text, metadata={"dmdesk": {"kind": "agent_resolved"}}))
                # A fresh turn: without it, the policies would still see the handoff as the last action
                # (a paused tracker records messages but no action_listen) and hand off again.
                events.append(ActionExecuted(ACTION_LISTEN_NAME))
            agent = request.app.ctx.agent
            try:
                async with agent.lock_store.lock(sender):
                    tracker = await agent.processor.fetch_tracker_with_initial_session(sender)
                    for event in events:
                        tracker.update(event)
                    await agent.tracker_store.save(tracker)
            except Exception as exc:  # the caller must learn that the change was not made
                log.error("dmdesk control: %s failed (sender %s): %s", op, sender, type(exc).__name__)
                return response.json({"detail": f"failed: {type(exc).__name__}"}, status=500)
            return response.json({"sender": sender, "op": op, "paused": tracker.is_paused()})

        return hook
