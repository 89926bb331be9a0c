"""Shared fixtures: a private Redis namespace and, for e2e tests, one real stack per session.

Tests use Redis database 14 and a key prefix unique to the run, and delete
every key with that prefix when they finish.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.fakegraph import RunningFake, serve_in_thread
from bot.keys import Keys
from bot.stack import ROOT, StackConfig, delete_prefix, free_port, private_stack

META_SECRET = "test-app-secret-ünï"
META_VERIFY_TOKEN = "test-verify-token"
META_APP_ID = "555000000000001"

TEST_REDIS_URL = os.environ.get("DMDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis URL for tests (database 14)."""
    return TEST_REDIS_URL


@pytest.fixture()
def redis(redis_url: str) -> Iterator[Redis]:
    """A Redis client."""
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture()
async def aredis(redis_url: str) -> AsyncIterator[AsyncRedis]:
    """An asyncio Redis client."""
    client = AsyncRedis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def cache_prefix(redis_url: str) -> Iterator[str]:
    """One embedding-cache prefix for the whole run (content-addressed), purged at the end."""
    prefix = f"dmdesktestemb{uuid.uuid4().hex[:8]}"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture()
def keys(redis: Redis, cache_prefix: str) -> Iterator[Keys]:
    """A fresh key prefix, purged after the test."""
    prefix = f"dmdesktest{uuid.uuid4().hex[:10]}"
    yield Keys(prefix, cache_prefix)
    delete_prefix(TEST_REDIS_URL, prefix)


@pytest.fixture(scope="session")
def fake_graph() -> Iterator[RunningFake]:
    """The fake Graph API (a real local HTTP server recording every call), for the whole run."""
    with serve_in_thread(free_port()) as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(redis_url: str, cache_prefix: str, fake_graph: RunningFake) -> Iterator[StackConfig]:
    """The real stack (Rasa with the trained model, action server, bot service) on free ports.

    Meta webhooks are on (META_APP_SECRET = ``META_SECRET``), sends go to the fake Graph API.
    """
    # All-day support hours: the tests check the "a person will reply shortly" path.
    env = {
        "DMDESK_SUPPORT_HOURS": "mon-sun 00:00-23:59",
        "DMDESK_EMBEDDING_CACHE_PREFIX": cache_prefix,
        "META_APP_SECRET": META_SECRET,
        "META_VERIFY_TOKEN": META_VERIFY_TOKEN,
        "META_APP_ID": META_APP_ID,
        "META_GRAPH_URL": fake_graph.url + "/v21.0",
        "DMDESK_INGEST_LEASE_MS": "3000",
        "DMDESK_WEBHOOK_MAX_BYTES": "200000",
        # a small tracker window, so that conversations of the tests outgrow it (connectors/tracker_store.py)
        "DMDESK_TRACKER_WINDOW": "60",
    }
    with private_stack("test", redis_url, env) as running:
        yield running.config


@pytest.fixture()
def api(stack: StackConfig) -> Iterator[httpx.Client]:
    """HTTP client for the bot service, with the API token."""
    with httpx.Client(base_url=stack.bot_url, headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def faq_file() -> Path:
    """The demo brand's FAQ file."""
    return ROOT / "data" / "faq.yml"
