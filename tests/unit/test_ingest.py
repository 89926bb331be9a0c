"""Ingest streams and consumers on a real Redis: completeness, order, takeover, dead letters."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis as AsyncRedis

from bot import simulate as sim
from bot.errors import RetryLater
from bot.fencing import Worker
from bot.ingest import FIELD, Consumer, Handler, Ingest, run_consumers
from bot.keys import Keys
from bot.rasa_client import RasaClient
from bot.shards import shard_of, shards_balanced
from bot.stack import free_port
from connectors.meta.events import MetaEvent, parse_delivery

P = sim.DEMO_PAGE


@pytest.fixture()
async def aredis(redis_url: str) -> AsyncIterator[AsyncRedis]:
    client = AsyncRedis.from_url(redis_url)
    yield client
    await client.aclose()


def batch(conversations: int, per: int) -> list[MetaEvent]:
    """``conversations * per`` text events, interleaved across conversations, numbered per conversation."""
    events = [sim.text(f"c{c}", P, f"{c}:{i}") for i in range(per) for c in range(conversations)]
    return parse_delivery(sim.delivery("page", P, events, per_entry=7))


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_batch_of_50_over_10_conversations_is_processed_completely_and_in_order(
    aredis: AsyncRedis, keys: Keys
) -> None:
    seen: list[str] = []

    async def handler(event: MetaEvent, worker: Worker) -> None:
        await asyncio.sleep(random.uniform(0, 0.01))
        seen.append(str(event.text))

    await Ingest(aredis, keys, 8).enqueue(batch(10, 5))
    stop = asyncio.Event()
    consumers = [Consumer(aredis, keys, 8, handler, lease_ms=1000) for _ in range(3)]
    task = asyncio.create_task(run_consumers(consumers, stop))
    await wait_for(lambda: len(seen) >= 50)
    await asyncio.sleep(0.3)
    stop.set()
    await task
    assert len(seen) == 50 and len(set(seen)) == 50
    for c in range(10):
        assert [s for s in seen if s.startswith(f"{c}:")] == [f"{c}:{i}" for i in range(5)]
    assert await Ingest(aredis, keys, 8).backlog() == 0


async def test_the_conversations_of_one_shard_do_not_wait_for_each_other_and_keep_their_order(
    aredis: AsyncRedis, keys: Keys
) -> None:
    """One shard: c0's first message is handled only once c1's two were (one entry after the other,
    it would wait for ever); it fails once, and c0's second message still comes after it."""
    handled: list[str] = []
    c1_done = asyncio.Event()
    failures: list[str] = []

    async def handler(event: MetaEvent, worker: Worker) -> None:
        text = str(event.text)
        if text == "0:0":
            await asyncio.wait_for(c1_done.wait(), 10)
            if not failures:
                failures.append(text)
                raise RuntimeError("once")
        handled.append(text)
        if text == "1:1":
            c1_done.set()

    await Ingest(aredis, keys, 1).enqueue(batch(2, 2))
    # an entry stored by a version without the conversation field is handled too
    legacy = batch(3, 1)[2]
    await aredis.xadd(keys.ingest_stream(0), {FIELD: legacy.model_dump_json()})
    stop = asyncio.Event()
    task = asyncio.create_task(Consumer(aredis, keys, 1, handler, lease_ms=1000).run(stop))
    try:
        await wait_for(lambda: len(handled) == 5)
    finally:
        stop.set()
        await task
    assert [t for t in handled if t != "2:0"] == ["1:0", "1:1", "0:0", "0:1"] and failures == ["0:0"]
    assert "2:0" in handled
    assert await Ingest(aredis, keys, 1).backlog() == 0


async def test_a_message_read_later_does_not_wait_for_a_slow_one_of_another_conversation(
    aredis: AsyncRedis, keys: Keys
) -> None:
    """A read does not wait for the whole read before it: c1's messages, stored while c0's first message (read with
    c2's) is still being handled, are answered first; c0's second message, stored then too, waits for c0's first."""
    handled: list[str] = []
    release = asyncio.Event()

    async def handler(event: MetaEvent, worker: Worker) -> None:
        if event.text == "0:0":
            await asyncio.wait_for(release.wait(), 10)
        handled.append(str(event.text))

    events = batch(3, 2)  # 0:0 1:0 2:0 0:1 1:1 2:1
    ingest = Ingest(aredis, keys, 1)
    stop = asyncio.Event()
    consumer = Consumer(aredis, keys, 1, handler, lease_ms=1000)
    task = asyncio.create_task(consumer.run(stop))
    try:
        await ingest.enqueue([events[0], events[2]])
        await wait_for(lambda: handled == ["2:0"])  # 0:0 waits; half of the read is done
        await ingest.enqueue([events[1], events[3], events[4]])
        await wait_for(lambda: handled == ["2:0", "1:0", "1:1"])
        await asyncio.sleep(0.2)
        assert handled == ["2:0", "1:0", "1:1"]  # 0:1 waits behind 0:0
        release.set()
        await wait_for(lambda: len(handled) == 5)
    finally:
        release.set()
        stop.set()
        await task
    assert handled == ["2:0", "1:0", "1:1", "0:0", "0:1"]
    assert await ingest.backlog() == 0


async def test_a_read_waits_until_half_the_read_before_it_is_done(aredis: AsyncRedis, keys: Keys) -> None:
    """The entries in flight when a read starts are at most half of the read before it (and below max_in_flight)."""
    starts: list[tuple[int, int]] = []  # (entries in flight, entries read)

    async def handler(event: MetaEvent, worker: Worker) -> None:
        await asyncio.sleep(random.uniform(0.005, 0.05))

    class Recording(Consumer):
        def _start(self, batches: list) -> None:  # type: ignore[type-arg]
            starts.append((len(self._in_flight), sum(len(entries) for _, entries in batches)))
            super()._start(batches)

    ingest = Ingest(aredis, keys, 2)
    await ingest.enqueue(batch(60, 1))
    stop = asyncio.Event()
    consumer = Recording(aredis, keys, 2, handler, lease_ms=1000, max_in_flight=15)
    task = asyncio.create_task(consumer.run(stop))
    try:
        await wait_for(lambda: starts)
        await ingest.enqueue(batch(60, 1))
        while await ingest.backlog():
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    assert sum(n for _, n in starts) == 120 and len(starts) >= 3
    for (_, before), (in_flight, _) in zip(starts, starts[1:], strict=False):
        assert in_flight <= min(14, before // 2)


async def test_a_busy_shard_is_given_back_once_its_entries_in_flight_are_done(aredis: AsyncRedis, keys: Keys) -> None:
    """A consumer over its share, both of its shards busy, stops reading one and gives it back when its entries
    are done: the other consumer handles what comes after; nothing is handled twice or left pending."""
    handled: list[tuple[str, str]] = []
    release = asyncio.Event()

    def handler_of(name: str) -> Handler:
        async def handler(event: MetaEvent, worker: Worker) -> None:
            if str(event.text).endswith(":0"):
                await asyncio.wait_for(release.wait(), 10)
            handled.append((name, str(event.text)))

        return handler

    a = Consumer(aredis, keys, 2, handler_of("a"), name="a", lease_ms=5000)
    b = Consumer(aredis, keys, 2, handler_of("b"), name="b", lease_ms=5000)
    await a.ensure_groups()
    await a._balance()
    events = batch(10, 3)
    first = {shard_of(e.conversation_id, 2): e for e in reversed(events[:10])}  # one conversation a shard
    ingest = Ingest(aredis, keys, 2)
    await ingest.enqueue(list(first.values()))
    await a.step()
    await wait_for(lambda: a._busy.get(0) and a._busy.get(1))
    await b._balance()  # b is live: a's cap is 1
    await a._balance()  # both busy: one is marked, not given back yet
    [shard] = a._releasing
    assert a.owned == {0, 1}
    conversation = first[shard].conversation_id
    later = [e for e in events[10:] if e.conversation_id == conversation]
    await ingest.enqueue(later)
    await a.step()  # the marked shard is not read any more
    await asyncio.sleep(0.1)
    assert [t for n, t in handled] == []
    release.set()
    await a.drain()
    await a.step()  # gives it back
    assert a.owned == {1 - shard}
    for _ in range(10):
        await b._balance()
        await b.step()
        await b.drain()
        if len(handled) == 4:
            break
    prefix = str(first[shard].text).split(":")[0]
    assert [t for n, t in handled if n == "b"] == [f"{prefix}:1", f"{prefix}:2"]
    assert sorted(t for n, t in handled if n == "a") == sorted(str(e.text) for e in first.values())
    pending = [(await aredis.xpending(keys.ingest_stream(s), "dispatch"))["pending"] for s in range(2)]
    assert pending == [0, 0]
    for consumer in (a, b):
        await consumer.release_all()


async def test_a_consumer_killed_mid_stream_loses_nothing(aredis: AsyncRedis, keys: Keys) -> None:
    handled_a: list[str] = []
    handled_b: list[str] = []
    stuck = asyncio.Event()

    async def dying(event: MetaEvent, worker: Worker) -> None:
        if len(handled_a) == 7:
            stuck.set()
            await asyncio.Event().wait()  # hangs mid-message until killed
        handled_a.append(str(event.text))

    async def healthy(event: MetaEvent, worker: Worker) -> None:
        handled_b.append(str(event.text))

    await Ingest(aredis, keys, 4).enqueue(batch(6, 5))
    a = Consumer(aredis, keys, 4, dying, name="a", lease_ms=600)
    a_stop = asyncio.Event()

    async def killed() -> None:  # a killed process gives nothing back
        return None

    a.release_all = killed  # type: ignore[method-assign]
    a_task = asyncio.create_task(a.run(a_stop))
    await asyncio.wait_for(stuck.wait(), 10)
    assert a.owned == {0, 1, 2, 3}
    a_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a_task
    pending = sum([(await aredis.xpending(keys.ingest_stream(s), "dispatch"))["pending"] for s in range(4)])
    assert pending >= 1  # read by the dead consumer, never acknowledged

    b_stop = asyncio.Event()
    b = Consumer(aredis, keys, 4, healthy, name="b", lease_ms=600)
    b_task = asyncio.create_task(b.run(b_stop))
    expected = {f"{c}:{i}" for c in range(6) for i in range(5)}
    try:
        await wait_for(lambda: set(handled_a + handled_b) == expected)
    finally:
        b_stop.set()
        await b_task
    everything = handled_a + handled_b
    assert set(everything) == expected, sorted(expected - set(everything))
    # an entry handled but not yet acknowledged when A died is handled again (at most one per shard):
    # the Meta handler's de-duplication makes that harmless
    assert len(everything) - len(expected) <= 4
    for c in range(6):
        assert [s for s in handled_b if s.startswith(f"{c}:")] == sorted(
            (s for s in handled_b if s.startswith(f"{c}:")), key=lambda s: int(s.split(":")[1])
        )


async def test_a_failing_event_is_retried_then_dead_lettered_without_blocking_the_rest(
    aredis: AsyncRedis, keys: Keys
) -> None:
    attempts: dict[str, int] = {}
    done: list[str] = []

    async def handler(event: MetaEvent, worker: Worker) -> None:
        attempts[str(event.text)] = attempts.get(str(event.text), 0) + 1
        if event.text == "0:1":
            raise RuntimeError("boom")
        done.append(str(event.text))

    await Ingest(aredis, keys, 2).enqueue(batch(1, 3))
    stop = asyncio.Event()
    task = asyncio.create_task(Consumer(aredis, keys, 2, handler, lease_ms=1000, max_attempts=3).run(stop))
    await wait_for(lambda: "0:2" in done)
    stop.set()
    await task
    assert done == ["0:0", "0:2"] and attempts["0:1"] == 3
    assert await aredis.xlen(keys.ingest_dead) == 1


async def test_shards_are_shared_between_live_consumers(aredis: AsyncRedis, keys: Keys) -> None:
    async def handler(event: MetaEvent, worker: Worker) -> None:
        return None

    consumers = [Consumer(aredis, keys, 8, handler, lease_ms=1000) for _ in range(2)]
    for c in consumers:
        await c.ensure_groups()
    await consumers[0]._balance()
    assert len(consumers[0].owned) == 8  # alone: takes everything
    assert await shards_balanced(aredis, keys, 8, 1)
    await consumers[1]._balance()
    assert not await shards_balanced(aredis, keys, 8, 2)  # the second is live, the first holds all
    await consumers[0]._balance()  # sees a second live consumer, gives half back
    assert not await shards_balanced(aredis, keys, 8, 2)  # half the shards without an owner
    await consumers[1]._balance()
    assert len(consumers[0].owned) == 4 and len(consumers[1].owned) == 4
    assert not consumers[0].owned & consumers[1].owned
    assert await shards_balanced(aredis, keys, 8, 2)
    assert not await shards_balanced(aredis, keys, 8, 3)  # a third was expected
    for c in consumers:
        await c.release_all()


async def test_rasa_not_listening_is_waited_out_never_dead_lettered(aredis: AsyncRedis, keys: Keys) -> None:
    """Rasa down (a refused connection: nothing was processed) is not a failure of the event."""
    rasa = RasaClient(f"http://127.0.0.1:{free_port()}", 2.0, "token")
    done: list[str] = []
    down = {"refusals": 0}

    async def handler(event: MetaEvent, worker: Worker) -> None:
        if down["refusals"] < 6:
            down["refusals"] += 1
            await rasa.send("c0", str(event.text), {})  # nobody listens on that port
        done.append(str(event.text))

    await Ingest(aredis, keys, 1).enqueue(batch(1, 2))
    stop = asyncio.Event()
    task = asyncio.create_task(Consumer(aredis, keys, 1, handler, lease_ms=1000, max_attempts=2).run(stop))
    try:
        await wait_for(lambda: len(done) == 2, timeout=30)
    finally:
        stop.set()
        await task
        await rasa.close()
    assert done == ["0:0", "0:1"] and down["refusals"] == 6
    assert await aredis.xlen(keys.ingest_dead) == 0


async def test_a_consumer_stopped_while_an_entry_waits_to_be_retried_stops_and_leaves_it_pending(
    aredis: AsyncRedis, keys: Keys
) -> None:
    """Stopping does not wait for an entry retried for ever (Rasa down): it is left pending for the next owner."""
    calls: list[str] = []

    async def handler(event: MetaEvent, worker: Worker) -> None:
        calls.append(str(event.text))
        raise RetryLater("rasa down")

    await Ingest(aredis, keys, 1).enqueue(batch(1, 2))
    stop = asyncio.Event()
    task = asyncio.create_task(Consumer(aredis, keys, 1, handler, lease_ms=1000).run(stop))
    await wait_for(lambda: len(calls) >= 2)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert set(calls) == {"0:0"}
    assert (await aredis.xpending(keys.ingest_stream(0), "dispatch"))["pending"] == 2
    assert await aredis.xlen(keys.ingest_dead) == 0


async def test_an_entry_arriving_while_a_shard_is_given_back_is_handled(aredis: AsyncRedis, keys: Keys) -> None:
    """A consumer over its cap gives a shard back while its blocking read waits on that shard's stream:
    an entry stored then is still handled (by it, or by the next owner), never left pending."""
    handled: list[str] = []

    async def handler(event: MetaEvent, worker: Worker) -> None:
        handled.append(str(event.text))

    a = Consumer(aredis, keys, 2, handler, name="a", lease_ms=5000)
    b = Consumer(aredis, keys, 2, handler, name="b", lease_ms=5000)
    await a.ensure_groups()
    await a._balance()
    assert a.owned == {0, 1}
    reading = asyncio.create_task(a.step(block_ms=3000))  # blocked on both streams
    await asyncio.sleep(0.2)
    await b._balance()  # b is live: a's cap is 1
    await a._balance()  # a gives one shard up
    await b._balance()  # b takes it over (claims its pending entries: none yet)
    taken = b.owned - a.owned
    [shard] = taken or a._releasing
    event = next(e for e in batch(40, 1) if shard_of(e.conversation_id, 2) == shard)
    await Ingest(aredis, keys, 2).enqueue([event])  # stored while a's read still waits on that stream
    await reading
    for _ in range(10):
        for consumer in (a, b):
            await consumer._balance()
            await consumer.step()
            await consumer.drain()
        if handled:
            break
    assert handled == [str(event.text)]
    pending = [(await aredis.xpending(keys.ingest_stream(s), "dispatch"))["pending"] for s in range(2)]
    assert pending == [0, 0]
    assert not a.owned & b.owned
    for consumer in (a, b):
        await consumer.release_all()
