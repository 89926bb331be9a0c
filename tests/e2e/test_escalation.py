"""Escalation rules, availability and metrics through the real stack (the session's ``stack``).

The demo brand's rules (``config/escalation.yml``) are in force. Agent
accounts created here are deleted when the module ends, so the other tests
keep a brand without accounts (presence does not count then: ``auto``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.agents.accounts import AccountStore
from bot.agents.desk import AgentDesk
from bot.agents.idle import IdleCloser
from bot.agents.models import AccountCreate, Role
from bot.agents.outbound import DevOutbox, OutboundRouter
from bot.agents.texts import IDLE_CLOSED
from bot.agents.workflow import AgentWorkflow
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.rasa_client import RasaClient
from bot.stack import StackConfig
from tests.e2e.helpers import kinds, new_sender, say
from tests.e2e.test_conversations import response_text

pytestmark = pytest.mark.stack

PASSWORD = "escalation test password"
AGENT = "safety1"


@pytest.fixture(scope="module")
def agent(stack: StackConfig) -> Iterator[httpx.Client]:
    """An agent of the food-safety team, logged in; the account is deleted afterwards."""
    redis = Redis.from_url(stack.redis_url)
    keys = Keys(stack.redis_prefix)
    accounts = AccountStore(redis, keys)
    accounts.create(
        "kopiku", AccountCreate(username=AGENT, password=PASSWORD, role=Role.AGENT, teams=["product-safety"])
    )
    login = httpx.post(
        stack.bot_url + "/api/agent/session", json={"brand": "kopiku", "username": AGENT, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    try:
        with httpx.Client(base_url=stack.bot_url, headers=headers, timeout=60) as client:
            yield client
    finally:
        accounts.delete("kopiku", AGENT)
        redis.delete(keys.agent_presence("kopiku"), keys.agent_away("kopiku"))
        redis.close()


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("my son had an allergic reaction after the chocolate in your gift box", "en"),
        ("halo kak, anak sy kena alergi abis makan cokelat dr gift box kalian", "id"),
        ("Bonjour, ma fille a fait une réaction allergique au coffret, elle est aux urgences", "fr"),
        ("у сына аллергическая реакция на ваш подарочный набор, вызвали скорую", "ru"),
    ],
)
def test_a_keyword_message_is_handed_off_in_that_turn_with_the_rules_priority_and_team(
    api: httpx.Client, agent: httpx.Client, text: str, lang: str
) -> None:
    result = say(api, new_sender(), text)
    assert kinds(result) == ["handoff"], result  # no FAQ answer, no question first
    ticket = api.get(f"/api/handoffs/{result['ticket_id']}").json()
    assert (ticket["reason"], ticket["rule"], ticket["priority"], ticket["team"]) == (
        "keyword",
        "allergic_reaction",
        1,
        "product-safety",
    )
    assert ticket["language"] == lang
    assert ticket["transcript"][0]["text"] == text  # the customer's words, not the forced intent
    mine = agent.get("/api/agent/queue", params={"team": "product-safety"})
    assert mine.status_code == 200 and result["ticket_id"] in [row["id"] for row in mine.json()]
    assert int(mine.headers["X-Total-Count"]) >= 1
    billing = agent.get("/api/agent/queue", params={"team": "billing"}).json()
    assert result["ticket_id"] not in [row["id"] for row in billing]
    assert agent.post(f"/api/agent/tickets/{result['ticket_id']}/claim").status_code == 200  # a team member may


def test_a_keyword_in_a_later_message_makes_the_waiting_ticket_more_urgent(api: httpx.Client) -> None:
    sender = new_sender()
    first = say(api, sender, "I want to talk to a human")
    assert api.get(f"/api/handoffs/{first['ticket_id']}").json()["priority"] == 2
    later = say(api, sender, "please hurry, my daughter just had an allergic reaction")
    assert later["status"] == "human" and later["replies"] == []  # the bot stays silent
    ticket = api.get(f"/api/handoffs/{first['ticket_id']}").json()
    assert (ticket["priority"], ticket["rule"], ticket["team"]) == (1, "allergic_reaction", "product-safety")
    assert api.get("/api/handoffs").json()[0]["priority"] == 1


def test_a_question_about_allergens_is_answered_and_a_handoff_mentioning_one_goes_to_product_safety(
    api: httpx.Client,
) -> None:
    answered = say(api, new_sender(), "my son has a nut allergy, are there nuts in your drip bags?")
    assert kinds(answered) != ["handoff"], answered  # the FAQ answers (coffee_allergens), no forced handoff
    asked = say(api, new_sender(), "I want to talk to a human about my daughter's allergy")
    ticket = api.get(f"/api/handoffs/{asked['ticket_id']}").json()
    assert (ticket["reason"], ticket["rule"], ticket["priority"], ticket["team"]) == (
        "keyword",
        "allergy",
        1,
        "product-safety",
    )


def test_a_vip_gets_the_vip_priority(api: httpx.Client) -> None:
    plain = say(api, new_sender(), "I want to talk to a human")
    by_profile = say(api, new_sender(), "I want to talk to a human", profile={"name": "Dewi", "tier": "Gold"})
    by_id = say(api, "vip-demo", "I want to talk to a human")
    tickets = [api.get(f"/api/handoffs/{r['ticket_id']}").json() for r in (plain, by_profile, by_id)]
    assert [(t["priority"], t["vip"]) for t in tickets] == [(2, False), (1, True), (1, True)]
    assert {t["reason"] for t in tickets} == {"requested_human"} and {t["rule"] for t in tickets} == {
        "explicit_request"
    }


def test_with_no_agent_online_the_customer_is_told_a_person_will_reply_later(
    stack: StackConfig, api: httpx.Client, agent: httpx.Client
) -> None:
    # nobody else online: an agent of another module on this stack stays online for the presence TTL (45 s)
    redis = Redis.from_url(stack.redis_url)
    try:
        redis.delete(Keys(stack.redis_prefix).agent_presence("kopiku"))
    finally:
        redis.close()
    assert agent.put("/api/agent/availability", json={"available": False}).json()["agents_online"] == []
    away = say(api, new_sender(), "I want to talk to a human")
    assert kinds(away) == ["handoff"]
    assert away["replies"][0]["text"] == response_text("utter_handoff_away", "en").replace("{wait}", "60")
    assert away["replies"][0]["meta"]["agents_online"] is False
    state = agent.put("/api/agent/availability", json={"available": True}).json()
    assert state["online"] is True and state["agents_online"] == [AGENT] and state["presence_counts"] is True
    here = say(api, new_sender(), "mau ngobrol sama admin dong")
    assert here["replies"][0]["text"] == response_text("utter_handoff_open", "id").replace("{wait}", "10")
    for ticket_id in (away["ticket_id"], here["ticket_id"]):  # both wait in the queue
        assert api.get(f"/api/handoffs/{ticket_id}").json()["status"] == "waiting"
    agent.put("/api/agent/availability", json={"available": False})


def test_metrics_count_handoffs_and_the_queue(stack: StackConfig, api: httpx.Client, agent: httpx.Client) -> None:
    say(api, new_sender(), "I'll file a chargeback with my bank if you don't answer")
    assert httpx.get(stack.bot_url + "/metrics").status_code == 401
    response = api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    handoffs = {(s.labels["reason"], s.labels["rule"]): s.value for s in families["dmdesk_handoffs"].samples}
    assert handoffs[("keyword", "chargeback")] >= 1 and handoffs[("requested_human", "explicit_request")] >= 1
    queued = [s for s in families["dmdesk_queue_tickets"].samples if s.labels["team"] == "billing"]
    assert sum(s.value for s in queued) >= 1
    waits = {s.name: s.value for s in families["dmdesk_queue_wait_seconds"].samples if s.labels.get("le") == "+Inf"}
    assert waits["dmdesk_queue_wait_seconds_bucket"] >= 1
    assert "dmdesk_first_response_seconds" in families and "dmdesk_agents_online" in families


async def test_an_idle_ticket_is_closed_once_with_a_message_and_the_bot_answers_again(
    stack: StackConfig, api: httpx.Client, agent: httpx.Client
) -> None:
    sender = new_sender()
    ticket_id = say(api, sender, "I want to talk to a human")["ticket_id"]
    assert agent.post(f"/api/agent/tickets/{ticket_id}/claim").status_code == 200
    assert agent.post(f"/api/agent/tickets/{ticket_id}/replies", json={"text": "Anything else?"}).status_code == 201
    # Two replicas' closers, built as the bot service builds them, on the stack's Redis and Rasa
    sredis, aredis = Redis.from_url(stack.redis_url), AsyncRedis.from_url(stack.redis_url)
    keys = Keys(stack.redis_prefix)
    store = HandoffStore(sredis, keys, "kopiku")
    desk = AgentDesk(store, sredis, keys, AccountStore(sredis, keys), 300)
    rasa = RasaClient(f"http://127.0.0.1:{stack.rasa_port}", 30, stack.channel_token)
    workflow = AgentWorkflow(desk, OutboundRouter({"dev": DevOutbox(aredis, keys)}), rasa, aredis, keys, 0)
    closers = [IdleCloser(workflow, aredis, keys, idle_s=0.5, scan_s=30) for _ in range(2)]
    try:
        assert await closers[0].close(ticket_id) is False  # the agent just wrote: not idle yet
        await aredis.delete(keys.idle_close_claim(ticket_id))
        await asyncio.sleep(0.7)
        results = await asyncio.gather(*(c.close(ticket_id) for c in closers))
        assert sorted(results) == [False, True]  # closed exactly once
    finally:
        await rasa.close()
        await aredis.aclose()
        sredis.close()
    ticket = api.get(f"/api/handoffs/{ticket_id}").json()
    assert ticket["status"] == "resolved" and ticket["transcript"][-1]["text"] == IDLE_CLOSED["en"]
    assert ticket["transcript"][-1]["delivery"]["status"] == "sent"
    outbox = api.get(f"/api/dev/conversations/dev:{sender}/messages").json()
    assert [m["text"] for m in outbox] == ["Anything else?", IDLE_CLOSED["en"]]
    again = say(api, sender, "How can I track my order?")
    assert kinds(again) == ["faq"]
