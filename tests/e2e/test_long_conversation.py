"""Conversations longer than the tracker window (connectors/tracker_store.py; the test stack loads 60 events).

Rasa sees only the recent window of a conversation; these check that the
dialogue state from before the window (language, the pause of a handoff) still
holds, and that the whole history stays in Redis for agents.
"""

from __future__ import annotations

import json

import httpx
import pytest
import yaml
from redis import Redis

from bot.keys import Keys
from bot.stack import ROOT, StackConfig
from tests.e2e.helpers import kinds, new_sender, say

pytestmark = pytest.mark.stack

WINDOW = 60


def indonesian_texts() -> set[str]:
    """Every Indonesian variation of the domain's responses."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {
        v["text"]
        for variations in domain["responses"].values()
        for v in variations
        if any(c["value"] == "id" for c in v.get("condition") or [])
    }


def _history(stack: StackConfig, conversation: str) -> tuple[list[dict[str, object]], dict[str, object]]:
    redis = Redis.from_url(stack.redis_url)
    try:
        keys = Keys(stack.redis_prefix)
        events = [json.loads(e) for e in redis.lrange(keys.tracker_events(conversation), 0, -1)]
        state = json.loads(redis.get(keys.tracker_state(conversation)) or b"{}")
    finally:
        redis.close()
    return events, state


def test_the_language_set_before_the_window_still_holds(api: httpx.Client, stack: StackConfig) -> None:
    sender = new_sender()
    say(api, sender, "halo kak")
    for _ in range(14):
        say(api, sender, "👍")
    events, state = _history(stack, f"dev:{sender}")
    assert len(events) > WINDOW  # the language was set outside the window Rasa now loads
    assert state["slots"]["language"] == "id"
    texts = [r["text"] for r in say(api, sender, "👍")["replies"] if r["text"]]
    assert texts and all(t in indonesian_texts() for t in texts)


def test_a_handoff_stays_paused_and_the_whole_history_is_kept(api: httpx.Client, stack: StackConfig) -> None:
    sender = new_sender()
    assert say(api, sender, "How long does delivery within Indonesia take?")["replies"]
    first = say(api, sender, "human please")
    assert kinds(first) == ["handoff"]
    for i in range(16):
        later = say(api, sender, f"hello? ({i})")
        assert later["status"] == "human" and later["replies"] == []
    events, state = _history(stack, f"dev:{sender}")
    assert len(events) > WINDOW
    assert state["paused"] is True  # restored from the state once the pause left the window
    said = [e["text"] for e in events if e["event"] == "user"]
    assert said == ["How long does delivery within Indonesia take?", "human please"] + [
        f"hello? ({i})" for i in range(16)
    ]
    ticket = api.get(f"/api/handoffs/{first['ticket_id']}").json()
    customer = [line["text"] for line in ticket["transcript"] if line["sender"] == "customer"]
    assert customer[0] == "How long does delivery within Indonesia take?" and customer[-1] == "hello? (15)"
