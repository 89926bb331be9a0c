"""Tickets, queue order and ownership in a real Redis."""

import json
import threading
import time
from datetime import datetime, timezone

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from bot.dispatcher import Dispatcher
from bot.errors import InvalidInputError, NotFoundError
from bot.handoff.context import build_ticket, wait_message_vars, with_stored_history
from bot.handoff.hours import SupportHours
from bot.handoff.models import HandoffReason, Ticket, TranscriptLine
from bot.handoff.queue import HandoffStore
from bot.keys import Keys
from bot.rasa_client import RasaClient

TRACKER = {
    "sender_id": "messenger:4242",
    "slots": {"order_number": "KPK-10482", "language": "id", "faq_tried": []},
    "events": [
        {"event": "action", "name": "action_session_start", "timestamp": 1.0},
        {
            "event": "user",
            "text": "pesanan KPK-10482 blm sampai",
            "timestamp": 10.0,
            "metadata": {"channel": "messenger", "customer_id": "4242", "profile": {"name": "Budi"}},
            "parse_data": {
                "intent": {"name": "faq", "confidence": 0.91},
                "entities": [
                    {"entity": "order_number", "value": "KPK-10482", "extractor": "SpacyEntityExtractor"},
                    {"entity": "language", "value": "id", "extractor": "LanguageDetector"},
                ],
            },
        },
        {"event": "bot", "text": "Maaf, aku belum punya jawaban untuk itu.", "timestamp": 10.5, "data": {}},
        {
            "event": "user",
            "text": "mau ngomong sama admin",
            "timestamp": 20.0,
            "parse_data": {"intent": {"name": "request_human", "confidence": 0.97}, "entities": []},
        },
    ],
}


def ticket(conversation: str, reason: HandoffReason, created: float) -> Ticket:
    t = build_ticket(dict(TRACKER, sender_id=conversation), reason, "id", now=created)
    return t


def test_ticket_carries_the_whole_context() -> None:
    t = build_ticket(
        TRACKER,
        HandoffReason.REQUESTED,
        "id",
        faq_tried=[{"text": "x", "outcome": "none", "candidates": [{"entry_id": "order_tracking", "score": 0.4}]}],
    )
    assert [line.sender for line in t.transcript] == ["customer", "bot", "customer"]
    assert t.transcript[0].intent == "faq" and t.transcript[0].confidence == 0.91
    assert t.transcript[0].language == "id"
    assert t.intents[1]["intent"] == "request_human"
    assert {"entity": "order_number", "value": "KPK-10482"}.items() <= t.entities[0].items()
    assert t.customer.name == "Budi" and t.customer.id == "4242" and t.channel == "messenger"
    assert t.faq_attempts[0].candidates[0]["entry_id"] == "order_tracking"
    assert t.slots == {"order_number": "KPK-10482"}
    assert t.priority == 2 and t.reason is HandoffReason.REQUESTED


def test_the_transcript_reaches_back_before_the_window_rasa_loaded() -> None:
    """The stored history (older turns, then the window's turns up to the last saved one) goes in front."""
    older = [
        {"event": "action", "name": "action_session_start", "timestamp": 0.5},
        {"event": "user", "text": "halo", "timestamp": 2.0, "parse_data": {"intent": {"name": "greet"}}},
        {"event": "bot", "text": "Halo! Ada yang bisa dibantu?", "timestamp": 2.5, "data": {}},
    ]
    saved = [json.dumps(e) for e in older + TRACKER["events"][1:3]]  # the turn in progress is not stored yet
    restored = {"event": "slot", "name": "order_number", "value": "KPK-10482", "timestamp": 9.9}
    window = dict(TRACKER, events=[restored, *TRACKER["events"][1:]])  # cut at a user message, state restored
    merged = with_stored_history(window, saved)
    texts = [line.text for line in build_ticket(merged, HandoffReason.REQUESTED, "id").transcript]
    assert texts == ["halo", "Halo! Ada yang bisa dibantu?", "pesanan KPK-10482 blm sampai",
                     "Maaf, aku belum punya jawaban untuk itu.", "mau ngomong sama admin"]  # fmt: skip
    assert with_stored_history(window, [json.dumps(e) for e in older]) == window  # window's start not stored
    assert with_stored_history(window, []) == window


def test_queue_orders_by_priority_then_waiting_time(redis: Redis, keys: Keys) -> None:
    store = HandoffStore(redis, keys)
    now = time.time()
    store.open(ticket("messenger:1", HandoffReason.REQUESTED, now - 30))
    store.open(ticket("messenger:2", HandoffReason.ANGRY, now - 5))
    store.open(ticket("messenger:3", HandoffReason.REQUESTED, now - 60))
    store.open(ticket("messenger:4", HandoffReason.OFFER_ACCEPTED, now - 600))
    queue = store.waiting()
    assert [t.conversation_id for t in queue] == ["messenger:2", "messenger:3", "messenger:1", "messenger:4"]
    assert queue[1].waiting_s >= 59
    assert queue[0].last_message == "mau ngomong sama admin"


def test_one_open_ticket_per_conversation_even_when_racing(redis: Redis, keys: Keys) -> None:
    store = HandoffStore(redis, keys)
    results: list[tuple[Ticket, bool]] = []
    lock = threading.Lock()

    def escalate() -> None:
        result = store.open(ticket("instagram:99", HandoffReason.REQUESTED, time.time()))
        with lock:
            results.append(result)

    threads = [threading.Thread(target=escalate) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(created for _, created in results) == 1
    assert len({t.id for t, _ in results}) == 1
    assert store.queue_length() == 1
    assert store.owner("instagram:99") == results[0][0].id


def test_lines_appended_concurrently_are_all_kept(redis: Redis, keys: Keys) -> None:
    store = HandoffStore(redis, keys)
    t, _ = store.open(ticket("messenger:7", HandoffReason.REQUESTED, time.time()))
    threads = [
        threading.Thread(
            target=store.append_lines,
            args=(t.id, [TranscriptLine(sender="customer", text=f"m{i}", timestamp=time.time())]),
        )
        for i in range(10)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    texts = {line.text for line in store.get(t.id).transcript}
    assert {f"m{i}" for i in range(10)} <= texts


def test_unknown_ticket(redis: Redis, keys: Keys) -> None:
    with pytest.raises(NotFoundError):
        HandoffStore(redis, keys).get("000000000000")


def test_support_hours() -> None:
    hours = SupportHours.parse("mon-fri 09:00-18:00; sat 09:00-14:00", "Asia/Jakarta")
    monday_10_wib = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
    saturday_15_wib = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
    assert hours.is_open(monday_10_wib)
    assert not hours.is_open(saturday_15_wib)
    nxt = hours.next_open(saturday_15_wib)
    assert nxt is not None and (nxt.weekday(), nxt.hour) == (0, 9)
    assert wait_message_vars(hours, 10, monday_10_wib) == ("utter_handoff_open", {"wait": "10"})
    response, variables = wait_message_vars(hours, 10, saturday_15_wib)
    assert response == "utter_handoff_closed" and variables["next_open"] == "2026-11-30 09:00 WIB"


@pytest.mark.parametrize("spec", ["mon-fri 9-18", "xyz 09:00-10:00", "mon 09:00"])
def test_bad_support_hours_are_rejected(spec: str) -> None:
    with pytest.raises(InvalidInputError):
        SupportHours.parse(spec, "Asia/Jakarta")


async def test_the_dispatcher_reads_the_owner_the_store_writes(redis: Redis, aredis: AsyncRedis, keys: Keys) -> None:
    store = HandoffStore(redis, keys)
    rasa = RasaClient("http://127.0.0.1:9")  # not called
    dispatcher = Dispatcher(aredis, keys, rasa, store)
    try:
        assert await dispatcher.owner("messenger:owner-1") is None
        opened, _ = store.open(ticket("messenger:owner-1", HandoffReason.REQUESTED, time.time()))
        assert await dispatcher.owner("messenger:owner-1") == opened.id == store.owner("messenger:owner-1")
    finally:
        await rasa.close()
