"""Cross-validation of the verifier settings: out-of-fold outcomes and rates."""

import json
from pathlib import Path

from bot.faq.crossval import cache_key, cross_validate, nlu_routes, rates, route
from bot.faq.index import Candidate
from bot.faq.kb import Thresholds
from bot.faq.verifier import features
from bot.nlu.handoff import HandoffPreference


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
    assert rates(queries, result) == {"en": {"faq": 1.0, "none_answered": 0.0}}


def test_routes_replay_the_first_turn_of_the_bot() -> None:
    def parse(intent: str, *ranking: tuple[str, float]) -> dict:
        return {"intent": intent, "ranking": [{"name": n, "confidence": c} for n, c in ranking]}

    off = HandoffPreference(-1.0)

    def go(p: dict, keyword: bool = False, preference: HandoffPreference = off) -> str:
        return route(p, keyword, preference)

    assert go(parse("request_human")) == "handoff"
    assert go(parse("complaint_angry")) == "handoff"
    # under NLU fallback a request for a person that still ranks first hands off (bot.nlu.handoff)
    assert go(parse("nlu_fallback", ("nlu_fallback", 0.45), ("request_human", 0.4), ("faq", 0.3))) == "handoff"
    close = parse("nlu_fallback", ("nlu_fallback", 0.45), ("faq", 0.41), ("request_human", 0.39))
    assert go(close) == "faq"
    assert go(close, preference=HandoffPreference(0.1)) == "handoff"  # a close second: read as a request
    assert go(parse("out_of_scope")) == "strict"
    assert go(parse("spam")) == "strict"  # no confidence given: searched, strictly
    assert go({**parse("spam"), "confidence": 0.7}) == "strict"  # spam it doubts
    assert go({**parse("spam"), "confidence": 0.95}) == "none"  # sure spam: no search
    assert go(parse("greet")) == "none"
    assert go(parse("faq"), keyword=True) == "handoff"


def test_routed_outcomes_score_handoffs_and_skip_the_search_for_them() -> None:
    good = [ranked("e", 1.0, 0.0) for _ in range(20)]
    bad = [ranked("e", 0.1, 0.9) for _ in range(20)]
    simulated = ([features(r) for r in good + bad], [1] * 20 + [0] * 20)
    queries = [
        {"text": "a", "lang": "en", "expect": "e"},
        {"text": "b", "lang": "en", "expect": "handoff"},
        {"text": "c", "lang": "en", "expect": "handoff"},
        {"text": "d", "lang": "en", "expect": "e"},
    ]
    routes = ["faq", "handoff", "faq", "handoff"]
    t = Thresholds(answer=0.5, clarify=0.2, window=0.5, strict=0.8)
    got = cross_validate(simulated, queries, [good[0]] * 4, t, 3.0, 1.0, folds=2, routes=routes)
    assert got == ["e", "handoff", "e", "handoff"]
    assert rates(queries, got) == {"en": {"faq": 0.5, "handoff": 0.5}}


def test_nlu_routes_apply_escalation_keywords(tmp_path) -> None:
    queries = [
        {"text": "my son had an allergic reaction", "lang": "en", "expect": "handoff"},
        {"text": "do you ship to japan", "lang": "en", "expect": "shipping_countries"},
    ]
    parses = tmp_path / "parses.json"
    rows = [{"text": q["text"], "intent": "faq", "confidence": 0.9, "ranking": []} for q in queries]
    parses.write_text(json.dumps({"parses": rows}))
    preference = HandoffPreference.from_pipeline(Path("config.yml"))
    assert nlu_routes(queries, parses, Path("config/escalation.yml"), preference) == ["handoff", "faq"]


def test_cache_key_follows_the_input_files(tmp_path) -> None:
    faq, queries = tmp_path / "faq.yml", tmp_path / "q.yml"
    faq.write_text("a")
    queries.write_text("b")
    first = cache_key(faq, queries)
    assert cache_key(faq, queries) == first
    queries.write_text("b2")
    assert cache_key(faq, queries) != first
