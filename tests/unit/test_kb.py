"""Knowledge base over a real Redis and the real default encoder."""

from pathlib import Path

import pytest
from redis import Redis

from bot.faq import store
from bot.faq.index import Candidate, FaqIndex
from bot.faq.kb import DecisionKind, DecisionReason, KnowledgeBase, Thresholds, decide
from bot.faq.models import FaqEntry
from bot.faq.turn import SPAM_SURE, Outcome, faq_turn
from bot.faq.verifier import Verifier
from bot.keys import Keys
from bot.runtime import index_config, thresholds
from bot.settings import CoreSettings

T = Thresholds(answer=0.5, clarify=0.3, window=0.3, strict=0.8)


def make_kb(redis: Redis, keys: Keys) -> KnowledgeBase:
    settings = CoreSettings()
    encoders, weights = index_config(settings)
    return KnowledgeBase(redis, keys, encoders, weights, Verifier.load(settings.verifier_file), thresholds(settings))


def test_seeds_from_file_once_and_answers(redis: Redis, keys: Keys, faq_file: Path) -> None:
    kb = make_kb(redis, keys)
    assert kb.seed_from_file(faq_file) is True
    assert kb.seed_from_file(faq_file) is False
    assert [e.id for e in kb.book.entries] == [e.id for e in store.load(faq_file).entries]
    assert kb.search("How can I track my order?")[0].entry_id == "order_tracking"


def test_restart_reuses_cached_embeddings(redis: Redis, keys: Keys, faq_file: Path) -> None:
    keys = Keys(keys.prefix)  # an embedding cache of its own (purged with the prefix), cold at first
    first = make_kb(redis, keys)
    first.seed_from_file(faq_file)
    first.refresh()
    assert first.index.encoded_last_build > 0
    second = make_kb(redis, keys)  # a restarted process
    second.refresh()
    assert second.index.encoded_last_build == 0
    assert len(second.index) == 54
    assert second.search("How can I track my order?")[0].entry_id == "order_tracking"


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


def test_a_question_marked_not_covered_gets_no_answer_in_every_process(
    redis: Redis, keys: Keys, faq_file: Path
) -> None:
    kb = make_kb(redis, keys)
    kb.seed_from_file(faq_file)
    other_process = make_kb(redis, keys)
    question = "Can I pay for my gift card with cash at the roastery?"
    before = other_process.ask(question)
    assert before.kind is not DecisionKind.NONE and before.best is not None
    assert before.best.evidence["not_covered"] < T.not_covered  # the demo list has nothing this close
    book = kb.book.model_copy(deep=True)
    book.not_covered.append("Can I pay for a gift card in cash at the roastery?")
    kb.replace_all(book)
    after = other_process.ask(question)
    assert after.kind is DecisionKind.NONE and after.reason is DecisionReason.NOT_COVERED
    assert after.ranked[0].evidence["not_covered"] > T.not_covered
    assert other_process.index.not_covered[-1] == "Can I pay for a gift card in cash at the roastery?"


R = DecisionReason


def c(entry_id: str, score: float, not_covered: float | None = None) -> Candidate:
    return Candidate(entry_id, score, "", {}, {} if not_covered is None else {"not_covered": not_covered})


@pytest.mark.parametrize(
    ("cands", "confidence", "strict", "kind", "ids", "reason"),
    [
        ([c("a", 4.0), c("b", 2.0)], 0.9, False, DecisionKind.ANSWER, ["a"], R.CONFIDENT),
        (
            [c("a", 3.0), c("b", 2.9), c("c", 2.8), c("d", 2.75)],
            0.4,
            False,
            DecisionKind.CLARIFY,
            ["a", "b", "c"],
            R.CLOSE_CALL,
        ),
        ([c("a", 3.0), c("b", 1.0)], 0.4, False, DecisionKind.CLARIFY, ["a"], R.CLOSE_CALL),
        ([c("a", 2.0), c("b", 1.9)], 0.1, False, DecisionKind.NONE, ["a"], R.LOW_CONFIDENCE),
        ([c("a", 4.0), c("b", 2.0)], 0.7, True, DecisionKind.NONE, ["a"], R.STRICT),
        ([c("a", 5.0), c("b", 2.0)], 0.95, True, DecisionKind.ANSWER, ["a"], R.CONFIDENT),
        ([], 0.0, False, DecisionKind.NONE, [], R.EMPTY),
        ([c("a", 4.0, not_covered=0.03), c("b", 2.0)], 0.9, False, DecisionKind.ANSWER, ["a"], R.CONFIDENT),
        ([c("a", 4.0, not_covered=0.15), c("b", 2.0)], 0.9, False, DecisionKind.NONE, ["a"], R.NOT_COVERED),
        ([c("a", 3.0, not_covered=0.15), c("b", 2.9)], 0.4, False, DecisionKind.NONE, ["a"], R.NOT_COVERED),
        ([c("a", 5.0, not_covered=0.15), c("b", 2.0)], 0.95, True, DecisionKind.NONE, ["a"], R.NOT_COVERED),
        ([c("a", 2.0, not_covered=0.15), c("b", 1.9)], 0.1, False, DecisionKind.NONE, ["a"], R.NOT_COVERED),
    ],
)
def test_decisions(
    cands: list[Candidate],
    confidence: float,
    strict: bool,
    kind: DecisionKind,
    ids: list[str],
    reason: DecisionReason,
) -> None:
    decision = decide(cands, confidence, T, strict=strict)
    assert decision.kind is kind and decision.reason is reason
    assert [x.entry_id for x in decision.candidates] == ids


def test_sure_spam_gets_the_out_of_scope_reply_without_a_search(redis: Redis, keys: Keys, faq_file: Path) -> None:
    kb = make_kb(redis, keys)
    kb.seed_from_file(faq_file)
    searched: list[str] = []
    ask = kb.ask
    kb.ask = lambda text, strict=False: searched.append(text) or ask(text, strict=strict)  # type: ignore[method-assign]
    ad = "PROMO followers IG murah, minat DM"
    turn = faq_turn(kb, ad, "spam", "id", failed_answers=1, max_failed=2, confidence=SPAM_SURE)
    assert not searched and turn.outcome is Outcome.OUT_OF_SCOPE and turn.response == "utter_out_of_scope"
    assert turn.meta["decision_reason"] == "spam" and turn.failed_answers == 1  # no failed answer counted
    assert turn.attempt is not None and turn.attempt["reason"] == "spam" and turn.attempt["candidates"] == []
    doubted = faq_turn(kb, ad, "spam", "id", failed_answers=1, max_failed=2, confidence=SPAM_SURE - 0.01)
    assert searched == [ad] and doubted.meta["decision_reason"] in ("strict", "not_covered", "confident")


def test_texts_that_read_the_same_once_abbreviations_are_written_out_are_encoded_once() -> None:
    # "brp" is "berapa" (bot.faq.normalize): two rows of one text, one vector. Encoded twice in one batch, the
    # two rows could differ in the last bits, and the entry's top-2 score with them (a cold build and a
    # restart from the cache then ranked differently, seen on an AMD EPYC)
    encoders, weights = index_config(CoreSettings())
    index = FaqIndex(encoders, weights)
    alternatives = ["garansi grinder brp lama?", "garansi grinder berapa lama?", "kalau grinder rusak gimana?"]
    entry = FaqEntry(id="grinder", topic="equipment", question="Grinder warranty?", alternatives=alternatives,
                     answers={"en": "Two years."})  # fmt: skip
    index.build([entry])
    assert index.encoded_last_build == 3  # of 4 texts: each text once, its rows one vector
