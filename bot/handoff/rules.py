"""Escalation rules: which handoffs get which priority and team (``DMDESK_ESCALATION_FILE``).

The file (``config/escalation.yml`` for the demo brand; README, "Escalation
rules") lists rules, each triggered by a handoff reason the bot decided
(``requested_human``, ``angry_complaint``, ``repeated_failure``, ...) or by
keywords in the customer's message, with a priority and a team; a ``vip``
section raises the priority of VIP customers. Keyword rules escalate by
themselves: the dispatcher checks every message the bot is about to handle
(``keyword_match``) and hands it off in that turn; a keyword rule with
``handoff: false`` only sets priority and team when a handoff happens anyway
(a question about allergens is answered from the FAQ; a request for a person
that mentions an allergy goes to the product-safety team first).

Plain logic, no Rasa import; validated with pydantic when a process starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from bot.errors import DmdeskError
from bot.handoff.keywords import Term, TextWords
from bot.handoff.models import PRIORITY_BY_REASON, HandoffReason

TEAM_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
TeamName = Annotated[str, StringConstraints(pattern=TEAM_PATTERN)]
Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class EscalationConfigError(DmdeskError):
    """The escalation rules file cannot be read or is not valid."""


class Route(str, Enum):
    """Where a rule's team comes from when it names none."""

    TOPIC = "topic"  # the topic of the FAQ entry the customer asked about last (teams.by_topic)
    LANGUAGE = "language"  # the conversation's language (teams.by_language)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Teams(_Strict):
    """Team routing tables."""

    by_topic: dict[str, TeamName] = Field(default_factory=dict, description="FAQ topic -> team")
    by_language: dict[Lang, TeamName] = Field(default_factory=dict, description="language -> team")
    default: TeamName | None = Field(default=None, description="team when a rule's routes give none")


class Rule(_Strict):
    """One rule: a trigger (a handoff reason, or keywords) -> priority and team."""

    id: RuleId
    description: str = ""
    reason: HandoffReason | None = Field(default=None, description="trigger: the bot hands off for this reason")
    keywords: dict[Lang, list[str]] | None = Field(default=None, description="trigger: language -> terms")
    priority: int = Field(ge=1, le=5, description="1 is most urgent")
    team: TeamName | None = Field(default=None, description="a fixed team")
    route: list[Route] = Field(default_factory=list, description="else the first of these that gives a team")
    handoff: bool = Field(
        default=True,
        description=(
            "keyword rules: hand off in the same turn (true), or only set priority and team when the "
            "conversation is handed off for another reason or a ticket is already waiting (false)"
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if (self.reason is None) == (self.keywords is None):
            raise ValueError("give exactly one trigger: reason or keywords")
        if self.reason is HandoffReason.KEYWORD:
            raise ValueError("'keyword' is the reason of keyword rules; use keywords:")
        if not self.handoff and self.keywords is None:
            raise ValueError("handoff: false applies to keyword rules only")
        if self.team is not None and self.route:
            raise ValueError("give team or route, not both")
        for lang, terms in (self.keywords or {}).items():
            if not terms:
                raise ValueError(f"keywords.{lang} is empty")
            for term in terms:
                Term.of(term, lang)  # raises ValueError on a term without letters
        return self

    def terms(self) -> list[Term]:
        """The rule's keywords, compiled."""
        return [Term.of(t, lang) for lang, terms in (self.keywords or {}).items() for t in terms]


class Vip(_Strict):
    """VIP customers: by id, and/or by a field of their profile."""

    customers: list[str] = Field(default_factory=list, description='"<channel>:<customer id>", e.g. "messenger:123"')
    profile_field: str | None = Field(default=None, description="a profile field (e.g. tier) ...")
    profile_values: list[str | int | bool] = Field(default_factory=list, description="... with one of these values")
    priority_boost: int = Field(default=1, ge=0, le=4, description="priority steps up (never above 1)")
    team: TeamName | None = Field(default=None, description="VIP tickets go to this team, if set")

    @model_validator(mode="after")
    def _check(self) -> Vip:
        if bool(self.profile_field) != bool(self.profile_values):
            raise ValueError("profile_field and profile_values go together")
        for customer in self.customers:
            if ":" not in customer.strip(":"):
                raise ValueError(f"VIP customer {customer!r} is not <channel>:<id>")
        return self

    def matches(self, channel: str, customer_id: str, profile: Mapping[str, Any]) -> bool:
        """True if the customer is a VIP."""
        if f"{channel}:{customer_id}" in self.customers:
            return True
        if self.profile_field and self.profile_field in profile:
            value = profile[self.profile_field]
            return value in self.profile_values or str(value).casefold() in {
                str(v).casefold() for v in self.profile_values
            }
        return False


class EscalationRules(_Strict):
    """The whole file."""

    version: Literal[1] = 1
    teams: Teams = Field(default_factory=Teams)
    rules: list[Rule] = Field(default_factory=list)
    vip: Vip = Field(default_factory=Vip)

    @model_validator(mode="after")
    def _check(self) -> EscalationRules:
        ids = [r.id for r in self.rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate rule ids: {sorted(dup)}")
        reasons = [r.reason for r in self.rules if r.reason is not None]
        if len(reasons) != len(set(reasons)):
            raise ValueError("at most one rule per reason")
        return self

    @classmethod
    def load(cls, path: Path) -> EscalationRules:
        """Read and validate a rules file.

        Raises:
            EscalationConfigError: The file is missing, not YAML, or not valid (the message names
                the place: ``rules.2.keywords.fr``).
        """
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise EscalationConfigError(f"escalation rules {path}: {exc}", path=str(path)) from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
            raise EscalationConfigError(f"escalation rules {path} are not valid: {problems}", path=str(path)) from exc


@dataclass(frozen=True)
class KeywordMatch:
    """A keyword rule whose term occurs in a message."""

    rule: Rule
    term: str


@dataclass(frozen=True)
class Escalation:
    """What the rules decided for one handoff."""

    reason: HandoffReason
    priority: int
    team: str | None
    rule: str | None
    matched: str | None
    vip: bool


@dataclass(frozen=True)
class Situation:
    """What the rules look at."""

    reason: HandoffReason
    text: str = ""
    language: str = ""
    channel: str = ""
    customer_id: str = ""
    profile: Mapping[str, Any] | None = None
    topic: str | None = None


class Escalator:
    """Compiled rules: keyword matching and priority/team decisions."""

    def __init__(self, rules: EscalationRules, default_priority: Mapping[HandoffReason, int]) -> None:
        self.rules = rules
        self._default_priority = dict(default_priority)
        self._terms = [(rule, rule.terms()) for rule in rules.rules if rule.keywords]

    def keyword_match(self, text: str, handoff_only: bool = False) -> KeywordMatch | None:
        """The most urgent keyword rule whose term occurs in ``text`` (file order breaks ties).

        Args:
            text: The customer's message.
            handoff_only: Only rules that hand off in the same turn (``handoff: true``).
        """
        found = TextWords.of(text)
        matches: list[KeywordMatch] = []
        for rule, terms in self._terms:
            if handoff_only and not rule.handoff:
                continue
            term = next((t for t in terms if t.find(found)), None)
            if term is not None:
                matches.append(KeywordMatch(rule, term.text))
        return min(matches, key=lambda m: m.rule.priority) if matches else None

    def _team(self, rule: Rule | None, situation: Situation) -> str | None:
        teams = self.rules.teams
        if rule is not None and rule.team:
            return rule.team
        for route in rule.route if rule is not None else []:
            if route is Route.TOPIC and situation.topic and situation.topic in teams.by_topic:
                return teams.by_topic[situation.topic]
            if route is Route.LANGUAGE and situation.language in teams.by_language:
                return teams.by_language[situation.language]
        return teams.default

    def decide(self, situation: Situation) -> Escalation:
        """Priority, team and reason of a handoff.

        The candidate rules are the rule of the handoff's reason and every keyword rule whose term
        occurs in the message; the most urgent one (lowest priority number, then file order) sets
        the priority and the team, and a keyword rule also the reason (``keyword``). A VIP's
        priority is raised by ``vip.priority_boost`` (not above 1), and ``vip.team`` is used if set.
        """
        candidates: list[tuple[Rule, str | None]] = []
        keyword = self.keyword_match(situation.text) if situation.text else None
        by_reason = next((r for r in self.rules.rules if r.reason is situation.reason), None)
        if by_reason is not None:
            candidates.append((by_reason, None))
        if keyword is not None:
            candidates.append((keyword.rule, keyword.term))
        order = {r.id: i for i, r in enumerate(self.rules.rules)}
        winner = min(candidates, key=lambda c: (c[0].priority, order[c[0].id])) if candidates else None
        rule, matched = winner if winner is not None else (None, None)
        priority = rule.priority if rule is not None else self._default_priority.get(situation.reason, 3)
        reason = HandoffReason.KEYWORD if rule is not None and rule.keywords else situation.reason
        vip = self.rules.vip.matches(situation.channel, situation.customer_id, situation.profile or {})
        team = self._team(rule, situation)
        if vip:
            priority = max(1, priority - self.rules.vip.priority_boost)
            team = self.rules.vip.team or team
        return Escalation(
            reason=reason,
            priority=priority,
            team=team,
            rule=rule.id if rule is not None else None,
            matched=matched,
            vip=vip,
        )


def rule_summary(rules: EscalationRules) -> Sequence[str]:
    """One line per rule, for logs at start-up."""
    return [
        f"{r.id}: {'reason ' + r.reason.value if r.reason else 'keywords'} -> priority {r.priority}, "
        f"team {r.team or ('/'.join(x.value for x in r.route) or '-')}"
        for r in rules.rules
    ]


def load_escalator(path: Path) -> Escalator:
    """Load, validate and compile a rules file (default priorities: ``PRIORITY_BY_REASON``).

    Raises:
        EscalationConfigError: The file is missing or not valid.
    """
    return Escalator(EscalationRules.load(path), PRIORITY_BY_REASON)
