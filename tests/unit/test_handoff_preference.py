"""Which parses are read as asking for a person (bot/nlu/handoff.py)."""

from pathlib import Path

import pytest

from bot.nlu.handoff import HandoffPreference

PREFERENCE = HandoffPreference(0.3, {"bot_challenge": 0.5, "deny": 0.2})


def ranking(*pairs: tuple[str, float]) -> list[dict]:
    return [{"name": n, "confidence": c} for n, c in pairs]


@pytest.mark.parametrize(
    ("intent", "ranked", "expected"),
    [
        # the classifier's handoff intents stand
        ("request_human", ranking(("request_human", 0.9)), "request_human"),
        ("complaint_angry", ranking(("complaint_angry", 0.6), ("request_human", 0.3)), "complaint_angry"),
        # under fallback, a handoff intent that still ranks first
        ("nlu_fallback", ranking(("nlu_fallback", 0.45), ("request_human", 0.4), ("faq", 0.3)), "request_human"),
        ("nlu_fallback", ranking(("nlu_fallback", 0.45), ("complaint_angry", 0.44), ("faq", 0.4)), "complaint_angry"),
        # a request for a person close behind the top intent, with or without fallback
        ("faq", ranking(("faq", 0.5), ("request_human", 0.41), ("greet", 0.05)), "request_human"),
        ("nlu_fallback", ranking(("nlu_fallback", 0.45), ("faq", 0.41), ("request_human", 0.39)), "request_human"),
        ("faq", ranking(("faq", 0.56), ("request_human", 0.40)), "request_human"),
        ("faq", ranking(("faq", 0.6), ("request_human", 0.36)), "request_human"),  # 0.24 behind
        ("faq", ranking(("faq", 0.7), ("request_human", 0.39)), None),  # 0.31 behind: the question stands
        # only a request for a person is read so: an angry complaint close behind a question is not
        ("faq", ranking(("faq", 0.5), ("complaint_angry", 0.45)), None),
        ("faq", ranking(("faq", 0.5), ("greet", 0.3), ("request_human", 0.2)), None),  # third, not second
        # "are you a bot?" with a real share of "I want a person"
        ("bot_challenge", ranking(("bot_challenge", 0.69), ("request_human", 0.26)), "request_human"),
        ("bot_challenge", ranking(("bot_challenge", 0.95), ("request_human", 0.03)), None),
        # "no bot, get me the admin": a refusal of the bot, a request for a person
        ("deny", ranking(("deny", 0.55), ("request_human", 0.40)), "request_human"),
        ("deny", ranking(("deny", 0.64), ("request_human", 0.34)), None),  # "nope, don't need a person, ..."
        ("deny", ranking(("deny", 0.6), ("request_human", 0.39)), None),  # 0.21 behind a refusal
        ("faq", [], None),
        ("faq", None, None),
        (None, None, None),
    ],
)
def test_a_request_for_a_person_is_read_when_it_ranks_close(intent, ranked, expected) -> None:
    assert PREFERENCE.reading(intent, ranked) == expected


def test_a_negative_margin_keeps_only_the_fallback_reading() -> None:
    off = HandoffPreference(-1.0)
    assert off.reading("faq", ranking(("faq", 0.5), ("request_human", 0.5))) is None
    assert off.reading("nlu_fallback", ranking(("nlu_fallback", 0.45), ("request_human", 0.4))) == "request_human"


def test_the_pipeline_sets_the_margins() -> None:
    assert HandoffPreference.from_pipeline(Path("config.yml")) == PREFERENCE
    assert HandoffPreference.from_config({}) == HandoffPreference() == PREFERENCE  # the defaults are config.yml's
    no_exceptions = HandoffPreference.from_config({"margins": {}})  # margins given: only those
    behind_bot = ranking(("bot_challenge", 0.69), ("request_human", 0.26))
    assert no_exceptions.reading("bot_challenge", behind_bot) is None
    off = HandoffPreference.from_config({"margins": {"greet": -1}})
    assert off.reading("greet", ranking(("greet", 0.5), ("request_human", 0.45))) is None


def test_a_pipeline_without_the_component_gets_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n", encoding="utf-8")
    assert HandoffPreference.from_pipeline(config) == HandoffPreference()


@pytest.mark.parametrize("config", [{"margin": "wide"}, {"margin": 1.5}, {"margins": {"bot_challenge": 2}}])
def test_bad_margins_are_refused(config: dict) -> None:
    with pytest.raises(ValueError):
        HandoffPreference.from_config(config)
