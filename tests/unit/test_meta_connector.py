"""Meta glue without a network: signatures, parsing every payload shape, rendering."""

from __future__ import annotations

import json

import pytest

from bot import simulate as sim
from bot.messages import Button, Channel, OutboundMessage
from connectors.meta.events import EventKind, MalformedDeliveryError, inbound_text, parse_delivery
from connectors.meta.render import render, split_text
from connectors.meta.signature import sign, verify

SECRET = "s3cret-ü"
P, IG = sim.DEMO_PAGE, sim.DEMO_INSTAGRAM


@pytest.mark.parametrize(
    "body",
    [b"{}", json.dumps({"text": "Привет, ça va? 你好 🙏"}, ensure_ascii=False).encode(), b"x" * 900_000, b""],
)
def test_signature_of_the_raw_body_verifies(body: bytes) -> None:
    assert verify(body, sign(body, SECRET), SECRET)


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha256=" + "0" * 64, "sha1=abcdef", sign(b"{}", "other-secret"), sign(b"{} ", SECRET)],
)
def test_wrong_missing_or_sha1_signatures_are_refused(header: str | None) -> None:
    assert not verify(b"{}", header, SECRET)


def test_a_re_encoded_non_ascii_body_does_not_verify() -> None:
    raw = json.dumps({"t": "é"}, ensure_ascii=False).encode()
    escaped = json.dumps({"t": "é"}).encode()  # same JSON, different bytes
    assert verify(raw, sign(raw, SECRET), SECRET) and not verify(escaped, sign(raw, SECRET), SECRET)


def _one(body: dict) -> object:
    events = parse_delivery(body)
    assert len(events) == 1
    return events[0]


def test_every_event_of_every_entry_is_parsed_in_order() -> None:
    events = [sim.text(f"c{i}", P, f"msg {i}") for i in range(7)]
    body = sim.delivery("page", P, events, standby=[sim.text("s1", P, "standby")], per_entry=3)
    parsed = parse_delivery(body)
    assert [e.text for e in parsed] == [f"msg {i}" for i in range(7)] + ["standby"]
    assert [e.standby for e in parsed] == [False] * 7 + [True]
    assert all(e.channel == Channel.MESSENGER and e.account_id == P for e in parsed)


@pytest.mark.parametrize(
    ("event", "kind", "text"),
    [
        (sim.text("c", P, "hello"), EventKind.TEXT, "hello"),
        (
            sim.quick_reply("c", P, "Delivery time", '/choose_faq{"faq_id":"x"}'),
            EventKind.QUICK_REPLY,
            '/choose_faq{"faq_id":"x"}',
        ),
        (sim.postback("c", P, "Get started", "/greet"), EventKind.POSTBACK, "/greet"),
        (sim.attachment("c", P, "image"), EventKind.ATTACHMENT, "/request_human"),
        (sim.attachment("c", P, "audio"), EventKind.ATTACHMENT, "/request_human"),
        (sim.attachment("c", P, "video"), EventKind.ATTACHMENT, "/request_human"),
        (sim.attachment("c", P, "file"), EventKind.ATTACHMENT, "/request_human"),
        (sim.attachment("c", P, "location"), EventKind.ATTACHMENT, "/request_human"),
        (sim.like("c", P), EventKind.ATTACHMENT, "👍"),
        (sim.referral("c", P), EventKind.REFERRAL, ""),
        (sim.reaction("c", P, "m_1"), EventKind.REACTION, ""),
        (sim.read("c", P), EventKind.READ, ""),
        (sim.delivery_receipt("c", P, ["m_1"]), EventKind.DELIVERY, ""),
    ],
)
def test_messenger_event_kinds(event: dict, kind: EventKind, text: str) -> None:
    parsed = _one(sim.delivery("page", P, [event]))
    assert parsed.kind == kind  # type: ignore[attr-defined]
    assert parsed.customer_id == "c" and parsed.conversation_id == "messenger:c"  # type: ignore[attr-defined]
    assert inbound_text(parsed)[0] == text  # type: ignore[arg-type]


def test_quick_reply_payload_is_preferred_and_the_title_is_what_a_person_reads() -> None:
    parsed = _one(sim.delivery("page", P, [sim.quick_reply("c", P, "Yes please", "/affirm")]))
    assert inbound_text(parsed) == ("/affirm", "Yes please")  # type: ignore[arg-type]


def test_an_attachment_is_described_for_the_agent() -> None:
    parsed = _one(sim.delivery("page", P, [sim.attachment("c", P, "location", lat=1.5, long=2.5)]))
    assert inbound_text(parsed) == ("/request_human", "[location 1.5,2.5]")  # type: ignore[arg-type]


def test_echo_belongs_to_the_customer_it_was_sent_to() -> None:
    parsed = _one(sim.delivery("page", P, [sim.echo("cust", P, "hi", "123")]))
    assert parsed.kind == EventKind.ECHO and parsed.customer_id == "cust" and parsed.account_id == P  # type: ignore[attr-defined]
    assert parsed.app_id == "123"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (sim.story_reply("c", IG, "love it"), EventKind.TEXT),
        (sim.story_mention("c", IG), EventKind.STORY_MENTION),
        (sim.unsent("c", IG, "m_9"), EventKind.DELETED),
        (sim.attachment("c", IG, "image"), EventKind.ATTACHMENT),
    ],
)
def test_instagram_event_kinds(event: dict, kind: EventKind) -> None:
    parsed = _one(sim.delivery("instagram", IG, [event]))
    assert parsed.kind == kind and parsed.channel == Channel.INSTAGRAM  # type: ignore[attr-defined]


def test_story_reply_keeps_the_story() -> None:
    parsed = _one(sim.delivery("instagram", IG, [sim.story_reply("c", IG, "love it")]))
    assert parsed.reply_to["story"]["id"] == "17900000000000001"  # type: ignore[attr-defined,index]


def test_changes_shaped_test_event_is_a_message() -> None:
    parsed = _one(sim.changes_test_event(IG, "c", "hello"))
    assert parsed.kind == EventKind.TEXT and parsed.text == "hello" and parsed.timestamp > 1e9  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [
        {"object": "page", "entry": [{"id": P, "messaging": [{"sender": {"id": "c"}, "game_play": {}}]}]},
        {"object": "page", "entry": [{"id": P, "changes": [{"field": "feed", "value": {"item": "post"}}]}]},
        {"object": "page", "entry": [{"id": P, "messaging": [{"sender": {"id": "c"}, "message": {}}]}]},
    ],
)
def test_unknown_shapes_are_unknown_events_not_errors(body: dict) -> None:
    assert [e.kind for e in parse_delivery(body)] == [EventKind.UNKNOWN]


def test_other_objects_give_nothing_and_non_deliveries_are_malformed() -> None:
    assert parse_delivery({"object": "whatsapp_business_account", "entry": []}) == []
    for bad in ([], {"object": "page"}, "x", {"entry": "x"}):
        with pytest.raises(MalformedDeliveryError):
            parse_delivery(bad)


def test_event_ids_are_stable_for_replays() -> None:
    event = sim.read("c", P, watermark=123)
    a = parse_delivery(sim.delivery("page", P, [event]))[0]
    b = parse_delivery(sim.delivery("page", P, [event]))[0]
    assert a.event_id == b.event_id
    message = sim.text("c", P, "x", mid="m_abc")
    assert parse_delivery(sim.delivery("page", P, [message]))[0].event_id == "m_abc"


# --- rendering
LONG = " ".join(f"Sentence number {i} explains a detail of our delivery policy." for i in range(80))


@pytest.mark.parametrize(("channel", "limit"), [(Channel.MESSENGER, 2000), (Channel.INSTAGRAM, 1000)])
def test_long_answers_are_split_at_sentence_boundaries(channel: Channel, limit: int) -> None:
    parts = render(OutboundMessage(text=LONG), channel)
    texts = [p["text"] for p in parts]
    assert len(texts) > 1 and all(len(t) <= limit for t in texts)
    assert all(t.endswith(".") for t in texts)
    assert " ".join(texts) == LONG


def test_a_sentence_longer_than_the_limit_is_cut_at_a_space() -> None:
    parts = split_text("word " * 500, 1000)
    assert all(len(p) <= 1000 for p in parts) and "".join(parts).replace(" ", "") == "word" * 500


def test_messenger_uses_a_button_template_for_up_to_three_choices() -> None:
    reply = OutboundMessage(text="Which one?", buttons=[Button(title="A very long button title indeed", payload="/a")])
    [message] = render(reply, Channel.MESSENGER)
    template = message["attachment"]["payload"]
    assert template["template_type"] == "button" and template["text"] == "Which one?"
    assert template["buttons"][0]["title"] == "A very long button…"


def test_instagram_gets_quick_replies_within_its_limits() -> None:
    buttons = [Button(title=f"Choice number {i} with a long title", payload=f"/c{i}") for i in range(20)]
    [message] = render(OutboundMessage(text="Pick", buttons=buttons), Channel.INSTAGRAM)
    assert len(message["quick_replies"]) == 13
    assert all(len(q["title"]) <= 20 and q["content_type"] == "text" for q in message["quick_replies"])


def test_choices_go_with_the_last_part_of_a_long_answer() -> None:
    parts = render(OutboundMessage(text=LONG, buttons=[Button(title="Yes", payload="/affirm")]), Channel.INSTAGRAM)
    assert all("quick_replies" not in p for p in parts[:-1]) and parts[-1]["quick_replies"][0]["payload"] == "/affirm"
