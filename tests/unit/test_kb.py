"""Knowledge base over a real Redis and the real default encoder."""

from pathlib import Path

import pytest
from redis import Redis

from bot.encoders import get_encoder
from bot.faq import store
from bot.faq.index import Candidate
from bot.faq.kb import DecisionKind, KnowledgeBase, Thresholds, decide
from bot.keys import Keys
from bot.settings import CoreSettings

T = Thresholds(answer=0.5, clarify=0.4, margin=0.03, window=0.05, strict=0.7)


def make_kb(redis: Redis, keys: Keys) -> KnowledgeBase:
    return KnowledgeBase(redis, keys, get_encoder(CoreSettings().encoder), T)


def test_seeds_from_file_once_and_answers(redis: Redis, keys: Keys, faq_file: Path) -> None:
    kb = make_kb(redis, keys)
    assert kb.seed_from_file(faq_file) is True
    assert kb.seed_from_file(faq_file) is False
    assert [e.id for e in kb.book.entries] == [e.id for e in store.load(faq_file).entries]
    assert kb.search("How can I track my order?")[0].entry_id == "order_tracking"


def test_restart_reuses_cached_embeddings(redis: Redis, keys: Keys, faq_file: Path) -> None:
    first = make_kb(redis, keys)
    first.seed_from_file(faq_file)
    first.refresh()
    assert first.index.encoded_last_build > 0
    second = make_kb(redis, keys)  # a restarted process
    second.refresh()
    assert second.index.encoded_last_build == 0
    assert len(second.index) == 54


def test_an_edit_is_served_after_refresh_and_only_it_is_encoded(redis: Redis, keys: Keys, faq_file: Path) -> None:
    kb = make_kb(redis, keys)
    kb.seed_from_file(faq_file)
    kb.refresh()
    other_process = make_kb(redis, keys)
    other_process.refresh()
    book = kb.book.model_copy(deep=True)
    entry = next(e for e in book.entries if e.id == "gift_cards")
    entry.alternatives.append("Can I buy a voucher for my sister's birthday?")
    entry.answers["en"] = "Yes! Gift cards from Rp100,000."
    kb.replace_all(book)
    assert other_process.refresh() is True
    assert other_process.index.encoded_last_build == 1
    assert other_process.book.get("gift_cards").answers["en"] == "Yes! Gift cards from Rp100,000."  # type: ignore[union-attr]
    assert other_process.refresh() is False


def test_disabled_entries_are_not_searched(redis: Redis, keys: Keys, faq_file: Path) -> None:
    kb = make_kb(redis, keys)
    kb.seed_from_file(faq_file)
    book = kb.book.model_copy(deep=True)
    next(e for e in book.entries if e.id == "order_tracking").enabled = False
    kb.replace_all(book)
    assert all(c.entry_id != "order_tracking" for c in kb.search("How can I track my order?"))


def c(entry_id: str, score: float) -> Candidate:
    return Candidate(entry_id, score, "")


@pytest.mark.parametrize(
    ("cands", "strict", "kind", "ids"),
    [
        ([c("a", 0.8), c("b", 0.5)], False, DecisionKind.ANSWER, ["a"]),
        ([c("a", 0.8), c("b", 0.79), c("c", 0.78), c("d", 0.77)], False, DecisionKind.CLARIFY, ["a", "b", "c"]),
        ([c("a", 0.45), c("b", 0.2)], False, DecisionKind.CLARIFY, ["a"]),
        ([c("a", 0.3), c("b", 0.2)], False, DecisionKind.NONE, ["a"]),
        ([c("a", 0.6), c("b", 0.3)], True, DecisionKind.NONE, ["a"]),
        ([c("a", 0.75), c("b", 0.3)], True, DecisionKind.ANSWER, ["a"]),
        ([c("a", 0.8), c("b", 0.79)], True, DecisionKind.NONE, ["a"]),
        ([], False, DecisionKind.NONE, []),
    ],
)
def test_decisions(cands: list[Candidate], strict: bool, kind: DecisionKind, ids: list[str]) -> None:
    decision = decide(cands, T, strict=strict)
    assert decision.kind is kind
    assert [x.entry_id for x in decision.candidates] == ids
