"""The Send API client against the fake Graph API (a real local HTTP server) and a real Redis."""

from __future__ import annotations

import logging
import time

import pytest
from redis.asyncio import Redis as AsyncRedis

from bot.fakegraph import FakeConfig, RunningFake
from bot.keys import Keys
from bot.meta.send import (
    BadTokenError,
    OutsideWindowError,
    RetryPolicy,
    SendClient,
    TransientSendError,
    UserUnavailableError,
)
from tests.unit.conftest import IG, PAGE, TOKEN


async def test_inside_the_window_a_reply_is_a_response(client: SendClient, fake: RunningFake) -> None:
    await client.record_inbound("messenger:c1", time.time())
    mid = await client.send_message(PAGE, "c1", {"text": "hi"}, "messenger:c1")
    [sent] = fake.graph.sends
    assert sent["mid"] == mid and sent["messaging_type"] == "RESPONSE" and sent["tag"] is None
    assert sent["account"] == PAGE.id and sent["token"] == TOKEN


async def test_a_bot_message_outside_the_window_is_not_sent(client: SendClient, fake: RunningFake) -> None:
    await client.record_inbound("messenger:c2", time.time() - 25 * 3600)
    with pytest.raises(OutsideWindowError):
        await client.send_message(PAGE, "c2", {"text": "late"}, "messenger:c2")
    with pytest.raises(OutsideWindowError):
        await client.send_message(PAGE, "never-wrote", {"text": "x"}, "messenger:never-wrote")
    assert fake.graph.sends == []


async def test_a_persons_message_gets_the_human_agent_tag_for_seven_days(client: SendClient, fake: RunningFake) -> None:
    await client.record_inbound("messenger:c3", time.time() - 3 * 24 * 3600)
    await client.send_message(PAGE, "c3", {"text": "sorry for the wait"}, "messenger:c3", human=True)
    assert (fake.graph.sends[0]["messaging_type"], fake.graph.sends[0]["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    await client.record_inbound("messenger:c4", time.time() - 8 * 24 * 3600)
    with pytest.raises(OutsideWindowError):
        await client.send_message(PAGE, "c4", {"text": "too late"}, "messenger:c4", human=True)


async def test_an_older_inbound_time_does_not_close_the_window(client: SendClient) -> None:
    await client.record_inbound("messenger:c5", time.time())
    await client.record_inbound("messenger:c5", time.time() - 30 * 3600)  # a late retry of an old message
    assert (await client.messaging_type("messenger:c5", human=False))["messaging_type"] == "RESPONSE"


async def test_5xx_and_429_are_retried_until_each_message_is_delivered_once(
    client: SendClient, fake: RunningFake
) -> None:
    fake.graph.reset(FakeConfig(fail_rate=0.3, rate_limit_rate=0.1, seed=7))
    await client.record_inbound("messenger:c6", time.time())
    for i in range(40):
        await client.send_message(PAGE, "c6", {"text": f"n{i}"}, "messenger:c6")
    assert [s["message"]["text"] for s in fake.graph.sends] == [f"n{i}" for i in range(40)]
    assert fake.graph.stats["5xx"] > 0 and fake.graph.stats["429"] > 0


async def test_timeouts_are_retried_then_surface(client: SendClient, fake: RunningFake) -> None:
    fake.graph.reset(FakeConfig(timeout_rate=1.0, timeout_s=3.0))
    await client.record_inbound("messenger:c7", time.time())
    client._retry = RetryPolicy(2, 0.01, 0.01)
    with pytest.raises(TransientSendError):
        await client.send_message(PAGE, "c7", {"text": "x"}, "messenger:c7")
    assert fake.graph.stats["timeout"] == 2 and fake.graph.sends == []


@pytest.mark.parametrize(("error", "exc"), [([551, 1545041], UserUnavailableError), ([190, 0], BadTokenError)])
async def test_permanent_errors_are_not_retried(
    client: SendClient, fake: RunningFake, error: list[int], exc: type[Exception]
) -> None:
    fake.graph.reset(FakeConfig(refuse={"c8": error}))
    await client.record_inbound("messenger:c8", time.time())
    with pytest.raises(exc):
        await client.send_message(PAGE, "c8", {"text": "x"}, "messenger:c8")
    assert fake.graph.stats["refused"] == 1


async def test_first_name_is_cached_and_optional(client: SendClient, fake: RunningFake) -> None:
    assert await client.first_name(PAGE, "1234567") == "Cust4567"
    assert await client.first_name(PAGE, "1234567") == "Cust4567"
    assert fake.graph.stats["profile"] == 1
    fake.graph.reset(FakeConfig(profile_forbidden=True))
    assert await client.first_name(IG, "999") is None


async def test_our_sends_are_remembered_for_echo_detection(client: SendClient, keys: Keys, redis_url: str) -> None:
    await client.record_inbound("messenger:c9", time.time())
    mid = await client.send_message(PAGE, "c9", {"text": "x"}, "messenger:c9")
    redis = AsyncRedis.from_url(redis_url)
    assert await redis.exists(keys.our_send(mid))
    await redis.aclose()


async def test_per_page_rate_limit(client: SendClient, fake: RunningFake) -> None:
    client._rate = 5
    await client.record_inbound("messenger:c10", time.time())
    for i in range(11):
        await client.send_message(PAGE, "c10", {"text": str(i)}, "messenger:c10")
    per_second: dict[int, int] = {}
    for sent in fake.graph.sends:
        per_second[int(sent["at"])] = per_second.get(int(sent["at"]), 0) + 1
    # without the limiter all 11 land within one or two seconds; the fake clock may lag the client by a send
    assert len(fake.graph.sends) == 11 and max(per_second.values()) <= 6 and len(per_second) >= 2


async def test_the_rate_counter_expires_and_the_window_only_moves_forward(
    client: SendClient, redis_url: str, keys: Keys
) -> None:
    redis = AsyncRedis.from_url(redis_url)
    now = time.time()
    await client.record_inbound("messenger:c12", now)
    await client.record_inbound("messenger:c12", now - 3600)  # an older event handled late
    assert float(await redis.get(keys.last_inbound("messenger:c12"))) == now
    second = int(time.time())
    await client.send_message(PAGE, "c12", {"text": "hi"}, "messenger:c12")
    counters = [keys.send_rate(PAGE.id, s) for s in (second, second + 1)]
    ttls = [await redis.ttl(k) for k in counters if await redis.exists(k)]
    assert ttls and all(0 < t <= 2 for t in ttls)
    await redis.aclose()


async def test_tokens_never_appear_in_logs(
    client: SendClient, fake: RunningFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.graph.reset(FakeConfig(fail_rate=0.5, seed=3, refuse={"c11": [190, 0]}))
    await client.record_inbound("messenger:c11", time.time())
    await client.record_inbound("messenger:c12", time.time())
    with pytest.raises(BadTokenError):
        await client.send_message(PAGE, "c11", {"text": "x"}, "messenger:c11")
    for i in range(5):
        await client.send_message(PAGE, "c12", {"text": str(i)}, "messenger:c12")
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records and TOKEN not in logged
