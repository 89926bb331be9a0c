"""Threshold calibration replays the bot's first turn, the handoff reading included."""

import pytest

from bot.calibration import first_turn, score
from bot.faq.index import Candidate
from bot.faq.kb import Thresholds
from bot.faq.verifier import features, fit
from bot.nlu.handoff import HandoffPreference

T = Thresholds(answer=0.5, clarify=0.2, window=0.5, strict=0.8)


def ranked(top: str, lead: float, uncovered: float) -> list[Candidate]:
    ev = {"uncovered": uncovered, "unknown": uncovered / 2, "unknown_terms": float(uncovered > 0.5)}
    return [
        Candidate(top, 2.0 + lead, "", {"use": 0.5 + lead / 4, "lexical": 0.3}, ev),
        Candidate("other", 2.0, "", {"use": 0.5, "lexical": 0.2}, ev),
    ]


GOOD = ranked("hours", 1.0, 0.0)
BAD = ranked("hours", 0.1, 0.9)
VERIFIER = fit(([features(GOOD)] * 20 + [features(BAD)] * 20, [1] * 20 + [0] * 20))


def row(intent: str, confidence: float, *ranking: tuple[str, float], keyword: bool = False, good: bool = True) -> dict:
    cands = GOOD if good else BAD
    return {
        "text": "t",
        "lang": "en",
        "expect": "hours",
        "parse": {
            "intent": intent,
            "confidence": confidence,
            "ranking": [{"name": n, "confidence": c} for n, c in ranking],
        },
        "keyword": keyword,
        "candidates": [(c.entry_id, c.score) for c in cands],
        "components": [c.components for c in cands],
        "evidence": [c.evidence for c in cands],
    }


def test_a_request_for_a_person_hands_off_below_the_fallback_threshold() -> None:
    pref = HandoffPreference()
    # promoted by the pipeline's reading with its own confidence (0.40 < FallbackClassifier's 0.45)
    promoted = row("request_human", 0.40, ("faq", 0.5), ("request_human", 0.4))
    assert first_turn(promoted, T, VERIFIER, pref) == "handoff"
    # a stored parse from before the reading: replayed with the configured margins
    close = row("faq", 0.5, ("faq", 0.5), ("request_human", 0.4))
    assert first_turn(close, T, VERIFIER, pref) == "handoff"
    assert first_turn(close, T, VERIFIER, HandoffPreference(-1.0)) == "hours"
    assert first_turn(row("faq", 0.9, ("faq", 0.9), keyword=True), T, VERIFIER, pref) == "handoff"


def test_other_intents_search_as_the_bot_does() -> None:
    pref = HandoffPreference()
    assert first_turn(row("faq", 0.9, ("faq", 0.9)), T, VERIFIER, pref) == "hours"
    assert first_turn(row("faq", 0.9, ("faq", 0.9), good=False), T, VERIFIER, pref) == "none"
    assert first_turn(row("greet", 0.9, ("greet", 0.9)), T, VERIFIER, pref) == "none"
    # sure spam skips the search; out of scope searches strictly
    assert first_turn(row("spam", 0.95, ("spam", 0.95)), T, VERIFIER, pref) == "none"
    assert first_turn(row("out_of_scope", 0.8, ("out_of_scope", 0.8)), T, VERIFIER, pref) == "hours"


def test_score_takes_the_worst_language() -> None:
    rows = [row("faq", 0.9, ("faq", 0.9)), {**row("faq", 0.9, ("faq", 0.9), good=False), "lang": "id"}]
    rows.append({**row("request_human", 0.4, ("request_human", 0.4)), "expect": "handoff"})
    rows.append({**row("request_human", 0.4, ("request_human", 0.4)), "expect": "handoff", "lang": "id"})
    s = score(rows, T, VERIFIER, HandoffPreference())
    assert s["faq_min"] == 0.0 and s["faq_mean"] == 0.5 and s["handoff_min"] == 1.0


def test_handoff_rows_weigh_less_than_other_calibration_rows() -> None:
    from bot.faq.verifier import CALIBRATION_WEIGHT, HANDOFF_WEIGHT, row_weight

    assert row_weight({"text": "t", "lang": "en", "expect": "handoff"}) == HANDOFF_WEIGHT < CALIBRATION_WEIGHT
    assert row_weight({"text": "t", "lang": "en", "expect": "none"}) == CALIBRATION_WEIGHT
    assert row_weight({"text": "t", "lang": "en", "expect": "hours"}, 3.0) == 3.0
    simulated = ([features(GOOD)] * 5 + [features(BAD)] * 5, [1] * 5 + [0] * 5)
    rows, labels = [features(GOOD), features(BAD), features(GOOD)], [1, 0, 0]
    # a row of weight 2 counts as that row twice
    each = fit(simulated, (rows, labels), [1.0, 2.0, 1.0])
    twice = fit(simulated, (rows + [features(BAD)], labels + [0]), 1.0)
    assert all(abs(a - b) < 1e-3 for a, b in zip(each.coef, twice.coef, strict=True))
    with pytest.raises(ValueError):
        fit(simulated, (rows, labels), [1.0])
