"""Outbound senders, the SSE event stream and localized texts, on a real Redis."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from redis.asyncio import Redis as AsyncRedis

from bot.agents.events import stream_events
from bot.agents.outbound import DeliveryResult, DevOutbox, OutboundRouter
from bot.agents.texts import RESOLVED, resolved_message
from bot.handoff.events import EventType, TicketEvent
from bot.handoff.models import DeliveryStatus, HandoffReason, Ticket
from bot.keys import Keys
from tests.unit.test_handoff import ticket


def dev_ticket() -> Ticket:
    t = ticket("dev:budi", HandoffReason.REQUESTED, time.time())
    t.channel = "dev"
    return t


class Exploding:
    async def send_agent_message(self, ticket: Ticket, text: str, quick_replies: list[str]) -> DeliveryResult:
        raise RuntimeError("boom")


async def test_dev_outbox_keeps_messages_in_order(aredis: AsyncRedis, keys: Keys) -> None:
    outbox = DevOutbox(aredis, keys)
    t = dev_ticket()
    first = await outbox.send_agent_message(t, "Halo kak", ["Oke"])
    await outbox.send_agent_message(t, "Ada lagi?", [])
    assert first.status is DeliveryStatus.SENT and first.message_id
    messages = await outbox.read("dev:budi")
    assert [(m.text, m.quick_replies, m.ticket_id) for m in messages] == [
        ("Halo kak", ["Oke"], t.id),
        ("Ada lagi?", [], t.id),
    ]
    assert [m.text for m in await outbox.read("dev:budi", after=1)] == ["Ada lagi?"]
    assert await outbox.read("dev:nobody") == []


async def test_router_fails_cleanly_without_a_sender_or_when_one_raises(aredis: AsyncRedis, keys: Keys) -> None:
    router = OutboundRouter({"dev": DevOutbox(aredis, keys)})
    t = dev_ticket()
    t.channel = "messenger"
    missing = await router.send_agent_message(t, "hi", [])
    assert missing.status is DeliveryStatus.FAILED and "messenger" in (missing.error or "")
    router.register("messenger", Exploding())
    raised = await router.send_agent_message(t, "hi", [])
    assert raised.status is DeliveryStatus.FAILED and raised.error == "RuntimeError"


async def test_event_stream_sends_ready_then_the_brands_events(aredis: AsyncRedis, keys: Keys) -> None:
    channel = keys.agent_events("kopiku")
    valid = True

    async def still_valid() -> bool:
        return valid

    stream = stream_events(aredis, channel, still_valid, heartbeat_s=0.3, poll_s=0.05)
    assert (await anext(stream)).startswith("event: ready\n")
    event = TicketEvent(type=EventType.CLAIMED, ticket_id="0123456789ab", brand="kopiku", actor="sari")
    await aredis.publish(channel, "not json")  # ignored
    await aredis.publish(channel, event.model_dump_json())
    frame = await asyncio.wait_for(anext(stream), 2)
    lines = frame.strip().split("\n")
    assert lines[0].startswith("id: ") and lines[1] == "event: ticket.claimed"
    assert json.loads(lines[2].removeprefix("data: "))["actor"] == "sari"
    assert await asyncio.wait_for(anext(stream), 2) == ": keep-alive\n\n"
    valid = False
    assert (await asyncio.wait_for(anext(stream), 2)).startswith("event: session_ended")
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


def test_resolution_message_in_the_customers_language() -> None:
    assert resolved_message("id") == RESOLVED["id"] and resolved_message("ru") == RESOLVED["ru"]
    assert resolved_message("de") == RESOLVED["en"] and resolved_message(None, "fr") == RESOLVED["fr"]
