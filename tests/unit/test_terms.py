"""Term coverage evidence and the verifier features built on it."""

from dataclasses import replace
from pathlib import Path

from bot.faq import store
from bot.faq.index import Candidate, FaqIndex
from bot.faq.models import FaqEntry
from bot.faq.terms import TermCoverage, terms, word_stems
from bot.faq.verifier import EVIDENCE, Verifier, features
from bot.runtime import index_config
from bot.settings import CoreSettings


def entry(entry_id: str, question: str, answer: str) -> FaqEntry:
    return FaqEntry(id=entry_id, topic="t", question=question, answers={"en": answer})


def test_terms_fold_inflections_and_ignore_digits() -> None:
    assert terms("Магазине магазин") == {"магаз"}
    assert terms("Livraison 2024 à Paris!") == {"livra", "a", "paris"}
    assert terms("🙂 123") == set()


def test_russian_endings_go_before_the_cut() -> None:
    # short Russian stems: the 5-character cut alone kept "карта"/"карту"/"картой" apart
    assert terms("карта карту картой картами") == {"карт"}
    assert terms("подписку подписка подписки") == {"подпи"}
    assert terms("новый новая новое") == {"нов"}
    # the stem keeps at least three letters; Latin words are only cut
    assert terms("чай") == {"чаи"} and terms("чаю") == {"чаю"}
    assert terms("cartes carte") == {"carte"} and terms("parkir") == {"parki"}


def test_a_misspelt_russian_word_reads_as_the_faq_word_one_edit_away() -> None:
    coverage = TermCoverage(
        [
            entry("refund", "Когда вернут деньги за возврат?", "Возврат денег занимает 5 дней."),
            entry("password", "Ссылка для сброса пароля не работает", "Запросите новую ссылку."),
            entry("descale", "Какой раствор для чистки машины?", "Раствор лимонной кислоты."),
        ]
    )
    assert coverage.respelled(word_stems("возварт денег")) == {"возвр", "денег"}  # neighbours swapped
    assert coverage.respelled(word_stems("сылка пороля")) == {"ссылк", "парол"}  # a letter missing, one wrong
    # compared whole: "растительн" is not one edit from "раствор", though both cut to 5 letters are
    assert coverage.respelled(word_stems("растительное молоко")) == {"расти", "молок"}
    # other scripts, short words and known words are left alone
    assert coverage.respelled(word_stems("refnd ден возврат")) == {"refnd", "ден", "возвр"}
    assert coverage.evidence(coverage.respelled(word_stems("возварт денег")), [0])[0].unknown == 0.0


def test_evidence_counts_the_query_terms() -> None:
    cov = TermCoverage([entry("hours", "When is the store open?", "Our store opens at 8.")])
    (ev,) = cov.evidence(terms("when is the store open"), [0])
    assert ev.query_terms == 5 and ev.as_dict()["query_terms"] == 5


def test_evidence_separates_covered_from_unknown_words() -> None:
    cov = TermCoverage(
        [
            entry("hours", "When is the store open?", "Our store opens at 8."),
            entry("ship", "How long does shipping take?", "Shipping takes 2 days."),
        ]
    )
    hours, ship = cov.evidence(terms("when is the store open"), [0, 1])
    assert hours.uncovered == 0.0 and hours.unknown_terms == 0
    assert ship.uncovered > 0.5
    (emoji,) = cov.evidence(terms("👍 123"), [0])
    assert emoji.uncovered == 1.0 and emoji.unknown == 1.0
    (wifi,) = cov.evidence(terms("is there wifi in the store"), [0])
    assert wifi.unknown_terms >= 1 and wifi.unknown > 0 and wifi.uncovered >= wifi.unknown


def test_index_candidates_carry_evidence_and_verifier_uses_it(faq_file: Path) -> None:
    settings = CoreSettings()
    encoders, weights = index_config(settings)
    index = FaqIndex(encoders, weights)
    index.build(store.load(faq_file).entries)
    covered = index.search("how do i track my order?")
    uncovered = index.search("is there wifi in your braga store?")
    assert set(EVIDENCE) <= set(covered[0].evidence)
    assert covered[0].evidence["unknown_terms"] == 0
    assert uncovered[0].evidence["unknown_terms"] >= 1
    assert len(features(covered)) == len(Verifier.load(settings.verifier_file).coef)
    verifier = Verifier.load(settings.verifier_file)
    assert verifier.probability(covered) > settings.answer_threshold
    assert verifier.probability(covered) > verifier.probability(uncovered)
    blind = [Candidate(c.entry_id, c.score, c.matched, c.components, {}) for c in uncovered]
    assert verifier.probability(uncovered) < verifier.probability(blind)  # the unknown word lowers confidence


def test_term_coverage_reranks_neighbouring_entries(faq_file: Path) -> None:
    settings = CoreSettings()
    encoders, weights = index_config(settings)
    entries = store.load(faq_file).entries
    reranked = FaqIndex(encoders, weights)
    reranked.build(entries)
    plain = FaqIndex(encoders, replace(weights, coverage=0.0))
    plain.build(entries)
    # "stop" the subscription: the embeddings put "how it works" first, its words are the cancel entry's
    text = "kak sy mau stop langganan kopinya, gmn caranya"
    assert plain.search(text)[0].entry_id == "subscription_how_it_works"
    found = reranked.search(text)
    assert found[0].entry_id == "subscription_cancel"
    # scores are the combined score less the penalty, best first, for the same pool of entries
    base = {c.entry_id: c.score for c in plain.search(text)}
    assert set(base) == {c.entry_id for c in found}
    for c in found:
        assert abs(c.score - (base[c.entry_id] - weights.coverage * c.evidence["uncovered"])) < 1e-3
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_missing_evidence_reads_as_zero() -> None:
    bare = [Candidate("a", 2.0, "", {"use-multilingual": 0.8, "lexical": 0.5})]
    assert features(bare)[-len(EVIDENCE) - 1 :] == [0.0] * (len(EVIDENCE) + 1)


def test_uncovered_share_is_also_weighed_by_the_message_length() -> None:
    def top(uncovered: float, query_terms: int) -> list[Candidate]:
        ev = {"uncovered": uncovered, "unknown": 0.0, "unknown_terms": 0, "query_terms": query_terms}
        return [Candidate("a", 2.0, "", {"use-multilingual": 0.8, "lexical": 0.5}, ev)]

    assert features(top(0.5, 3))[-1] < features(top(0.5, 20))[-1]
    assert features(top(0.0, 20))[-1] == 0.0
