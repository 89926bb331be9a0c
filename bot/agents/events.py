"""Streaming a brand's ticket events as Server-Sent Events."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from redis.asyncio import Redis

from bot.handoff.events import TicketEvent


def sse(event: str, data: str, event_id: str | None = None) -> str:
    """One SSE frame (``data`` must be a single line, as JSON is)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def stream_events(
    redis: Redis,
    channel: str,
    still_valid: Callable[[], Awaitable[bool]],
    heartbeat_s: float = 15.0,
    poll_s: float = 0.5,
    on_beat: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[str]:
    """SSE frames of the events published on ``channel``.

    The first frame (``event: ready``) is sent once the subscription is
    active, so a client knows it will miss nothing from then on. A comment
    line keeps idle connections open; the session is checked at each one and
    the stream ends when it was revoked or expired. ``on_beat`` runs once
    subscribed and at every keep-alive of a valid session (agent presence).
    """
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel)
    try:
        if on_beat is not None:
            await on_beat()
        yield sse("ready", json.dumps({"at": time.time()}))
        last_beat = time.monotonic()
        seq = 0
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=poll_s)
            if message is not None and message.get("type") == "message":
                raw = message["data"]
                text = raw.decode() if isinstance(raw, bytes) else str(raw)
                try:
                    event = TicketEvent.model_validate_json(text)
                except ValueError:
                    continue  # not ours: never let a stray publish break the stream
                seq += 1
                yield sse(event.type.value, event.model_dump_json(), f"{int(event.at * 1000)}-{seq}")
            if time.monotonic() - last_beat >= heartbeat_s:
                if not await still_valid():
                    yield sse("session_ended", json.dumps({"reason": "session expired or revoked"}))
                    return
                last_beat = time.monotonic()
                if on_beat is not None:
                    await on_beat()
                yield ": keep-alive\n\n"
    finally:
        await pubsub.unsubscribe(channel)
        await pubsub.aclose()
