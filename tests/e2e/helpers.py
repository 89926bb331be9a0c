"""Helpers for tests that talk to the running stack through the dev endpoint."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


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
