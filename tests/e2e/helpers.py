"""Helpers for tests that talk to the running stack through the dev endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from redis import Redis

from bot.agents.accounts import AccountStore
from bot.agents.models import AccountCreate, Role
from bot.keys import Keys
from bot.stack import StackConfig

#: requests for a person the classifier ranks just behind a question, "are you a bot?" or fallback (eval/dev.yml)
CLOSE_REQUESTS = [
    "halo min, bisa chat sama org asli?",
    "bisa lanjut chat wa sm cs nya aja ga kak?",
    "pengen dilayani sama staf aja, bisa?",
    "bot bukan sih ini? jawabannya template bgt. aku mau CS asli",
    "allo il y a un humain qui lit ces messages ?",
    "j'aimerais échanger directement avec le responsable de la boutique",
]
#: a lost parcel's story (an FAQ question on its own) and a last sentence that asks for a person
LOST_PARCEL_STORY = (
    "Pesanan saya KPK-10744 statusnya sudah Delivered dari kemarin tapi paketnya tidak ada di rumah. "
    "Sudah saya cek ke tetangga, satpam komplek, dan pos depan juga tidak ada. Kurirnya juga tidak bisa ditelepon."
)
ASK_FOR_STAFF = "Tolong minta staf CS hubungi saya ya."


def new_sender() -> str:
    """A customer id nobody used before."""
    return f"t{uuid.uuid4().hex[:12]}"


def say(api: httpx.Client, sender: str, text: str, channel: str = "dev", **extra: Any) -> dict[str, Any]:
    """Send one message; assert HTTP 200; return the dispatch result."""
    response = api.post("/api/dev/messages", json={"channel": channel, "sender": sender, "text": text, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def kinds(result: dict[str, Any]) -> list[str]:
    """The ``meta.kind`` of each reply ('' for plain responses)."""
    return [str((r.get("meta") or {}).get("kind", "")) for r in result["replies"]]


@contextmanager
def agent_online(stack: StackConfig, username: str, brand: str = "kopiku") -> Iterator[httpx.Client]:
    """An agent account of ``brand``, logged in and marked available; logged out and deleted afterwards.

    With agent accounts in the brand (other tests create some), a handoff tells the customer
    "nobody is online" unless an agent is: tests of the ordinary wait message hold one online.
    """
    redis = Redis.from_url(stack.redis_url)
    accounts = AccountStore(redis, Keys(stack.redis_prefix))
    password = f"pw-{uuid.uuid4().hex}"
    accounts.create(brand, AccountCreate(username=username, password=password, role=Role.AGENT))
    try:
        login = httpx.post(
            stack.bot_url + "/api/agent/session",
            json={"brand": brand, "username": username, "password": password},
            timeout=60,
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        with httpx.Client(base_url=stack.bot_url, headers=headers, timeout=60) as client:
            assert client.put("/api/agent/availability", json={"available": True}).status_code == 200
            try:
                yield client
            finally:
                client.put("/api/agent/availability", json={"available": False})
                client.delete("/api/agent/session")
    finally:
        accounts.delete(brand, username)
        redis.close()
