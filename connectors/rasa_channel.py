"""Rasa input channel used by the bot service's dispatcher.

Rasa's own REST channel answers ``200 []`` when processing fails, which a
caller cannot tell from "the bot said nothing" (e.g. while a human owns the
chat). This channel answers 200 with the replies, or 400/500 with a short
reason, and logs failures without the message text or metadata.

Endpoint: ``POST /webhooks/dmdesk/webhook`` with
``{"sender": str, "message": str, "metadata": {...}, "vector": {...}}``
(``vector``, optional: the message's sentence vector computed by the consumer,
``bot.nlu.vectors.pack``, with the vectors of its sentences if it has more than
one; used by the NLU featurizer instead of encoding the texts, if they are the
texts' and the featurizer's encoder's) and the header
``X-Dmdesk-Token: $DMDESK_CHANNEL_TOKEN`` (a secret shared with the bot
service through the environment; compared in constant time).
"""

from __future__ import annotations

import hmac
import logging
import os
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import Any, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.nlu.vectors import OFFERED, unpack, unpack_clauses
from connectors import rasa_speedups

rasa_speedups.install()

log = logging.getLogger(__name__)

MAX_TEXT = 10_000
TOKEN_HEADER = "X-Dmdesk-Token"


def channel_token() -> bytes:
    """The shared secret the bot service sends (empty: unauthenticated, logged by the caller)."""
    return os.environ.get("DMDESK_CHANNEL_TOKEN", "").encode()


def checked_body(request: Request, expected: bytes) -> dict[str, Any] | HTTPResponse:
    """The request's JSON object, or the 4xx answer: token checked in constant time, then JSON."""
    given = (request.headers.get(TOKEN_HEADER) or "").encode()
    if expected and not hmac.compare_digest(given, expected):
        return response.json({"detail": "missing or invalid channel token"}, status=401)
    try:
        body = request.json
    except Exception:  # sanic raises its own InvalidUsage on bad JSON
        return response.json({"detail": "malformed JSON"}, status=400)
    if not isinstance(body, dict):
        return response.json({"detail": "expected a JSON object"}, status=400)
    return body


class DmdeskInput(InputChannel):
    """Channel ``dmdesk``: one customer message in, the bot's replies out."""

    @classmethod
    def name(cls) -> str:
        """Channel name, also the URL segment."""
        return "dmdesk"

    def get_metadata(self, request: Request) -> Optional[dict[str, Any]]:
        """The metadata object sent by the dispatcher."""
        body = request.json or {}
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else {}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes of the channel."""
        hook = Blueprint("dmdesk_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "vectors": OFFERED.counts()})

        expected = channel_token()
        if not expected:
            log.warning("DMDESK_CHANNEL_TOKEN is not set: the dmdesk channel accepts unauthenticated calls")

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = checked_body(request, expected)
            if isinstance(body, HTTPResponse):
                return body
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not sender or not isinstance(text, str) or len(text) > MAX_TEXT:
                return response.json({"detail": "sender and message (string) required"}, status=400)
            metadata = self.get_metadata(request) or {}
            collector = CollectingOutputChannel()
            channel = str(metadata.get("channel") or self.name())
            message = UserMessage(text, collector, sender, input_channel=channel, metadata=metadata)
            # the vector the consumer computed for the text Rasa featurizes (stripped); not one: Rasa encodes
            payload = body.get("vector")
            offered = unpack(payload, message.text) if payload is not None else None
            try:
                with ExitStack() as offers:
                    if offered is not None:
                        offers.enter_context(OFFERED.during(offered[0], message.text, offered[1]))
                        for encoder, clause, vector in unpack_clauses(payload, message.text):
                            offers.enter_context(OFFERED.during(encoder, clause, vector))
                    await on_new_message(message)
            except CancelledError:
                log.error("dmdesk channel: processing cancelled (sender %s)", sender)
                return response.json({"detail": "processing cancelled"}, status=503)
            except Exception as exc:  # the caller must learn that the message was not processed
                log.error("dmdesk channel: processing failed (sender %s): %s", sender, type(exc).__name__)
                return response.json({"detail": f"processing failed: {type(exc).__name__}"}, status=500)
            return response.json({"messages": collector.messages})

        return hook
