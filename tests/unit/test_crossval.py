"""Cross-validation of the verifier settings: out-of-fold outcomes and rates."""

from bot.faq.crossval import cache_key, cross_validate, rates
from bot.faq.index import Candidate
from bot.faq.kb import Thresholds
from bot.faq.verifier import features


def ranked(top: str, lead: float, uncovered: float) -> list[Candidate]:
    ev = {"uncovered": uncovered, "unknown": uncovered / 2, "unknown_terms": float(uncovered > 0.5)}
    return [
        Candidate(top, 2.0 + lead, "", {"use": 0.5 + lead / 4, "lexical": 0.3}, ev),
        Candidate("other", 2.0, "", {"use": 0.5, "lexical": 0.2}, ev),
    ]


def test_rates_count_faq_hits_and_answered_none_per_language() -> None:
    queries = [
        {"text": "a", "lang": "en", "expect": "x"},
        {"text": "b", "lang": "en", "expect": "y"},
        {"text": "c", "lang": "en", "expect": "none"},
        {"text": "d", "lang": "en", "expect": "handoff"},
    ]
    assert rates(queries, ["x", "clarify:y", "z", "none"]) == {"en": {"faq": 0.5, "none_answered": 1.0}}


def test_cross_validation_answers_clear_hits_and_rejects_uncovered_messages() -> None:
    good = [ranked("e", 1.0, 0.0) for _ in range(20)]
    bad = [ranked("e", 0.1, 0.9) for _ in range(20)]
    simulated = ([features(r) for r in good + bad], [1] * 20 + [0] * 20)
    queries = [{"text": str(i), "lang": "en", "expect": "e"} for i in range(8)]
    queries += [{"text": str(i), "lang": "en", "expect": "none"} for i in range(8)]
    result = cross_validate(
        simulated, queries, good[:8] + bad[:8], Thresholds(answer=0.5, clarify=0.2, window=0.5, strict=0.8), 3.0, 1.0
    )
    assert result == {"en": {"faq": 1.0, "none_answered": 0.0}}


def test_cache_key_follows_the_input_files(tmp_path) -> None:
    faq, queries = tmp_path / "faq.yml", tmp_path / "q.yml"
    faq.write_text("a")
    queries.write_text("b")
    first = cache_key(faq, queries)
    assert cache_key(faq, queries) == first
    queries.write_text("b2")
    assert cache_key(faq, queries) != first
