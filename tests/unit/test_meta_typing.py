"""The typing indicator (bot/meta/handler.py): only when the answer takes longer than ``typing_delay_s``.

The real handler, Send API client, fencing and Redis, against the fake Graph API;
the dispatcher is replaced by one that answers after a set time (what is tested
is when the handler sends ``mark_seen`` and ``typing_on``, not the bot).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot import simulate as sim
from bot.fakegraph import RunningFake
from bot.fencing import Worker
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.messages import DispatchResult, InboundMessage, OutboundMessage
from bot.meta.handler import MetaHandler
from bot.meta.send import SendClient
from connectors.meta.events import MetaEvent, parse_delivery
from tests.unit.conftest import PAGE


class TimedDispatcher:
    """Answers "hello" after ``delay_s``; a person owns the chat if ``owned``."""

    vectors = None

    def __init__(self, delay_s: float, owned: bool = False) -> None:
        self.delay_s = delay_s
        self.owned = owned

    def start_vector(self, text: str) -> None:
        return None

    async def owner(self, conversation_id: str) -> str | None:
        return "t-1" if self.owned else None

    async def dispatch(self, message: InboundMessage, record: Any = None, **_: Any) -> DispatchResult:
        await asyncio.sleep(self.delay_s)
        result = DispatchResult(
            conversation_id=message.conversation_id,
            message_id=message.message_id,
            status="answered",
            replies=[OutboundMessage(text="hello")],
        )
        await record(result)
        return result


async def handle(
    client: SendClient, aredis: AsyncRedis, redis: Redis, keys: Keys, dispatcher: TimedDispatcher, delay_s: float
) -> str:
    """One customer text through the handler; the customer id."""
    customer = str(uuid.uuid4().int)[:16]
    store = HandoffStore(redis, keys, "Kopiku")
    handler = MetaHandler(aredis, keys, dispatcher, client, store, typing_delay_s=delay_s)  # type: ignore[arg-type]
    [event] = parse_delivery(sim.delivery("page", PAGE.id, [sim.text(customer, PAGE.id, "hi")]))
    await handler(MetaEvent.model_validate(event), Worker(aredis, keys, "w-test", 15_000))
    return customer


def actions_and_sends(fake: RunningFake, customer: str) -> list[str]:
    """What the Graph API received for ``customer``: its sender actions in order, then "send" per message.

    (The handler waits for an indicator on its way before it sends the reply.)"""
    actions = [a["action"] for a in fake.graph.actions if a["recipient"] == customer]
    sends = ["send" for s in fake.graph.sends if s.get("recipient") == customer]
    return actions + sends


async def test_a_quick_answer_goes_out_without_an_indicator(
    client: SendClient, fake: RunningFake, aredis: AsyncRedis, redis: Redis, keys: Keys
) -> None:
    customer = await handle(client, aredis, redis, keys, TimedDispatcher(0.0), delay_s=1.0)
    assert actions_and_sends(fake, customer) == ["send"]


async def test_a_slow_answer_is_preceded_by_seen_and_typing(
    client: SendClient, fake: RunningFake, aredis: AsyncRedis, redis: Redis, keys: Keys
) -> None:
    customer = await handle(client, aredis, redis, keys, TimedDispatcher(0.6), delay_s=0.1)
    assert actions_and_sends(fake, customer) == ["mark_seen", "typing_on", "send"]


async def test_no_delay_sends_the_indicator_every_time(
    client: SendClient, fake: RunningFake, aredis: AsyncRedis, redis: Redis, keys: Keys
) -> None:
    customer = await handle(client, aredis, redis, keys, TimedDispatcher(0.0), delay_s=0)
    assert actions_and_sends(fake, customer) == ["mark_seen", "typing_on", "send"]


async def test_no_indicator_while_a_person_owns_the_chat(
    client: SendClient, fake: RunningFake, aredis: AsyncRedis, redis: Redis, keys: Keys
) -> None:
    customer = await handle(client, aredis, redis, keys, TimedDispatcher(0.4, owned=True), delay_s=0.05)
    assert "typing_on" not in actions_and_sends(fake, customer)
