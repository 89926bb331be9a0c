"""Conversations longer than the tracker window (connectors/tracker_store.py; the test stack loads 60 events).

Rasa sees only the recent window of a conversation; these check that the
dialogue state from before the window (a slot, the pause of a handoff) still
holds, and that the whole history stays in Redis for agents.
"""

from __future__ import annotations

import json

import httpx
import pytest
from redis import Redis

from bot.faq import store
from bot.keys import Keys
from bot.stack import ROOT, StackConfig
from tests.e2e.helpers import kinds, new_sender, say

pytestmark = pytest.mark.stack

WINDOW = 60
FAQ = store.load(ROOT / "data" / "faq.yml")


def _history(stack: StackConfig, conversation: str) -> tuple[list[dict[str, object]], dict[str, object]]:
    redis = Redis.from_url(stack.redis_url)
    try:
        keys = Keys(stack.redis_prefix)
        events = [json.loads(e) for e in redis.lrange(keys.tracker_events(conversation), 0, -1)]
        state = json.loads(redis.get(keys.tracker_state(conversation)) or b"{}")
    finally:
        redis.close()
    return events, state


def _events(stack: StackConfig, conversation: str) -> int:
    redis = Redis.from_url(stack.redis_url)
    try:
        return int(redis.llen(Keys(stack.redis_prefix).tracker_events(conversation)))
    finally:
        redis.close()


def test_a_slot_set_before_the_window_reaches_the_ticket(api: httpx.Client, stack: StackConfig) -> None:
    sender = new_sender()
    first = say(api, sender, "Order KPK-10482 is going to Balikpapan, how many days does delivery usually take?")
    assert first["replies"]
    questions = [e.question for e in FAQ.entries if e.enabled and "KPK" not in e.question]
    for question in questions:  # until the order number was given outside the window Rasa loads
        if _events(stack, f"dev:{sender}") > WINDOW + 10:
            break
        result = say(api, sender, question)
        assert result["status"] == "answered" and result["replies"], question
    events, state = _history(stack, f"dev:{sender}")
    assert len(events) > WINDOW + 10
    assert state["slots"]["order_number"] == "KPK-10482"
    handoff = say(api, sender, "human please")
    assert kinds(handoff) == ["handoff"]
    ticket = api.get(f"/api/handoffs/{handoff['ticket_id']}").json()
    assert ticket["slots"]["order_number"] == "KPK-10482"  # restored from the state, not from the window
    assert ticket["transcript"][-2]["text"] == "human please"
    customer = [line["text"] for line in ticket["transcript"] if line["sender"] == "customer"]
    # the transcript reaches back before the window Rasa loaded (the stored history), each message once
    assert customer[0] == "Order KPK-10482 is going to Balikpapan, how many days does delivery usually take?"
    assert len(customer) == len(set(customer)) == sum(1 for e in events if e.get("event") == "user") + 1


def test_a_handoff_stays_paused_and_the_whole_history_is_kept(api: httpx.Client, stack: StackConfig) -> None:
    sender = new_sender()
    assert say(api, sender, "How long does delivery within Indonesia take?")["replies"]
    first = say(api, sender, "human please")
    assert kinds(first) == ["handoff"]
    sent = 0
    while _events(stack, f"dev:{sender}") <= WINDOW + 10 and sent < 80:  # until the pause left the window
        later = say(api, sender, f"hello? ({sent})")
        assert later["status"] == "human" and later["replies"] == []
        sent += 1
    events, state = _history(stack, f"dev:{sender}")
    assert len(events) > WINDOW + 10
    assert state["paused"] is True  # restored from the state once the pause left the window
    said = [e["text"] for e in events if e["event"] == "user"]
    assert said == ["How long does delivery within Indonesia take?", "human please"] + [
        f"hello? ({i})" for i in range(sent)
    ]
    ticket = api.get(f"/api/handoffs/{first['ticket_id']}").json()
    customer = [line["text"] for line in ticket["transcript"] if line["sender"] == "customer"]
    assert customer[0] == "How long does delivery within Indonesia take?" and customer[-1] == f"hello? ({sent - 1})"
