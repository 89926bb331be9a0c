"""Meta webhooks through the real stack: signed deliveries in, replies at the fake Graph API out."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis

from bot import simulate as sim
from bot.fakegraph import FakeConfig, RunningFake
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.messages import Channel, OutboundMessage
from bot.stack import StackConfig
from connectors.meta.render import plain_text, render
from tests.conftest import META_APP_ID, META_VERIFY_TOKEN
from tests.e2e.helpers import new_sender, say
from tests.e2e.meta_helpers import IG, P, drained, new_customer, post, sends_to, text_of, wait_sends

pytestmark = pytest.mark.stack


@pytest.fixture(autouse=True)
def clean_fake(fake_graph: RunningFake) -> Iterator[None]:
    fake_graph.graph.reset(FakeConfig())
    yield
    fake_graph.graph.reset(FakeConfig())


def ticket_of(api: httpx.Client, conversation: str, stack: StackConfig | None = None) -> dict:
    for summary in api.get("/api/handoffs", params={"limit": 500}).json():
        if summary["conversation_id"] == conversation:
            return api.get(f"/api/handoffs/{summary['id']}").json()
    if stack is not None:  # a ticket a person owns from the start (Meta's inbox) is not in the waiting queue
        redis = Redis.from_url(stack.redis_url)
        try:
            owner = HandoffStore(redis, Keys(stack.redis_prefix)).owner(conversation)
        finally:
            redis.close()
        if owner is not None:
            return api.get(f"/api/handoffs/{owner}").json()
    raise AssertionError(f"no ticket for {conversation}")


# --- subscription check
@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_subscription_check_answers_the_challenge(stack: StackConfig, channel: str) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": META_VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = httpx.get(f"{stack.bot_url}/webhooks/{channel}", params=params)
    assert response.status_code == 200 and response.text == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": META_VERIFY_TOKEN, "hub.challenge": "1"},
        {},
    ],
)
def test_subscription_check_refuses_wrong_tokens(stack: StackConfig, params: dict) -> None:
    assert httpx.get(f"{stack.bot_url}/webhooks/messenger", params=params).status_code == 403


# --- bad deliveries
def test_missing_or_wrong_signatures_are_403(stack: StackConfig, fake_graph: RunningFake) -> None:
    customer = new_customer()
    body = sim.delivery("page", P, [sim.text(customer, P, "hi")])
    raw = json.dumps(body).encode()
    assert httpx.post(f"{stack.bot_url}/webhooks/messenger", content=raw).status_code == 403
    assert post(stack.bot_url, "messenger", body, secret="wrong-secret").status_code == 403
    sha1 = {"X-Hub-Signature": "sha1=" + "0" * 40}
    assert httpx.post(f"{stack.bot_url}/webhooks/messenger", content=raw, headers=sha1).status_code == 403
    drained(stack)
    assert sends_to(fake_graph, customer) == []


def test_non_ascii_body_with_a_valid_signature_is_answered(stack: StackConfig, fake_graph: RunningFake) -> None:
    customer = new_customer()
    raw = json.dumps(sim.delivery("page", P, [sim.text(customer, P, "Привет! ça va? 🙏")]), ensure_ascii=False)
    response = post(stack.bot_url, "messenger", raw.encode())
    assert response.status_code == 200 and response.text == "EVENT_RECEIVED"
    assert wait_sends(fake_graph, customer, 1)


def test_large_bodies_are_413_and_malformed_json_400(stack: StackConfig) -> None:
    big = sim.delivery("page", P, [sim.text(new_customer(), P, "x" * 1000) for _ in range(250)])
    assert post(stack.bot_url, "messenger", big).status_code == 413
    assert post(stack.bot_url, "messenger", b"{not json").status_code == 400
    assert post(stack.bot_url, "messenger", b"").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"object": "page", "entry": [{"id": P, "changes": [{"field": "feed", "value": {"item": "status"}}]}]},
        {"object": "page", "entry": [{"id": P, "messaging": [{"sender": {"id": "1"}, "game_play": {}}]}]},
        {"object": "whatsapp_business_account", "entry": []},
        {"hello": "world"},
        [1, 2, 3],
    ],
)
def test_unknown_signed_shapes_are_acknowledged(stack: StackConfig, body: object) -> None:
    assert post(stack.bot_url, "messenger", json.dumps(body).encode()).status_code == 200


def test_openapi_documents_the_webhooks(stack: StackConfig) -> None:
    spec = httpx.get(stack.bot_url + "/openapi.json").json()
    post_op = spec["paths"]["/webhooks/{channel}"]["post"]
    assert {"200", "400", "403", "413", "503"} <= set(post_op["responses"])
    assert "X-Hub-Signature-256" in [p["name"] for p in post_op["parameters"]] and post_op["requestBody"]
    assert {"200", "403"} <= set(spec["paths"]["/webhooks/{channel}"]["get"]["responses"])


# --- exactly once, in order
def test_the_same_delivery_replayed_three_times_gives_one_reply(stack: StackConfig, fake_graph: RunningFake) -> None:
    customer = new_customer()
    body = sim.delivery("page", P, [sim.text(customer, P, "hi")])
    for _ in range(4):
        assert post(stack.bot_url, "messenger", body).status_code == 200
    drained(stack)
    sent = wait_sends(fake_graph, customer, 1)
    assert len(sent) == 1 and sent[0]["messaging_type"] == "RESPONSE"
    actions = [a["action"] for a in fake_graph.graph.actions if a["recipient"] == customer]
    # once, or not at all when the answer came within DMDESK_TYPING_DELAY_S (tests/unit/test_meta_typing.py)
    assert actions in ([], ["mark_seen", "typing_on"])


def test_a_greeting_uses_the_customers_first_name_and_works_without_it(
    stack: StackConfig, fake_graph: RunningFake
) -> None:
    named = new_customer()
    assert (
        post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.text(named, P, "halo kak")])).status_code == 200
    )
    (greeting,) = wait_sends(fake_graph, named, 1)
    assert text_of(greeting).startswith(f"Halo, Cust{named[-4:]}!")
    fake_graph.graph.reset(FakeConfig(profile_forbidden=True))  # the page lacks the profile permission
    anonymous = new_customer()
    assert (
        post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.text(anonymous, P, "hello")])).status_code == 200
    )
    (greeting,) = wait_sends(fake_graph, anonymous, 1)
    assert text_of(greeting).startswith("Hi! 👋")


SEQUENCE = ["hi", "How can I track my order?", "thanks", "am i talking to a bot?", "bye"]


def test_a_batch_of_50_events_over_10_conversations_is_answered_completely_in_order(
    stack: StackConfig, api: httpx.Client, fake_graph: RunningFake
) -> None:
    # the same conversation through the dev endpoint gives the expected replies, in order
    fake_graph.graph.reset(FakeConfig(profile_forbidden=True))  # no first name: the dev endpoint has none either
    dev = new_sender()
    expected: list[str] = []
    for text in SEQUENCE:
        replies = [OutboundMessage.model_validate(r) for r in say(api, dev, text)["replies"]]
        expected += [plain_text(m) for r in replies for m in render(r, Channel.MESSENGER)]
    customers = [new_customer() for _ in range(10)]
    events = [sim.text(c, P, text) for text in SEQUENCE for c in customers]
    assert post(stack.bot_url, "messenger", sim.delivery("page", P, events, per_entry=10)).status_code == 200
    for customer in customers:
        assert [text_of(s) for s in wait_sends(fake_graph, customer, len(expected))] == expected


def test_with_30_percent_of_sends_failing_every_reply_is_delivered_exactly_once(
    stack: StackConfig, fake_graph: RunningFake
) -> None:
    fake_graph.graph.reset(FakeConfig(fail_rate=0.3, seed=11))
    customers = [new_customer() for _ in range(15)]
    events = [sim.text(c, P, t) for t in ("hi", "am i talking to a bot?") for c in customers]
    assert post(stack.bot_url, "messenger", sim.delivery("page", P, events)).status_code == 200
    drained(stack, timeout=120)
    for customer in customers:
        sent = wait_sends(fake_graph, customer, 2, timeout=60)
        assert len(sent) == 2 and len({s["mid"] for s in sent}) == 2
    assert fake_graph.graph.stats["5xx"] > 0


# --- echoes and people answering from Meta's inbox
def test_echoes_are_never_answered(stack: StackConfig, fake_graph: RunningFake) -> None:
    customer = new_customer()
    post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.text(customer, P, "hi")]))
    [ours] = wait_sends(fake_graph, customer, 1)
    echoes = [
        sim.echo(customer, P, text_of(ours), META_APP_ID, mid=ours["mid"]),  # our send, app id ours
        sim.echo(customer, P, "we said this", META_APP_ID),
        sim.echo(customer, P, text_of(ours), "", mid=ours["mid"]),  # no app id: known by its mid
    ]
    post(stack.bot_url, "messenger", sim.delivery("page", P, echoes))
    drained(stack)
    assert len(sends_to(fake_graph, customer)) == 1


def test_a_person_answering_in_metas_inbox_silences_the_bot(
    stack: StackConfig, api: httpx.Client, fake_graph: RunningFake
) -> None:
    customer = new_customer()
    post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.text(customer, P, "hi")]))
    wait_sends(fake_graph, customer, 1)
    inbox = sim.echo(customer, P, "Hi, Sari from Kopiku here!", sim.INBOX_APP_ID)
    post(stack.bot_url, "messenger", sim.delivery("page", P, [inbox]))
    post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.text(customer, P, "How can I track my order?")]))
    drained(stack)
    assert len(sends_to(fake_graph, customer)) == 1
    ticket = ticket_of(api, f"messenger:{customer}", stack)
    assert ticket["reason"] == "agent_answered_in_inbox"
    assert [(line["sender"], line["text"]) for line in ticket["transcript"]] == [
        ("agent", "Hi, Sari from Kopiku here!"),
        ("customer", "How can I track my order?"),
    ]


def test_standby_messages_go_to_a_person_not_the_bot(
    stack: StackConfig, api: httpx.Client, fake_graph: RunningFake
) -> None:
    customer = new_customer()
    post(stack.bot_url, "messenger", sim.delivery("page", P, [], standby=[sim.text(customer, P, "hello?")]))
    drained(stack)
    assert sends_to(fake_graph, customer) == []
    assert ticket_of(api, f"messenger:{customer}", stack)["transcript"][-1]["text"] == "hello?"


# --- event kinds
def test_an_image_goes_to_a_person_with_the_customers_name(
    stack: StackConfig, api: httpx.Client, fake_graph: RunningFake
) -> None:
    customer = new_customer()
    post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.attachment(customer, P, "image")]))
    [reply] = wait_sends(fake_graph, customer, 1)
    ticket = ticket_of(api, f"messenger:{customer}", stack)
    assert ticket["reason"] == "requested_human" and ticket["customer"]["name"] == f"Cust{customer[-4:]}"
    assert ticket["transcript"][0]["text"].startswith("[image https://")
    assert text_of(reply)


def test_a_like_sticker_is_an_acknowledgement_not_answered_but_shown_to_a_person(
    stack: StackConfig, api: httpx.Client, fake_graph: RunningFake
) -> None:
    customer = new_customer()
    post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.like(customer, P)]))
    drained(stack)
    assert sends_to(fake_graph, customer) == []
    post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.text(customer, P, "I want to talk to a human")]))
    wait_sends(fake_graph, customer, 1)
    post(stack.bot_url, "messenger", sim.delivery("page", P, [sim.like(customer, P)]))
    drained(stack)
    assert len(sends_to(fake_graph, customer)) == 1
    assert ticket_of(api, f"messenger:{customer}")["transcript"][-1]["text"] == "👍"


def test_quick_replies_and_postbacks_send_their_payload(stack: StackConfig, fake_graph: RunningFake) -> None:
    customer = new_customer()
    events = [
        sim.quick_reply(customer, P, "Skip a delivery", '/choose_faq{"faq_id":"subscription_skip"}'),
        sim.postback(customer, P, "Get started", "/greet"),
    ]
    post(stack.bot_url, "messenger", sim.delivery("page", P, events))
    sent = wait_sends(fake_graph, customer, 2)
    assert "skip" in text_of(sent[0]).lower()


@pytest.mark.parametrize(("obj", "account", "channel"), [("page", P, "messenger"), ("instagram", IG, "instagram")])
def test_choices_are_rendered_for_each_platform(
    stack: StackConfig, fake_graph: RunningFake, obj: str, account: str, channel: str
) -> None:
    customer = new_customer()
    text = sim.text(customer, account, "do you have a dog friendly terrace with heated seats?")
    post(stack.bot_url, channel, sim.delivery(obj, account, [text]))
    [reply] = wait_sends(fake_graph, customer, 1)
    assert reply["account"] == account
    message = reply["message"]
    if channel == "instagram":
        assert [q["payload"] for q in message["quick_replies"]] == ["/affirm", "/deny"]
        assert all(len(q["title"]) <= 20 for q in message["quick_replies"]) and len(message["text"]) <= 1000
    else:
        buttons = message["attachment"]["payload"]["buttons"]
        assert [b["payload"] for b in buttons] == ["/affirm", "/deny"]


def test_receipts_reactions_and_mentions_are_recorded_not_answered(stack: StackConfig, fake_graph: RunningFake) -> None:
    customer, ig_customer = new_customer(), new_customer()
    post(
        stack.bot_url,
        "messenger",
        sim.delivery(
            "page",
            P,
            [sim.read(customer, P), sim.delivery_receipt(customer, P, ["m_1"]), sim.reaction(customer, P, "m_1")],
        ),
    )
    post(stack.bot_url, "instagram", sim.delivery("instagram", IG, [sim.story_mention(ig_customer, IG)]))
    drained(stack)
    assert sends_to(fake_graph, customer) == [] and sends_to(fake_graph, ig_customer) == []


def test_story_replies_and_referrals_reach_the_ticket_and_unsent_messages_leave_it(
    stack: StackConfig, api: httpx.Client, fake_graph: RunningFake
) -> None:
    customer = new_customer()
    kept, unsent = sim.new_mid(), sim.new_mid()
    post(stack.bot_url, "instagram", sim.delivery("instagram", IG, [sim.referral(customer, IG, "ig_ad_42")]))
    post(
        stack.bot_url,
        "instagram",
        sim.delivery("instagram", IG, [sim.story_reply(customer, IG, "is this blend back?")]),
    )
    post(
        stack.bot_url, "instagram", sim.delivery("instagram", IG, [sim.text(customer, IG, "I want to talk to a human")])
    )
    drained(stack)
    events = [
        sim.text(customer, IG, "my order is KPK-10482", mid=kept),
        sim.text(customer, IG, "oops wrong chat", mid=unsent),
        sim.unsent(customer, IG, unsent),
    ]
    post(stack.bot_url, "instagram", sim.delivery("instagram", IG, events))
    drained(stack)
    ticket = ticket_of(api, f"instagram:{customer}")
    assert {c["type"] for c in ticket["context"]} >= {"referral", "story_reply"}
    texts = [line["text"] for line in ticket["transcript"] if line["sender"] == "customer"]
    assert "my order is KPK-10482" in texts and "oops wrong chat" not in texts
    assert texts[0] == "is this blend back?"


def test_a_bot_reply_outside_the_24_hour_window_is_not_sent_and_the_ticket_says_why(
    stack: StackConfig, api: httpx.Client, fake_graph: RunningFake
) -> None:
    customer = new_customer()
    old = sim.now_ms() - 25 * 3600 * 1000  # a delivery Meta held back for more than a day
    post(
        stack.bot_url,
        "messenger",
        sim.delivery("page", P, [sim.text(customer, P, "I want to talk to a human", ts=old)]),
    )
    drained(stack)
    assert sends_to(fake_graph, customer) == []
    ticket = ticket_of(api, f"messenger:{customer}", stack)
    note = ticket["transcript"][-1]
    assert note["sender"] == "system" and "outside the messaging window" in note["text"]
    assert note["payload"]["unsent"]
