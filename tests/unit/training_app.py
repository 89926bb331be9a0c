"""An in-process bot service (FastAPI TestClient) on a test key prefix, with editor sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from bot import runtime
from bot.agents.accounts import AccountStore
from bot.agents.models import AccountCreate, Role
from bot.api.app import create_app
from bot.keys import Keys
from bot.settings import ServiceSettings, core_settings

PASSWORD = "a long test password"


@contextmanager
def service(monkeypatch: pytest.MonkeyPatch, redis_url: str, keys: Keys) -> Iterator[TestClient]:
    """The app on ``keys.prefix``; the process-wide knowledge base uses the same prefix."""
    env = {
        "REDIS_URL": redis_url,
        "DMDESK_REDIS_PREFIX": keys.prefix,
        "DMDESK_EMBEDDING_CACHE_PREFIX": keys.cache_prefix,
        "DMDESK_API_TOKEN": "test-token",
        "DMDESK_CONSUMERS": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for cached in (core_settings, runtime.redis_client, runtime.knowledge_base, runtime.unanswered_store):
        cached.cache_clear()
    app = create_app(ServiceSettings())  # type: ignore[call-arg]
    try:
        with TestClient(app) as client:
            yield client
    finally:
        if runtime.knowledge_base.cache_info().currsize:
            runtime.knowledge_base().close()
        for cached in (core_settings, runtime.redis_client, runtime.knowledge_base, runtime.unanswered_store):
            cached.cache_clear()


def account(redis: Redis, keys: Keys, brand: str, username: str, role: str) -> None:
    """Create an account directly in the store."""
    AccountStore(redis, keys).create(brand, AccountCreate(username=username, password=PASSWORD, role=Role(role)))


def session(client: TestClient, brand: str, username: str) -> dict[str, str]:
    """Log in; the Authorization header of the session."""
    response = client.post("/api/agent/session", json={"brand": brand, "username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
