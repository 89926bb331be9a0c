"""Unanswered questions: recording, grouping, re-checking, and the actions through the FAQ editor (real KB)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from redis import Redis

from bot.faq.turn import FaqTurn, Outcome, faq_turn
from bot.keys import Keys
from bot.unanswered.inbox import group_items, scrubbed
from bot.unanswered.models import MissKind, UnansweredItem
from bot.unanswered.store import UnansweredStore
from tests.unit.training_app import account, service, session

BRAND = "kopiku"
WIFI = ["ada wifi gratis ga di toko kak?", "di toko kalian ada wifi gak min", "kafe kalian ada wifi gratis?"]
DOG = "can I bring my dog inside the shop?"
PARKING = "est-ce que vous vendez des croissants ?"


@pytest.fixture()
def client(monkeypatch: pytest.MonkeyPatch, redis_url: str, redis: Redis, keys: Keys) -> Iterator[TestClient]:
    account(redis, keys, BRAND, "rina", "editor")
    account(redis, keys, "otherbrand", "spy", "admin")
    with service(monkeypatch, redis_url, keys) as c:
        yield c


@pytest.fixture()
def inbox_items(redis: Redis, keys: Keys) -> list[UnansweredItem]:
    store = UnansweredStore(redis, keys)
    items = []
    for text, lang, kind in [
        (PARKING, "fr", MissKind.NONE),
        (WIFI[0], "id", MissKind.NONE),
        (DOG, "en", MissKind.CLARIFY),
        (WIFI[1], "id", MissKind.HANDOFF),
        (WIFI[2], "id", MissKind.NONE),
    ]:
        item = store.record(BRAND, text, lang, kind, f"dev:{len(items)}", ["contact_store_address_hours"])
        assert item is not None
        items.append(item)
    return items


def test_record_turn_keeps_only_what_the_bot_did_not_answer(redis: Redis, keys: Keys) -> None:
    store = UnansweredStore(redis, keys, kept=3)
    attempt = {"candidates": [{"entry_id": "order_tracking", "score": 1.0}], "reason": "low_confidence"}
    store.record_turn(BRAND, "where is it", "en", FaqTurn(Outcome.FAQ, text="...", attempt=attempt), "dev:a")
    assert store.items(BRAND) == []
    for i, outcome in enumerate([Outcome.NO_ANSWER, Outcome.CLARIFY, Outcome.ESCALATE, Outcome.OUT_OF_SCOPE]):
        store.record_turn(BRAND, f"question {i}", "en", FaqTurn(outcome, attempt=attempt), "dev:a")
    items = store.items(BRAND)
    assert [i.text for i in items] == ["question 3", "question 2", "question 1"]  # newest first, capped at 3
    assert [i.kind for i in items] == [MissKind.NONE, MissKind.HANDOFF, MissKind.CLARIFY]
    assert items[0].strict and not items[1].strict and items[0].candidates == ["order_tracking"]
    assert {i.reason for i in items} == {"low_confidence"}
    assert store.record(BRAND, "   ", "en", MissKind.NONE, "dev:a") is None


def test_grouping_is_greedy_per_language() -> None:
    def item(i: int, lang: str) -> UnansweredItem:
        return UnansweredItem(
            id=f"{i:016x}", brand=BRAND, text=str(i), language=lang, kind="none", conversation_id="c", at=i
        )

    vectors = np.array([[1, 0], [0.95, 0.05], [0, 1], [1, 0.01]], dtype=np.float32)
    items = [item(0, "en"), item(1, "en"), item(2, "en"), item(3, "id")]
    assert group_items(items, vectors, 0.9) == [[0, 1], [2], [3]]


def test_inbox_groups_similar_messages_newest_first(client: TestClient, inbox_items: list[UnansweredItem]) -> None:
    rina = session(client, BRAND, "rina")
    inbox = client.get("/api/unanswered", headers=rina).json()
    assert inbox["open_messages"] == 5
    groups = [(g["language"], g["count"], g["text"]) for g in inbox["groups"]]
    assert groups == [("id", 3, WIFI[2]), ("en", 1, DOG), ("fr", 1, PARKING)]
    wifi = inbox["groups"][0]
    assert wifi["kinds"] == {"none": 2, "handoff": 1} and wifi["candidates"] == ["contact_store_address_hours"]
    assert [m["text"] for m in wifi["members"]] == [WIFI[2], WIFI[1], WIFI[0]]
    # recorded without a reason, each message gets the one of its re-check against this FAQ
    reasons = {"low_confidence", "close_call", "strict", "not_covered"}
    assert sum(wifi["reasons"].values()) == 3 and set(wifi["reasons"]) <= reasons
    assert all(m["reason"] in reasons for g in inbox["groups"] for m in g["members"])
    only_fr = client.get("/api/unanswered?language=fr", headers=rina).json()
    assert [g["text"] for g in only_fr["groups"]] == [PARKING]


def test_adding_an_alternative_makes_the_group_leave_the_inbox(
    client: TestClient, inbox_items: list[UnansweredItem]
) -> None:
    rina = session(client, BRAND, "rina")
    wifi = client.get("/api/unanswered", headers=rina).json()["groups"][0]
    body = {"entry_id": "contact_store_address_hours"}
    result = client.post(f"/api/unanswered/{wifi['id']}/alternative", json=body, headers=rina)
    assert result.status_code == 200, result.text
    assert wifi["id"] in result.json()["resolved"]
    inbox = client.get("/api/unanswered", headers=rina).json()
    left = [m["text"] for g in inbox["groups"] for m in g["members"]]
    assert WIFI[2] not in left and DOG in left
    entry = client.app.state.training.inbox._editor().get(BRAND, "contact_store_address_hours")  # type: ignore[attr-defined]
    assert WIFI[2] in entry.alternatives and entry.updated_by == "rina"
    stale = {"entry_id": "contact_store_address_hours", "text": "wifi toko?", "expected_version": 1}
    assert (
        client.post(f"/api/unanswered/{inbox['groups'][0]['id']}/alternative", json=stale, headers=rina).status_code
        == 409
    )


def test_a_new_entry_from_a_message(client: TestClient, inbox_items: list[UnansweredItem]) -> None:
    rina = session(client, BRAND, "rina")
    dog = next(g for g in client.get("/api/unanswered", headers=rina).json()["groups"] if g["text"] == DOG)
    entry = {
        "id": "pets_in_store",
        "topic": "store",
        "question": DOG,
        "alternatives": ["are dogs allowed in your coffee shop?"],
        "answers": {"en": "Yes: well-behaved dogs on a leash are welcome in our Bandung store and on the terrace."},
    }
    result = client.post(f"/api/unanswered/{dog['id']}/entry", json=entry, headers=rina)
    assert result.status_code == 200, result.text
    assert result.json()["entry_id"] == "pets_in_store" and dog["id"] in result.json()["resolved"]
    texts = [g["text"] for g in client.get("/api/unanswered", headers=rina).json()["groups"]]
    assert DOG not in texts
    assert client.post(f"/api/unanswered/{dog['id']}/entry", json=entry, headers=rina).status_code == 409


def test_dismiss_bad_input_and_brands(client: TestClient, inbox_items: list[UnansweredItem]) -> None:
    rina, spy = session(client, BRAND, "rina"), session(client, "otherbrand", "spy")
    parking = inbox_items[0].id
    body = {"entry_id": "contact_store_address_hours"}
    assert client.post(f"/api/unanswered/{parking}/alternative", json=body, headers=spy).status_code == 404
    assert client.post("/api/unanswered/dismiss", json={"ids": [parking]}, headers=spy).status_code == 404
    assert client.get("/api/unanswered", headers=spy).json()["groups"] == []
    assert (
        client.post(
            f"/api/unanswered/{parking}/alternative", json={"entry_id": "no_such_entry"}, headers=rina
        ).status_code
        == 404
    )
    for bad in [{"entry_id": "Bad Id"}, {}, {"entry_id": "contact_store_address_hours", "text": ""}]:
        assert client.post(f"/api/unanswered/{parking}/alternative", json=bad, headers=rina).status_code == 422
    assert client.post("/api/unanswered/xyz/alternative", json=body, headers=rina).status_code == 422
    assert client.post("/api/unanswered/dismiss", json={"ids": []}, headers=rina).status_code == 422
    assert client.post("/api/unanswered/dismiss", json={"ids": [parking]}, headers=rina).json() == {"dismissed": 1}
    texts = [g["text"] for g in client.get("/api/unanswered", headers=rina).json()["groups"]]
    assert PARKING not in texts and len(texts) == 2


def test_a_message_dismissed_as_not_covered_gets_no_answer_until_staff_remove_it(
    client: TestClient, redis: Redis, keys: Keys
) -> None:
    rina, spy = session(client, BRAND, "rina"), session(client, "otherbrand", "spy")
    question = "Can I pay for a gift card in cash at the roastery?"
    before = client.post("/api/staff/faq/try", json={"text": question}, headers=rina).json()
    assert before["decision"] != "none" and before["candidates"][0]["entry_id"] == "gift_cards"
    assert before["not_covered_lead"] < 0.1 and before["not_covered"]  # the demo list has nothing this close
    item = UnansweredStore(redis, keys).record(BRAND, question, "en", MissKind.CLARIFY, "dev:1", ["gift_cards"])
    assert item is not None
    body = {"ids": [item.id], "not_covered": True}
    assert client.post("/api/unanswered/dismiss", json=body, headers=spy).status_code == 404
    assert client.post("/api/unanswered/dismiss", json=body, headers=rina).json() == {"dismissed": 1}
    listed = client.get("/api/staff/faq/not-covered", headers=rina).json()
    assert listed["questions"][-1] == question and listed["faq_version"] >= 2
    after = client.post("/api/staff/faq/try", json={"text": question}, headers=rina).json()
    assert after["decision"] == "none" and after["not_covered"] == question and after["not_covered_lead"] > 0.1
    assert after["reason"] == "not_covered" and before["reason"] in ("confident", "close_call")
    kb = client.app.state.training.inbox._kb()  # type: ignore[attr-defined]
    turn = faq_turn(kb, question + " pls", "faq", "en", failed_answers=0, max_failed=3)
    assert turn.attempt is not None and turn.attempt["reason"] == "not_covered"
    UnansweredStore(redis, keys).record_turn(BRAND, question + " pls", "en", turn, "dev:3")
    (group,) = client.get("/api/unanswered", headers=rina).json()["groups"]
    assert group["reasons"] == {"not_covered": 1} and group["members"][0]["reason"] == "not_covered"
    assert after["candidates"][0]["evidence"]["not_covered"] == after["not_covered_lead"]
    removed = client.post("/api/staff/faq/not-covered", json={"remove": [f"  {question} "]}, headers=rina).json()
    assert question not in removed["questions"] and len(removed["questions"]) == len(listed["questions"]) - 1
    again = client.post("/api/staff/faq/try", json={"text": question}, headers=rina).json()
    assert again["decision"] == before["decision"] and again["not_covered_lead"] == before["not_covered_lead"]
    same = client.post("/api/staff/faq/not-covered", json={"add": [], "remove": ["no such question"]}, headers=rina)
    assert same.json()["faq_version"] == removed["faq_version"]  # nothing changed: no new FAQ version


def test_not_covered_questions_need_an_editor_and_valid_texts(client: TestClient) -> None:
    assert client.get("/api/staff/faq/not-covered").status_code == 401
    assert client.post("/api/staff/faq/not-covered", json={"add": ["wifi?"]}).status_code == 401
    rina, spy = session(client, BRAND, "rina"), session(client, "otherbrand", "spy")
    assert client.get("/api/staff/faq/not-covered", headers=spy).status_code == 404
    assert client.post("/api/staff/faq/not-covered", json={"add": ["wifi?"]}, headers=spy).status_code == 404
    for bad in [{"add": [""]}, {"add": ["x" * 501]}, {"add": "wifi?"}, {"add": ["wifi?"] * 501}, {"other": []}]:
        assert client.post("/api/staff/faq/not-covered", json=bad, headers=rina).status_code == 422, bad
    added = client.post(
        "/api/staff/faq/not-covered", json={"add": ["wifi  gratis ada?", "wifi gratis ada?"]}, headers=rina
    )
    assert added.status_code == 200 and added.json()["questions"].count("wifi gratis ada?") == 1


def test_messages_remembered_as_not_covered_lose_their_emails_and_long_numbers(
    client: TestClient, redis: Redis, keys: Keys
) -> None:
    assert scrubbed("order KPK-10482, call +62 812-3456-7890 or a.b@mail.co.id") == (
        "order KPK-[number], call [number] or [email]"
    )
    assert scrubbed("open till 9? ada 3 cabang?") == "open till 9? ada 3 cabang?"
    rina = session(client, BRAND, "rina")
    text = "do you rent espresso machines? call me on 0812 3456 7890"
    item = UnansweredStore(redis, keys).record(BRAND, text, "en", MissKind.NONE, "dev:2", [])
    assert item is not None
    body = {"ids": [item.id], "not_covered": True}
    assert client.post("/api/unanswered/dismiss", json=body, headers=rina).json() == {"dismissed": 1}
    listed = client.get("/api/staff/faq/not-covered", headers=rina).json()["questions"]
    assert listed[-1] == "do you rent espresso machines? call me on [number]"
