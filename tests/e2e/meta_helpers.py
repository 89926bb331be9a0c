"""Helpers for webhook tests: signed posts, waiting on the fake Graph API."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
from redis import Redis

from bot import simulate as sim
from bot.fakegraph import RunningFake
from bot.keys import Keys
from bot.stack import StackConfig
from tests.conftest import META_SECRET

P, IG = sim.DEMO_PAGE, sim.DEMO_INSTAGRAM


def new_customer() -> str:
    """A page-scoped id nobody used before."""
    return str(random.randrange(10**15, 10**16))


def post(stack_url: str, channel: str, body: dict[str, Any] | bytes, secret: str = META_SECRET) -> httpx.Response:
    """Sign and post a delivery."""
    with httpx.Client(base_url=stack_url, timeout=30) as client:
        return sim.post(client, channel, body, secret)


def sends_to(fake: RunningFake, recipient: str) -> list[dict[str, Any]]:
    """Messages the fake received for one customer, in order."""
    return [s for s in list(fake.graph.sends) if s["recipient"] == recipient]


def text_of(send: dict[str, Any]) -> str:
    """What the customer reads."""
    message = send["message"] or {}
    return str(message.get("text") or ((message.get("attachment") or {}).get("payload") or {}).get("text") or "")


def wait_sends(fake: RunningFake, recipient: str, n: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until ``recipient`` got at least ``n`` messages; then a little longer to catch extra ones."""
    deadline = time.monotonic() + timeout
    while len(sends_to(fake, recipient)) < n:
        assert time.monotonic() < deadline, f"{recipient}: {len(sends_to(fake, recipient))} of {n} messages"
        time.sleep(0.05)
    time.sleep(0.5)
    return sends_to(fake, recipient)


def drained(stack: StackConfig, timeout: float = 60.0) -> None:
    """Wait until the consumers processed (acknowledged and deleted) every stored event."""
    keys = Keys(stack.redis_prefix)
    redis = Redis.from_url(stack.redis_url)
    deadline = time.monotonic() + timeout
    try:
        while sum(int(redis.xlen(keys.ingest_stream(s))) for s in range(16)) > 0:
            assert time.monotonic() < deadline, "events still waiting"
            time.sleep(0.05)
    finally:
        redis.close()
