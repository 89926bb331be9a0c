"""What the consumers do with each Meta event.

* customer messages (text, quick reply, postback, attachment) -> the dispatcher
  (exactly once by mid, in order, human-owned chats to the ticket), then the
  replies are rendered and sent; the replies are kept in an outbox with the
  number of parts sent, so a retried event resends only what was not sent,
  and each part is held by the consumer sending it (``bot.fencing``);
* echoes never reach NLU; an echo that is not one of our sends (a person
  answering from Meta's inbox) hands the conversation to that person;
* standby events (another app holds the thread) go to the ticket, never to the bot;
* unsent messages are removed from the ticket; story mentions, story replies
  and referrals are kept as context; reactions, reads, deliveries recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from redis.asyncio import Redis

from bot.dispatcher import DEDUPE_TTL_S, Dispatcher
from bot.fencing import Worker
from bot.handoff.models import CustomerProfile, HandoffReason, Ticket, TicketStatus, TranscriptLine
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.messages import DispatchResult, InboundMessage
from bot.meta.context import CONTEXT_TTL_S, ConversationContext
from bot.meta.pages import Account
from bot.meta.send import PermanentSendError, SendClient
from connectors.meta.events import MESSAGE_KINDS, EventKind, MetaEvent, inbound_text, is_like
from connectors.meta.render import plain_text, render

log = logging.getLogger(__name__)

ACTIVITY_KEEP = 50
#: the longest text the dispatcher gets (characters)
MAX_TEXT = 5000
#: vectors started ahead and not used yet, at most
AHEAD_KEEP = 512


class MetaHandler:
    """Handles one parsed webhook event (called by ``bot.ingest.Consumer``)."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        dispatcher: Dispatcher,
        client: SendClient,
        handoffs: HandoffStore,
        app_id: str = "",
        typing_delay_s: float = 1.0,
    ) -> None:
        self._typing_delay_s = typing_delay_s
        self._redis = redis
        self._keys = keys
        self._dispatcher = dispatcher
        self._client = client
        self._handoffs = handoffs
        self._app_id = app_id
        self._contexts = ConversationContext(redis, keys)
        # vectors started for messages read and waiting their turn, by (channel, message id)
        self._ahead: dict[tuple[str, str], asyncio.Future[dict[str, str] | None]] = {}

    def read_ahead(self, raws: list[bytes | None]) -> None:
        """Start the vectors of the customer messages just read (``bot.ingest.Consumer``), all in one batch.

        An entry that does not parse is left to the consumer's own handling; a vector not used by the
        time :data:`AHEAD_KEEP` more are waiting is cancelled (its message's shard went to another consumer).
        """
        if self._dispatcher.vectors is None:
            return
        for raw in raws:
            try:
                event = MetaEvent.model_validate_json(raw or b"")
            except ValueError:
                continue
            key = (event.channel.value, event.event_id)
            if event.kind not in MESSAGE_KINDS or is_like(event) or key in self._ahead:
                continue
            text = inbound_text(event)[0][:MAX_TEXT]
            vector = self._dispatcher.start_vector(text) if text.strip() else None
            if vector is not None:
                self._ahead[key] = vector
        while len(self._ahead) > AHEAD_KEEP:
            self._ahead.pop(next(iter(self._ahead))).cancel()

    async def __call__(self, event: MetaEvent, worker: Worker) -> None:
        """Handle the event for consumer ``worker``; raises on a failure worth retrying (the entry stays pending)."""
        account = self._client.pages.find(event.account_id)
        if account is None:
            log.warning("event for an account not configured", extra={"account": event.account_id})
            return
        if event.kind in MESSAGE_KINDS and is_like(event) and not event.standby:
            # a thumbs-up is an acknowledgement: recorded (and shown to a person who owns the chat), not answered
            if await self._handoffs_owner(event.conversation_id) is not None:
                await self._message(event, account, worker)
            elif await self._first_time(event):
                await self._record_activity(event)
        elif event.kind in MESSAGE_KINDS:
            await self._message(event, account, worker)
        elif event.kind == EventKind.ECHO:
            await self._echo(event)
        elif event.kind == EventKind.DELETED:
            await self._deleted(event)
        elif event.kind in (EventKind.STORY_MENTION, EventKind.REFERRAL):
            if await self._first_time(event):
                await self._client.record_inbound(event.conversation_id, event.timestamp)
                await self._contexts.add(event)
        elif event.kind in (EventKind.REACTION, EventKind.READ, EventKind.DELIVERY):
            if await self._first_time(event):
                await self._record_activity(event)
        else:
            log.info("unknown event recorded, not answered", extra={"channel": event.channel.value, **event.detail})

    async def _first_time(self, event: MetaEvent) -> bool:
        key = self._keys.seen_message(event.channel.value, f"{event.kind.value}:{event.event_id}")
        return bool(await self._redis.set(key, "1", nx=True, ex=DEDUPE_TTL_S))

    # --- customer messages
    async def _message(self, event: MetaEvent, account: Account, worker: Worker) -> None:
        text, shown = inbound_text(event)
        if not text.strip():
            log.info("empty message ignored", extra={"conversation": event.conversation_id})
            return
        conversation, mid = event.conversation_id, event.event_id
        outbox = self._keys.outbox(event.channel.value, mid)
        stored: list[dict[bytes, bytes]] = []  # the outbox as ``record`` wrote it
        # encoded while the steps below wait, or already since the message was read
        vector = self._ahead.pop((event.channel.value, mid), None) or self._dispatcher.start_vector(text[:MAX_TEXT])
        try:
            if event.standby:
                await self._ensure_human(event, account)
            if not await self._redis.exists(outbox):
                # held before any side effect, so that a consumer waiting for another repeats none of them
                if not await worker.hold_message(self._keys.seen_message(event.channel.value, mid), DEDUPE_TTL_S):
                    log.info("duplicate dropped", extra={"conversation": conversation, "mid": mid})
                    return
                await self._client.record_inbound(conversation, event.timestamp)
                await self._contexts.add(event)
                answered = asyncio.Event()
                typing = None
                if not event.standby:
                    typing = asyncio.create_task(self._typing(account, event.customer_id, conversation, answered))
                name = await self._client.first_name(account, event.customer_id)
                metadata: dict[str, Any] = {"page_id": account.id, "brand": account.brand, "kind": event.kind.value}
                if name:
                    metadata["profile"] = {"name": name}
                if shown != text:
                    metadata["display_text"] = shown
                if event.title:
                    metadata["title"] = event.title
                if event.attachments:
                    metadata["attachments"] = event.attachments
                context = await self._contexts.recent(conversation)
                if context:
                    metadata["context"] = context
                message = InboundMessage(
                    channel=event.channel,
                    sender=event.customer_id,
                    text=text[:MAX_TEXT],
                    message_id=mid,
                    timestamp=event.timestamp or time.time(),
                    metadata=metadata,
                )

                async def record(result: DispatchResult) -> None:
                    parts = [p for reply in result.replies for p in render(reply, event.channel)]
                    # never over an outbox that exists (a consumer that took this message over wrote it);
                    # read back in the same transaction, for the delivery below
                    async with self._redis.pipeline(transaction=True) as pipe:
                        pipe.hsetnx(outbox, "parts", json.dumps(parts))
                        pipe.hsetnx(outbox, "sent", "0")
                        pipe.hsetnx(outbox, "ticket", result.ticket_id or "")
                        pipe.expire(outbox, DEDUPE_TTL_S)
                        pipe.hgetall(outbox)
                        *_, written = await pipe.execute()
                    stored.append(written)

                try:
                    # held above: the dispatcher does not hold it a second time
                    await self._dispatcher.dispatch(message, worker=worker, record=record, held=True, vector=vector)
                finally:
                    answered.set()
                    if typing is not None:
                        await typing  # an indicator on its way goes out before the reply
        finally:
            if vector is not None and not vector.done():
                vector.cancel()
        await self._deliver(outbox, event, account, worker, stored[0] if stored else None)

    async def _typing(self, account: Account, customer_id: str, conversation: str, answered: asyncio.Event) -> None:
        """``mark_seen`` and ``typing_on`` if the answer is not ready after ``typing_delay_s``, and the bot owns
        the chat. An answer within a second needs neither (the typing bubble would only flash), and each is a
        Send API call counted in the page's rate limit."""
        if self._typing_delay_s > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(answered.wait(), self._typing_delay_s)
            if answered.is_set():
                return
        if await self._handoffs_owner(conversation) is not None:
            return
        await self._client.sender_action(account, customer_id, "mark_seen")
        await self._client.sender_action(account, customer_id, "typing_on")

    async def _handoffs_owner(self, conversation_id: str) -> str | None:
        return await self._dispatcher.owner(conversation_id)

    async def _deliver(
        self, outbox: str, event: MetaEvent, account: Account, worker: Worker, raw: dict[bytes, bytes] | None = None
    ) -> None:
        """Send the parts not sent yet, in order, each held by ``worker`` while it is sent.

        ``raw``: the outbox as just written (else read here); a part another consumer sent meanwhile is
        skipped all the same (``Worker.hold_part`` reads the count sent in Redis).

        Raises:
            SendError: A transient failure (the event is retried later).
            InFlightElsewhere: Another live consumer is sending a part (likewise).
        """
        if raw is None:
            raw = await self._redis.hgetall(outbox)  # type: ignore[assignment, misc]  # bytes: no decode_responses
        if not raw:
            return
        parts: list[dict[str, Any]] = json.loads(raw[b"parts"])
        sent = int(raw.get(b"sent", 0))
        for index in range(sent, len(parts)):
            if not await worker.hold_part(outbox, index):
                continue  # sent meanwhile by the consumer that held it
            try:
                await self._client.send_message(account, event.customer_id, parts[index], event.conversation_id)
            except PermanentSendError as exc:
                reason = f"not sent: {exc} ({type(exc).__name__})"
                log.warning(
                    "reply not sent",
                    extra={"conversation": event.conversation_id, "reason": str(exc), **exc.context},
                )
                await self._redis.hset(outbox, mapping={"sent": len(parts), "error": reason})  # type: ignore[misc]
                await self._note_ticket(event.conversation_id, reason, [plain_text(p) for p in parts[index:]])
                return
            await worker.part_sent(outbox, index)

    async def _note_ticket(self, conversation_id: str, reason: str, texts: list[str]) -> None:
        owner = await self._handoffs_owner(conversation_id)
        if owner is None:
            return
        line = TranscriptLine(sender="system", text=reason, timestamp=time.time(), payload={"unsent": texts})
        await asyncio.to_thread(self._handoffs.append_lines, owner, [line])

    # --- echoes, takeovers, unsent messages
    async def _is_ours(self, event: MetaEvent) -> bool:
        if self._app_id and event.app_id == self._app_id:
            return True
        return bool(event.mid) and bool(await self._redis.exists(self._keys.our_send(str(event.mid))))

    async def _echo(self, event: MetaEvent) -> None:
        if not await self._first_time(event):
            return
        if await self._is_ours(event):
            return
        account = self._client.pages.get(event.account_id)
        ticket_id = await self._ensure_human(event, account)
        line = TranscriptLine(
            sender="agent", text=event.text, timestamp=event.timestamp, message_id=event.mid, payload={"via": "inbox"}
        )
        await asyncio.to_thread(self._handoffs.append_lines, ticket_id, [line])
        log.info("a person answered from another app: bot silent", extra={"conversation": event.conversation_id})

    async def _ensure_human(self, event: MetaEvent, account: Account) -> str:
        """The conversation's open ticket, opening one owned by a person if there is none."""
        owner = await self._handoffs_owner(event.conversation_id)
        if owner is not None:
            return owner
        ticket = Ticket(
            id=uuid.uuid4().hex[:12],
            conversation_id=event.conversation_id,
            channel=event.channel.value,
            customer=CustomerProfile(id=event.customer_id, channel=event.channel.value, extra={"page_id": account.id}),
            language="und",
            reason=HandoffReason.AGENT_INBOX,
            priority=3,
            status=TicketStatus.CLAIMED,
            created_at=time.time(),
            transcript=[],
            context=await self._contexts.recent(event.conversation_id),
        )
        opened, _ = await asyncio.to_thread(self._handoffs.open, ticket)
        return opened.id

    async def _deleted(self, event: MetaEvent) -> None:
        if not event.mid:
            return
        key = self._keys.deleted_messages(event.conversation_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, event.mid)
            pipe.expire(key, CONTEXT_TTL_S)
            await pipe.execute()
        owner = await self._handoffs_owner(event.conversation_id)
        if owner is not None:
            await asyncio.to_thread(self._handoffs.remove_message, owner, event.mid)

    async def _record_activity(self, event: MetaEvent) -> None:
        key = self._keys.conversation_activity(event.conversation_id)
        item = {"kind": event.kind.value, "at": event.timestamp, "mid": event.mid, **event.detail}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(item, default=str))
            pipe.ltrim(key, -ACTIVITY_KEEP, -1)
            pipe.expire(key, CONTEXT_TTL_S)
            await pipe.execute()
