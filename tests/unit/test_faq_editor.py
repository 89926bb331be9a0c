"""The FAQ editing service over a real Redis, the real encoder and the real index."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from bot.errors import FaqCheckError, FaqConflictError, InvalidInputError, NotFoundError
from bot.faq.editor import FaqEditor
from bot.faq.editor_models import ChangeAction, CheckCode, EntryCreate, EntryPatch
from bot.faq.kb import KnowledgeBase
from bot.keys import Keys
from tests.unit.test_kb import make_kb

BRAND = "kopiku"


@pytest.fixture()
def kb(redis: Redis, keys: Keys, faq_file: Path) -> Iterator[KnowledgeBase]:
    kb = make_kb(redis, keys)
    kb.seed_from_file(faq_file)
    kb.refresh()
    yield kb
    kb.close()


@pytest.fixture()
def editor(redis: Redis, keys: Keys, kb: KnowledgeBase) -> FaqEditor:
    return FaqEditor(redis, keys, BRAND, lambda: kb)


def wait_until(predicate, timeout: float = 2.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def test_an_edit_reaches_another_process_by_pubsub_and_only_that_entry_is_reindexed(
    editor: FaqEditor, redis: Redis, keys: Keys
) -> None:
    replica = make_kb(redis, keys)
    replica.refresh()
    replica.listen()
    try:
        entry = editor.get(BRAND, "gift_cards")
        assert entry.version == 1 and entry.updated_by is None
        new = "Can I send a Kopiku e-voucher to my sister?"
        saved = editor.update(
            BRAND, "ana", "gift_cards", EntryPatch(answers={**entry.answers, "en": "Gift cards: new text."}), 1
        )
        assert saved.entry.version == 2 and saved.entry.updated_by == "ana"
        # the listener thread applies it without any search calling refresh()
        assert wait_until(lambda: replica.book.get("gift_cards").answers["en"] == "Gift cards: new text.")  # type: ignore[union-attr]
        assert replica.last_refresh == ["gift_cards"]
        editor.add_alternative(BRAND, "ana", "gift_cards", new)
        assert wait_until(lambda: new in replica.book.get("gift_cards").alternatives)  # type: ignore[union-attr]
        assert replica.index.encoded_last_build <= 1  # only the new phrasing could need encoding
        assert replica.search(new)[0].entry_id == "gift_cards"
    finally:
        replica.close()


def test_incremental_index_scores_exactly_like_a_full_build(
    editor: FaqEditor, kb: KnowledgeBase, redis: Redis, keys: Keys
) -> None:
    entry = editor.get(BRAND, "order_tracking")
    editor.update(
        BRAND, "ana", "order_tracking", EntryPatch(alternatives=[*entry.alternatives, "where is my parcel now"]), 1
    )
    editor.set_enabled(BRAND, "ana", "gift_cards", False, 1)
    editor.create(
        BRAND,
        "ana",
        EntryCreate(id="wifi_store", topic="store", question="Is there wifi in the store?", answers={"en": "Yes."}),
    )
    kb.refresh()
    assert kb.last_refresh is not None  # applied incrementally
    fresh = make_kb(redis, keys)
    fresh.refresh()
    assert fresh.last_refresh is None  # a full build
    for query in ("where is my parcel", "do you have wifi?", "voucher for a friend", "brp ongkir ke medan kak?"):
        a, b = kb.search(query), fresh.search(query)
        assert [c.entry_id for c in a] == [c.entry_id for c in b]
        for x, y in zip(a, b, strict=True):
            assert x.score == pytest.approx(y.score, abs=1e-5)
            assert x.components == pytest.approx(y.components, abs=1e-4)
            assert x.evidence == y.evidence
    assert all(c.entry_id != "gift_cards" for c in kb.search("gift card"))


def test_a_stale_version_conflicts_and_returns_the_current_entry(editor: FaqEditor) -> None:
    editor.update(BRAND, "ana", "gift_cards", EntryPatch(question="Do you sell Kopiku gift cards?"), 1)
    with pytest.raises(FaqConflictError) as caught:
        editor.update(BRAND, "bob", "gift_cards", EntryPatch(question="Gift cards?"), 1)
    current = caught.value.response_fields()["current"]
    assert current["version"] == 2 and current["question"] == "Do you sell Kopiku gift cards?"
    assert editor.get(BRAND, "gift_cards").question == "Do you sell Kopiku gift cards?"


def test_of_many_concurrent_saves_of_one_version_exactly_one_wins(editor: FaqEditor) -> None:
    results: list[str] = []

    def save(i: int) -> None:
        try:
            editor.update(BRAND, f"user{i}", "gift_cards", EntryPatch(question=f"Gift cards, take {i}?"), 1)
            results.append("ok")
        except FaqConflictError:
            results.append("conflict")

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 5 + ["ok"]
    assert editor.get(BRAND, "gift_cards").version == 2
    assert len(editor.history(BRAND, "gift_cards")) == 1


def test_history_records_who_when_before_after_and_rollback_is_a_new_version(editor: FaqEditor) -> None:
    original = editor.get(BRAND, "gift_cards")
    editor.update(BRAND, "ana", "gift_cards", EntryPatch(answers={**original.answers, "en": "Second."}), 1)
    editor.update(BRAND, "bob", "gift_cards", EntryPatch(answers={**original.answers, "en": "Third."}), 2)
    history = editor.history(BRAND, "gift_cards")
    assert [(h.version, h.by, h.action) for h in history] == [
        (3, "bob", ChangeAction.UPDATED),
        (2, "ana", ChangeAction.UPDATED),
    ]
    assert history[0].before.answers["en"] == "Second." and history[0].after.answers["en"] == "Third."  # type: ignore[union-attr]
    assert history[1].at <= history[0].at
    restored = editor.rollback(BRAND, "carl", "gift_cards", 1, 3)
    assert restored.entry.version == 4 and restored.entry.answers == original.answers
    latest = editor.history(BRAND, "gift_cards")[0]
    assert latest.action is ChangeAction.ROLLED_BACK and latest.rollback_of == 1 and latest.by == "carl"
    with pytest.raises(FaqConflictError):
        editor.rollback(BRAND, "carl", "gift_cards", 2, 3)
    with pytest.raises(NotFoundError):
        editor.rollback(BRAND, "carl", "gift_cards", 99, 4)


def test_delete_keeps_history_and_rollback_restores_a_deleted_entry(editor: FaqEditor, kb: KnowledgeBase) -> None:
    assert editor.delete(BRAND, "ana", "gift_cards", 1) == 2
    with pytest.raises(NotFoundError):
        editor.get(BRAND, "gift_cards")
    kb.refresh()
    assert kb.book.get("gift_cards") is None
    with pytest.raises(InvalidInputError):
        editor.rollback(BRAND, "ana", "gift_cards", 2, 2)
    back = editor.rollback(BRAND, "ana", "gift_cards", 1, 2)
    assert back.entry.version == 3
    kb.refresh()
    assert kb.search("Do you sell gift cards?")[0].entry_id == "gift_cards"


def test_checks_block_errors_and_return_warnings(editor: FaqEditor) -> None:
    with pytest.raises(FaqCheckError) as caught:
        editor.update(BRAND, "ana", "gift_cards", EntryPatch(alternatives=["How can I track my order?"]), 1)
    dup = next(c for c in caught.value.checks if c.code is CheckCode.DUPLICATE)
    assert dup.other_entry == "order_tracking" and dup.field == "alternatives[0]"
    with pytest.raises(FaqCheckError) as caught:
        editor.update(BRAND, "ana", "gift_cards", EntryPatch(answers={"en": "  "}), 1)
    assert caught.value.checks[0].code is CheckCode.EMPTY_ANSWER
    with pytest.raises(FaqCheckError):
        editor.update(BRAND, "ana", "gift_cards", EntryPatch(alternatives=["Gift card?", "gift  CARD!"]), 1)
    long = "This is a sentence about gift cards. " * 60
    saved = editor.update(
        BRAND,
        "ana",
        "gift_cards",
        EntryPatch(
            answers={"en": long.strip()},
            titles={"en": "A very long gift card title"},
            alternatives=["Can I pay with a credit card?", "How do I track my parcel?"],
        ),
        1,
    )
    codes = {(w.code, w.field) for w in saved.warnings}
    assert (CheckCode.ANSWER_TOO_LONG, "answers.en") in codes
    assert (CheckCode.TITLE_TOO_LONG, "titles.en") in codes
    assert (CheckCode.MISSING_LANGUAGE, "answers.id") in codes
    closer = [w for w in saved.warnings if w.code is CheckCode.CLOSER_TO_OTHER and w.field == "alternatives[1]"]
    assert closer and closer[0].other_entry == "order_tracking"
    assert len([w for w in saved.warnings if w.code is CheckCode.ANSWER_TOO_LONG]) == 2  # Instagram and Messenger
    assert saved.entry.version == 2


def test_near_duplicates_across_entries_are_flagged(editor: FaqEditor) -> None:
    entry = editor.get(BRAND, "gift_cards")
    track = editor.get(BRAND, "order_tracking")
    near = track.question.rstrip("?") + " please?"
    checks = editor.check(BRAND, entry.model_copy(update={"alternatives": [*entry.alternatives, near]}))
    flagged = [c for c in checks if c.code is CheckCode.NEAR_DUPLICATE]
    assert flagged and flagged[0].other_entry == "order_tracking" and flagged[0].similarity >= 0.95  # type: ignore[operator]


def test_create_list_search_completeness_and_brand_scope(editor: FaqEditor) -> None:
    created = editor.create(
        BRAND,
        "ana",
        EntryCreate(id="wifi_store", topic="store", question="Is there wifi in the store?", answers={"en": "Yes."}),
    )
    assert created.entry.version == 1 and created.entry.missing_languages == ["id", "fr", "ru"]
    from bot.agents.errors import ConflictError

    with pytest.raises(ConflictError):
        editor.create(BRAND, "ana", EntryCreate(id="wifi_store", topic="x", question="Wifi?", answers={"en": "Y"}))
    assert [e.id for e in editor.list_entries(BRAND, query="WIFI store").entries] == ["wifi_store"]
    assert editor.list_entries(BRAND, missing_language="fr").total == 1
    assert editor.list_entries(BRAND, topic="store").total >= 1
    editor.set_enabled(BRAND, "ana", "wifi_store", False, 1)
    assert [e.id for e in editor.list_entries(BRAND, enabled=False).entries] == ["wifi_store"]
    gaps = {g.language: g for g in editor.completeness(BRAND).by_language}
    assert gaps["fr"].missing == ["wifi_store"] and gaps["en"].missing == []
    for call in (
        lambda: editor.get("otherbrand", "gift_cards"),
        lambda: editor.list_entries("otherbrand"),
        lambda: editor.update("otherbrand", "x", "gift_cards", EntryPatch(question="Hacked?"), 1),
        lambda: editor.history("otherbrand", "gift_cards"),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert editor.get(BRAND, "gift_cards").version == 1


def test_a_save_that_changes_nothing_makes_no_new_version(editor: FaqEditor) -> None:
    entry = editor.get(BRAND, "gift_cards")
    same = editor.update(BRAND, "ana", "gift_cards", EntryPatch(question=entry.question, answers=entry.answers), 1)
    assert same.entry.version == 1 and editor.history(BRAND, "gift_cards") == []
