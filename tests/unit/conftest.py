"""Fixtures of the unit tests: the fake Graph API (a real local HTTP server) and a Send API client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis as AsyncRedis

from bot.fakegraph import FakeConfig, RunningFake, serve_in_thread
from bot.keys import Keys
from bot.messages import Channel
from bot.meta.pages import Account, Pages
from bot.meta.send import RetryPolicy, SendClient
from bot.stack import free_port

TOKEN = "EAAG-very-secret-page-token"
PAGE = Account(id="100000000000001", channel=Channel.MESSENGER, brand="Kopiku", token=SecretStr(TOKEN))
IG = Account(id="17800000000000001", channel=Channel.INSTAGRAM, brand="Kopiku", token=SecretStr("ig-token"))


@pytest.fixture(scope="module")
def fake() -> Iterator[RunningFake]:
    with serve_in_thread(free_port()) as running:
        yield running


@pytest.fixture()
async def client(fake: RunningFake, redis_url: str, keys: Keys) -> AsyncIterator[SendClient]:
    fake.graph.reset(FakeConfig())
    redis = AsyncRedis.from_url(redis_url)
    send = SendClient(
        fake.url + "/v21.0", Pages([PAGE, IG]), redis, keys, timeout_s=1.0, retry=RetryPolicy(8, 0.01, 0.05)
    )
    yield send
    await send.close()
    await redis.aclose()
