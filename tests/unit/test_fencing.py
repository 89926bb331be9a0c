"""Fencing between consumers on a real Redis: a consumer that lost its lease but lives is never repeated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis as AsyncRedis

from bot import simulate as sim
from bot.fencing import STALE_LEASES, InFlightElsewhere, Worker
from bot.ingest import Consumer, Ingest
from bot.keys import Keys
from connectors.meta.events import MetaEvent, parse_delivery

LEASE_MS = 1000


@pytest.fixture()
async def aredis(redis_url: str) -> AsyncIterator[AsyncRedis]:
    client = AsyncRedis.from_url(redis_url)
    yield client
    await client.aclose()


async def beat(aredis: AsyncRedis, keys: Keys, name: str, age_ms: int = 0) -> None:
    """A heartbeat of consumer ``name``, ``age_ms`` old."""
    await aredis.zadd(keys.ingest_consumers, {name: int(time.time() * 1000) - age_ms})


async def test_a_message_held_by_a_live_consumer_is_not_processed_by_another(aredis: AsyncRedis, keys: Keys) -> None:
    a, b = (Worker(aredis, keys, n, LEASE_MS) for n in ("a", "b"))
    marker = keys.seen_message("messenger", "m.1")
    await beat(aredis, keys, "a")
    assert await a.hold_message(marker, 60) is True
    assert await a.hold_message(marker, 60) is True  # its own hold, again (a retry by the same consumer)
    with pytest.raises(InFlightElsewhere):
        await b.hold_message(marker, 60)
    # a stops beating: after STALE_LEASES leases it is dead, and b takes the message over
    await beat(aredis, keys, "a", age_ms=STALE_LEASES * LEASE_MS + 50)
    assert await b.hold_message(marker, 60) is True
    assert await aredis.get(marker) == b"processing:b"
    assert await aredis.ttl(marker) > 0
    await a.release_message(marker)  # a wakes up and fails: b's hold stays
    assert await aredis.get(marker) == b"processing:b"
    await b.release_message(marker)
    assert await aredis.get(marker) is None


async def test_a_message_done_is_a_duplicate_for_every_consumer(aredis: AsyncRedis, keys: Keys) -> None:
    marker = keys.seen_message("messenger", "m.2")
    await aredis.set(marker, "done")
    for name in ("a", "b"):
        assert await Worker(aredis, keys, name, LEASE_MS).hold_message(marker, 60) is False


async def test_each_reply_part_is_sent_by_one_consumer_once(aredis: AsyncRedis, keys: Keys) -> None:
    a, b = (Worker(aredis, keys, n, LEASE_MS) for n in ("a", "b"))
    outbox = keys.outbox("messenger", "m.3")
    await aredis.hset(outbox, mapping={"parts": "[1, 2, 3]", "sent": 0})
    await beat(aredis, keys, "a")
    await beat(aredis, keys, "b")
    assert await a.hold_part(outbox, 0) is True
    with pytest.raises(InFlightElsewhere):
        await b.hold_part(outbox, 0)  # a is sending it
    await a.part_sent(outbox, 0)
    assert await b.hold_part(outbox, 0) is False  # sent: skipped
    assert await b.hold_part(outbox, 1) is True
    with pytest.raises(InFlightElsewhere):
        await a.hold_part(outbox, 1)
    await a.part_sent(outbox, 1)  # not a's part: does not count
    assert int(await aredis.hget(outbox, "sent")) == 1
    await b.part_sent(outbox, 1)
    await b.part_sent(outbox, 1)  # counted once
    assert int(await aredis.hget(outbox, "sent")) == 2
    # b dies while holding part 2: a sends it once b's heartbeat is stale
    assert await b.hold_part(outbox, 2) is True
    await beat(aredis, keys, "b", age_ms=STALE_LEASES * LEASE_MS + 50)
    assert await a.hold_part(outbox, 2) is True
    await a.part_sent(outbox, 2)
    assert int(await aredis.hget(outbox, "sent")) == 3


async def test_an_event_in_flight_elsewhere_is_retried_not_dead_lettered(aredis: AsyncRedis, keys: Keys) -> None:
    """However long another consumer holds it: the attempts limit counts failures only."""
    calls: list[str] = []

    async def handler(event: MetaEvent, worker: Worker) -> None:
        calls.append(str(event.text))
        if len(calls) <= 6:
            raise InFlightElsewhere("held elsewhere")

    events = parse_delivery(sim.delivery("page", sim.DEMO_PAGE, [sim.text("c0", sim.DEMO_PAGE, "hello")]))
    await Ingest(aredis, keys, 1).enqueue(events)
    stop = asyncio.Event()
    consumer = Consumer(aredis, keys, 1, handler, lease_ms=LEASE_MS, max_attempts=2)
    task = asyncio.create_task(consumer.run(stop))
    deadline = time.monotonic() + 20
    while len(calls) < 7 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    stop.set()
    await task
    assert calls == ["hello"] * 7
    assert await aredis.xlen(keys.ingest_dead) == 0
    assert await Ingest(aredis, keys, 1).backlog() == 0
