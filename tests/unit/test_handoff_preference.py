"""Which parses are read as asking for a person (bot/nlu/handoff.py)."""

from pathlib import Path

import pytest

from bot.nlu.handoff import MAX_CLAUSES, HandoffPreference, Reading, clause_spans

PREFERENCE = HandoffPreference(0.3, {"bot_challenge": 0.5, "deny": 0.2})


def read_as(preference: HandoffPreference, *args) -> str | None:
    """The intent a parse is read as (None: the classifier's stands)."""
    found = preference.read(*args)
    return None if found is None else found.intent


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
    assert read_as(PREFERENCE, intent, ranked) == expected


def test_a_negative_margin_keeps_only_the_fallback_reading() -> None:
    off = HandoffPreference(-1.0)
    assert read_as(off, "faq", ranking(("faq", 0.5), ("request_human", 0.5))) is None
    assert read_as(off, "nlu_fallback", ranking(("nlu_fallback", 0.45), ("request_human", 0.4))) == "request_human"


def test_the_pipeline_sets_the_margins() -> None:
    assert HandoffPreference.from_pipeline(Path("config.yml")) == PREFERENCE
    assert HandoffPreference.from_config({}) == HandoffPreference() == PREFERENCE  # the defaults are config.yml's
    no_exceptions = HandoffPreference.from_config({"margins": {}})  # margins given: only those
    behind_bot = ranking(("bot_challenge", 0.69), ("request_human", 0.26))
    assert read_as(no_exceptions, "bot_challenge", behind_bot) is None
    off = HandoffPreference.from_config({"margins": {"greet": -1}})
    assert read_as(off, "greet", ranking(("greet", 0.5), ("request_human", 0.45))) is None


def test_a_pipeline_without_the_component_gets_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n", encoding="utf-8")
    assert HandoffPreference.from_pipeline(config) == HandoffPreference()


@pytest.mark.parametrize("config", [{"margin": "wide"}, {"margin": 1.5}, {"margins": {"bot_challenge": 2}}])
def test_bad_margins_are_refused(config: dict) -> None:
    with pytest.raises(ValueError):
        HandoffPreference.from_config(config)


def clause(name: str, confidence: float, text: str = "can someone from your team check it?") -> dict:
    return {"text": text, "name": name, "confidence": confidence}


STORY = ranking(("faq", 0.91), ("request_human", 0.06))


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        # one sentence of a longer message asks for a person, sure enough
        (
            [clause("faq", 0.94, "my parcel says delivered but never came."), clause("request_human", 0.98)],
            "request_human",
        ),
        ([clause("request_human", 0.75)], "request_human"),
        ([clause("request_human", 0.74)], None),
        # an angry-sounding sentence alone is not read so ("I'm in Surabaya." came out complaint_angry 0.72)
        ([clause("complaint_angry", 0.99)], None),
        ([clause("faq", 0.9), clause("thank", 0.97)], None),
        ([], None),
        (None, None),
    ],
)
def test_a_sentence_that_asks_for_a_person_is_read(clauses: list | None, expected: str | None) -> None:
    assert read_as(PREFERENCE, "faq", STORY, clauses) == expected


def test_the_whole_message_reading_comes_first_and_the_sentences_can_be_turned_off() -> None:
    angry = ranking(("complaint_angry", 0.8), ("faq", 0.1))
    assert read_as(PREFERENCE, "complaint_angry", angry, [clause("request_human", 0.99)]) == "complaint_angry"
    asked = clause("request_human", 0.8, "call me back pls")
    assert PREFERENCE.read("faq", STORY, [clause("faq", 0.9), asked, clause("request_human", 0.9)]) == Reading(
        "request_human", asked
    )  # the first sentence that asks
    assert PREFERENCE.read("faq", ranking(("faq", 0.5), ("request_human", 0.45)), [asked]) == Reading("request_human")
    off = HandoffPreference.from_config({"clause_confidence": -1})
    assert read_as(off, "faq", STORY, [clause("request_human", 0.99)]) is None
    with pytest.raises(ValueError):
        HandoffPreference.from_config({"clause_confidence": 1.5})


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("where is my order KPK-10482?", []),  # one sentence: nothing to read apart
        ("  hi!  ", []),
        ("My order is late. Can someone call me?", ["My order is late.", "Can someone call me?"]),
        ("halo kak\nmau tanya ongkir", ["halo kak", "mau tanya ongkir"]),
        ("Bonjour !  Je veux un conseiller…  svp", ["Bonjour !", "Je veux un conseiller…", "svp"]),
        ("Заказ не пришёл!!! Позовите оператора", ["Заказ не пришёл!!!", "Позовите оператора"]),
        ("price is 10.5k? ok", ["price is 10.5k?", "ok"]),  # a point inside a number ends nothing
        ("\n\nfirst.\n\n\nsecond.\n", ["first.", "second."]),
    ],
)
def test_clause_spans_are_the_stripped_sentences(text: str, sentences: list[str]) -> None:
    assert [text[a:b] for a, b in clause_spans(text)] == sentences


def test_a_long_message_gives_its_first_and_last_sentences() -> None:
    text = " ".join(f"Sentence {i}." for i in range(20))
    got = [text[a:b] for a, b in clause_spans(text)]
    assert len(got) == MAX_CLAUSES
    assert got == [f"Sentence {i}." for i in (0, 1, 2, 3, 16, 17, 18, 19)]
    assert clause_spans("x " * 3000 + "y.") == []  # 6,000 characters, no sentence end before white space
