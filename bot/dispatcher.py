"""The dispatcher: every inbound customer message, whatever the channel, goes through here.

* exactly once: a message id seen before is dropped (Redis SET NX, 7 days);
* in order: one conversation's messages are handled under a Redis lock;
* bot owns the chat: the message goes to Rasa, the replies come back;
* a human owns it: the message is added to the ticket's transcript and
  recorded in Rasa's (paused) tracker; the bot sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from bot.fencing import DONE, PROCESSING, Worker
from bot.handoff.models import TranscriptLine
from bot.handoff.queue import HandoffStore
from bot.handoff.rules import Escalator
from bot.keys import Keys
from bot.messages import DispatchResult, InboundMessage, OutboundMessage
from bot.nlu.vectors import MessageVectors
from bot.rasa_client import RasaClient

log = logging.getLogger(__name__)

DEDUPE_TTL_S = 7 * 24 * 3600
LOCK_TIMEOUT_S = 60


class Dispatcher:
    """Routes inbound messages to the bot or to the human who owns the chat."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        rasa: RasaClient,
        handoffs: HandoffStore,
        escalator: Escalator | None = None,
        vectors: MessageVectors | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._rasa = rasa
        self._handoffs = handoffs
        self._escalator = escalator
        self.vectors = vectors

    def _bot_metadata(self, message: InboundMessage) -> dict[str, Any]:
        """The metadata Rasa gets. A message with a keyword of the escalation rules (allergy,
        chargeback, ...) is marked (``escalation``): Rasa's NLU makes it a request for a person
        (``bot.nlu.components.EscalationOverride``), handed off in this turn whatever the
        classifier said, its language and entities still read from the words."""
        metadata = self._metadata(message)
        if self._escalator is None or message.text.startswith("/"):
            return metadata
        match = self._escalator.keyword_match(str(metadata.get("display_text") or message.text), handoff_only=True)
        if match is not None:
            log.info("escalation keyword", extra={"conversation": message.conversation_id, "rule": match.rule.id})
            metadata["escalation"] = {"rule": match.rule.id, "term": match.term}
        return metadata

    def start_vector(self, text: str) -> asyncio.Future[dict[str, Any] | None] | None:
        """Start encoding ``text`` for the NLU, with the other messages in flight (``bot/nlu/vectors.py``).

        The earlier a message asks, the more messages share a batch: the ingest consumers ask as soon as
        they read it. None when the dispatcher sends no vectors. Cancel it if it is not given to :meth:`dispatch`.
        """
        return asyncio.ensure_future(self.vectors.payload(text)) if self.vectors is not None else None

    async def seen_before(self, message: InboundMessage, worker: Worker | None = None) -> bool:
        """Mark the message id as being processed; True if it was seen before.

        With a ``worker`` (an ingest consumer), a message whose processing started
        but never finished is processed again when the consumer that started it
        died (see :mod:`bot.fencing`); while that consumer lives, this raises
        :class:`bot.fencing.InFlightElsewhere` and the consumer retries later.
        """
        key = self._keys.seen_message(message.channel.value, message.message_id)
        if worker is not None:
            return not await worker.hold_message(key, DEDUPE_TTL_S)
        return not await self._redis.set(key, PROCESSING, nx=True, ex=DEDUPE_TTL_S)

    async def owner(self, conversation_id: str) -> str | None:
        """The open ticket id if a human owns the conversation, else None (``HandoffStore.owner``,
        read on this process's async connection: no thread hop on the hot path)."""
        return _text(await self._redis.get(self._keys.conversation_owner(conversation_id)))

    def _metadata(self, message: InboundMessage) -> dict[str, Any]:
        return {
            **message.metadata,
            "channel": message.channel.value,
            "customer_id": message.sender,
            "message_id": message.message_id,
        }

    async def dispatch(
        self,
        message: InboundMessage,
        worker: Worker | None = None,
        record: Callable[[DispatchResult], Awaitable[None]] | None = None,
        held: bool = False,
        vector: asyncio.Future[dict[str, Any] | None] | None = None,
    ) -> DispatchResult:
        """Process one inbound message exactly once, in conversation order.

        Args:
            message: The customer message.
            worker: The ingest consumer processing it, if any; see ``seen_before``.
            record: Called with the bot's answer before the message counts as done
                (the ingest consumers store the replies to send there).
            held: ``worker`` holds the message already (``Worker.hold_message`` on its
                de-duplication marker, as ``seen_before`` would): not held a second time.
            vector: The message's vector for the NLU, started by the caller (:meth:`start_vector`);
                else started here. Cancelled on the way out if still pending.
        """
        conversation = message.conversation_id
        if not (held and worker is not None) and await self.seen_before(message, worker):
            log.info("duplicate dropped", extra={"conversation": conversation, "mid": message.message_id})
            return DispatchResult(conversation_id=conversation, message_id=message.message_id, status="duplicate")
        lock = self._redis.lock(
            self._keys.conversation_lock(conversation), timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_TIMEOUT_S
        )
        if vector is None:
            vector = self.start_vector(message.text)
        try:
            async with lock:
                owner, resolved = await self._owner_and_resolved(conversation)
                if owner is None and resolved:
                    owner = await self._reopen_recent(conversation)
                if owner is not None:
                    return await self._to_human(message, owner, vector)
                replies = await self._rasa.send(
                    conversation, message.text, self._bot_metadata(message), await _done(vector)
                )
                ticket = next((r.meta.get("ticket_id") for r in replies if r.meta.get("kind") == "handoff"), None)
                if ticket is not None:
                    # The ticket was written inside the action; the rendered reply exists only now.
                    # Still under the lock, so the customer's next message is recorded after it.
                    now = time.time()
                    lines = [
                        TranscriptLine(
                            sender="bot", text=r.text, timestamp=now, payload={"meta": r.meta} if r.meta else None
                        )
                        for r in replies
                    ]
                    await asyncio.to_thread(self._handoffs.append_lines, ticket, lines)
        except BaseException:
            # Not processed: forget the id so that a retry of the same message is handled.
            marker = self._keys.seen_message(message.channel.value, message.message_id)
            if worker is not None:
                await worker.release_message(marker)
            else:
                await self._redis.delete(marker)
            raise
        finally:
            if vector is not None and not vector.done():
                vector.cancel()
        result = DispatchResult(
            conversation_id=conversation,
            message_id=message.message_id,
            status="answered",
            replies=replies,
            ticket_id=ticket,
        )
        if record is not None:
            await record(result)
        await self._mark_done(message)
        return result

    async def _mark_done(self, message: InboundMessage) -> None:
        key = self._keys.seen_message(message.channel.value, message.message_id)
        await self._redis.set(key, DONE, ex=DEDUPE_TTL_S)

    async def _owner_and_resolved(self, conversation: str) -> tuple[str | None, bool]:
        """:meth:`owner`, and whether an agent resolved a ticket of the conversation moments ago: one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._keys.conversation_owner(conversation))
            pipe.exists(self._keys.recently_resolved(conversation))
            raw, resolved = await pipe.execute()
        return _text(raw), bool(resolved)

    async def _reopen_recent(self, conversation: str) -> str | None:
        """Reopen the ticket an agent resolved moments ago (agent workspace); its id, or None."""
        await self._rasa.control(conversation, "pause")
        ticket = await asyncio.to_thread(self._handoffs.reopen_recent, conversation)
        if ticket is None:
            await self._rasa.control(conversation, "resume")
            return None
        log.info("ticket reopened", extra={"conversation": conversation, "ticket": ticket.id})
        return ticket.id

    async def _to_human(
        self, message: InboundMessage, ticket_id: str, vector: asyncio.Future[dict[str, Any] | None] | None = None
    ) -> DispatchResult:
        line = TranscriptLine(
            sender="customer",
            text=message.metadata.get("display_text") or message.text,
            timestamp=message.timestamp,
            message_id=message.message_id,
        )
        await asyncio.to_thread(self._handoffs.append_lines, ticket_id, [line])
        match = self._escalator.keyword_match(line.text or "") if self._escalator is not None else None
        if match is not None:  # e.g. "it's for my son, he has a nut allergy" while waiting
            rule = match.rule
            await asyncio.to_thread(
                self._handoffs.raise_priority, ticket_id, rule.priority, rule.id, match.term, rule.team
            )
        # Recorded in Rasa's tracker too (paused: Rasa runs NLU, predicts nothing).
        dropped: list[OutboundMessage] = await self._rasa.send(
            message.conversation_id, message.text, self._metadata(message), await _done(vector)
        )
        await self._mark_done(message)
        if dropped:
            log.warning(
                "bot output suppressed while a human owns the chat",
                extra={"conversation": message.conversation_id, "count": len(dropped)},
            )
        return DispatchResult(
            conversation_id=message.conversation_id, message_id=message.message_id, status="human", ticket_id=ticket_id
        )


async def _done(vector: asyncio.Future[dict[str, Any] | None] | None) -> dict[str, Any] | None:
    """The message's vector payload once encoded (None without one)."""
    return None if vector is None else await vector


def _text(raw: object) -> str | None:
    """A Redis string reply as text (None stays None)."""
    return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)
