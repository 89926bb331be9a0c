"""Escalation rules: the file's validation, keyword matching in four languages, priority and team."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.handoff.context import apply_escalation, build_ticket
from bot.handoff.keywords import Term, fold, words
from bot.handoff.models import PRIORITY_BY_REASON, FaqAttempt, HandoffReason
from bot.handoff.rules import EscalationConfigError, EscalationRules, Escalator, Situation, load_escalator
from bot.stack import ROOT
from tests.unit.test_handoff import TRACKER

DEMO = ROOT / "config" / "escalation.yml"


@pytest.fixture(scope="module")
def demo() -> Escalator:
    return load_escalator(DEMO)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("my son had an allergic reaction", "allergic_reaction"),
        ("ANAPHYLACTIC shock after your cake", "allergic_reaction"),
        ("anak sy kena alergi abis minum kopinya", "allergic_reaction"),
        ("alerginya kambuh kak", "allergic_reaction"),
        ("ma fille a fait une réaction allergique", "allergic_reaction"),
        ("elle est aux urgences", "allergic_reaction"),
        ("у него была аллергическая реакция", "allergic_reaction"),
        ("вызвали скорую", "allergic_reaction"),
        ("I'll file a chargeback", "chargeback"),
        ("Charge-back incoming", "chargeback"),
        ("sy mau lapor ke bank", "chargeback"),
        ("je vais contester le paiement", "chargeback"),
        ("je vais faire une rétrofacturation", "chargeback"),
        ("je vais faire une retrofacturation", "chargeback"),  # without the accent
        ("хочу оспорить платёж", "chargeback"),  # ё folds to е
        ("my lawyer will call you", "legal"),
        ("saya akan menggugat kalian", "legal"),
        ("sy bawa ke jalur hukum", "legal"),
        ("j'appelle mon avocat", "legal"),
        ("Я подам в суд", "legal"),
        ("напишу в Роспотребнадзор", "legal"),
    ],
)
def test_keywords_match_in_every_language_whatever_the_case_accents_and_endings(
    demo: Escalator, text: str, rule: str
) -> None:
    match = demo.keyword_match(text)
    assert match is not None and match.rule.id == rule, (text, match)


@pytest.mark.parametrize(
    "text",
    [
        "How can I track my order?",
        "are there allergens in the drip bags?",  # a question about ingredients, answered from the FAQ
        "kopinya ada alergen ga?",
        "аллергены?",
        "судя по всему заказ не пришёл",  # "суд" only as part of another word
        "искать заказ",
        "legally speaking, what is your return policy",
        "j'ai une question",
        "I want a refund",
    ],
)
def test_words_that_only_look_alike_do_not_match(demo: Escalator, text: str) -> None:
    assert demo.keyword_match(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "my son has a nut allergy, is the gift box safe?",
        "ALLERGIES to peanuts",
        "he is allergic to soy",
        "anak sy alergi kacang",
        "ma fille est allergique aux noix",
        "une Allergie grave",
        "у сына аллергия на орехи",
        "из-за аллергии",
    ],
)
def test_a_question_mentioning_an_allergy_is_left_to_the_faq_but_routes_a_handoff(demo: Escalator, text: str) -> None:
    assert demo.keyword_match(text, handoff_only=True) is None  # answered from the FAQ (coffee_allergens)
    match = demo.keyword_match(text)
    assert match is not None and match.rule.id == "allergy" and not match.rule.handoff
    asked = demo.decide(Situation(reason=HandoffReason.REQUESTED, text=text))
    assert (asked.reason, asked.priority, asked.team, asked.rule) == (
        HandoffReason.KEYWORD,
        1,
        "product-safety",
        "allergy",
    )


def test_handoff_false_needs_keywords(tmp_path: Path) -> None:
    with pytest.raises(EscalationConfigError):
        load_escalator(
            write(tmp_path, "version: 1\nrules:\n- {id: a, reason: requested_human, priority: 2, handoff: false}\n")
        )


def test_folding_and_terms() -> None:
    assert fold("Rétrofacturation ÉPIPEN ёлка") == "retrofacturation epipen елка"
    assert words("l'avocat, s'il-vous-plaît!") == ["l", "avocat", "s", "il", "vous", "plait"]
    assert Term.of("аллерг*", "ru").find(words("аллергены есть?"))
    assert Term.of("nut allergy", "en").find(words("a NUT allergies thing"))
    assert not Term.of("nut allergy", "en").find(words("allergy to nuts"))
    with pytest.raises(ValueError):
        Term.of("!!", "en")


def test_the_most_urgent_rule_sets_priority_team_and_reason(demo: Escalator) -> None:
    asked = demo.decide(Situation(reason=HandoffReason.REQUESTED, text="human please", topic="payments"))
    assert (asked.reason, asked.priority, asked.team, asked.rule) == (
        HandoffReason.REQUESTED,
        2,
        "billing",
        "explicit_request",
    )
    unrouted = demo.decide(Situation(reason=HandoffReason.REQUESTED, text="human please", topic="coffee"))
    assert unrouted.team is None  # teams.default
    keyword = demo.decide(Situation(reason=HandoffReason.REQUESTED, text="human now, my kid has an allergy"))
    assert (keyword.reason, keyword.priority, keyword.team, keyword.rule, keyword.matched) == (
        HandoffReason.KEYWORD,
        1,
        "product-safety",
        "allergy",
        "allergy",
    )
    angry = demo.decide(Situation(reason=HandoffReason.ANGRY, text="worst service ever"))
    assert (angry.priority, angry.team, angry.rule) == (1, None, "angry")


def test_vips_by_id_or_profile_get_a_higher_priority(demo: Escalator) -> None:
    base = Situation(reason=HandoffReason.OFFER_ACCEPTED, text="yes", channel="messenger", customer_id="42")
    assert demo.decide(base).priority == 3 and not demo.decide(base).vip
    by_id = Situation(reason=HandoffReason.OFFER_ACCEPTED, text="yes", channel="dev", customer_id="vip-demo")
    assert (demo.decide(by_id).priority, demo.decide(by_id).vip) == (2, True)
    by_profile = Situation(reason=HandoffReason.ANGRY, text="!!!", profile={"tier": "PLATINUM"})
    assert (demo.decide(by_profile).priority, demo.decide(by_profile).vip) == (1, True)  # never above 1
    assert not demo.decide(Situation(reason=HandoffReason.ANGRY, profile={"tier": "silver"})).vip


def test_routes_by_language_and_vip_team(tmp_path: Path) -> None:
    rules = EscalationRules.load(
        write(
            tmp_path,
            """
version: 1
teams: {by_topic: {payments: billing}, by_language: {ru: desk-ru}, default: general}
rules:
- {id: asked, reason: requested_human, priority: 2, route: [topic, language]}
- {id: failed, reason: repeated_failure, priority: 3}
vip: {customers: ["messenger:7"], priority_boost: 2, team: vip}
""",
        )
    )
    escalator = Escalator(rules, PRIORITY_BY_REASON)
    asked = HandoffReason.REQUESTED
    assert escalator.decide(Situation(reason=asked, language="ru", topic="payments")).team == "billing"
    assert escalator.decide(Situation(reason=asked, language="ru", topic="coffee")).team == "desk-ru"
    assert escalator.decide(Situation(reason=asked, language="en")).team == "general"
    vip = escalator.decide(Situation(reason=HandoffReason.REPEATED_FAILURE, channel="messenger", customer_id="7"))
    assert (vip.priority, vip.team) == (1, "vip")
    # a reason without a rule keeps the built-in priority
    inbox = escalator.decide(Situation(reason=HandoffReason.AGENT_INBOX))
    assert (inbox.priority, inbox.rule, inbox.team) == (3, None, "general")


def test_apply_escalation_uses_the_last_answered_faq_topic(demo: Escalator) -> None:
    ticket = build_ticket(TRACKER, HandoffReason.REQUESTED, "id")
    ticket.faq_attempts = [
        FaqAttempt(text="refund?", outcome="answer", candidates=[{"entry_id": "returns_refund_timing", "score": 2}]),
        FaqAttempt(text="hmm", outcome="none", candidates=[{"entry_id": "coffee_allergens", "score": 0.1}]),
    ]
    topics = {"returns_refund_timing": "returns", "coffee_allergens": "coffee"}
    decided = apply_escalation(ticket, demo, topics.get)
    assert (ticket.team, ticket.priority, ticket.rule, ticket.vip) == ("billing", 2, "explicit_request", False)
    assert decided.team == "billing"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("rules: [{id: a, priority: 1}]", "rules.0"),  # no trigger
        ("rules: [{id: a, reason: requested_human, keywords: {en: [x]}, priority: 1}]", "rules.0"),  # two
        ("rules: [{id: a, reason: requested_human, priority: 9}]", "rules.0.priority"),
        ("rules: [{id: a, keywords: {english: [x]}, priority: 1}]", "rules.0.keywords"),
        ("rules: [{id: a, keywords: {en: []}, priority: 1}]", "rules.0"),
        ("rules: [{id: a, keywords: {en: ['!!']}, priority: 1}]", "rules.0"),
        ("rules: [{id: a, reason: shouting, priority: 1}]", "rules.0.reason"),
        ("rules: [{id: a, reason: angry_complaint, priority: 1, team: Bad Team}]", "rules.0.team"),
        ("rules: [{id: a, reason: angry_complaint, priority: 1, team: x, route: [topic]}]", "rules.0"),
        ("rules: [{id: a, reason: angry_complaint, priority: 1, colour: red}]", "rules.0.colour"),
        ("rules: [{id: a, reason: angry_complaint, priority: 1}, {id: a, reason: requested_human, priority: 1}]", ""),
        ("vip: {customers: [nobody]}", "vip"),
        ("vip: {profile_field: tier}", "vip"),
        ("version: 2", "version"),
    ],
)
def test_a_bad_file_fails_with_a_message_naming_the_place(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(EscalationConfigError) as info:
        EscalationRules.load(write(tmp_path, text))
    assert where in str(info.value) and "rules.yml" in str(info.value)


def test_a_missing_or_broken_file_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(EscalationConfigError, match="No such file"):
        EscalationRules.load(tmp_path / "missing.yml")
    with pytest.raises(EscalationConfigError, match="mapping values"):
        EscalationRules.load(write(tmp_path, "rules:\n- description: a: b\n"))


def test_the_demo_file_is_valid() -> None:
    rules = EscalationRules.load(DEMO)
    assert {r.id for r in rules.rules} >= {"explicit_request", "angry", "repeated_failure", "allergy", "chargeback"}
    for rule in rules.rules:
        if rule.keywords:
            assert set(rule.keywords) == {"en", "id", "fr", "ru"}, rule.id
