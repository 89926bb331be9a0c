"""Checks on training data, before anything is saved: plain Python mirroring ``rasa data validate``.

Rules taken from Rasa 3.6's validator (``rasa/validator.py``) and its YAML
reader, applied to an example as it is saved and to the whole set before a
training:

* ``Validator.verify_example_repetition_in_intents``: one text labelled with
  two intents is a conflict (compared on the plain text, annotations
  removed, as Rasa does; dmdesk also compares case- and space-folded);
* ``Validator.verify_intents``: an example's intent must be in the domain
  (error), and a domain intent without examples is reported (warning, as
  Rasa warns; ``choose_faq`` is only reached by button payloads);
* the entities parser (``entities_parser.py``): annotations must follow
  ``[text](entity)`` / ``[text](entity:value)`` / ``[text]{"entity": ...}``
  and name an entity of the domain;
* the YAML reader: an example is one non-empty line.

dmdesk adds: at most ``MAX_EXAMPLE_CHARS`` characters, no duplicate inside
an intent, and at least ``min_examples`` examples per intent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import InvalidInputError
from bot.trainingdata.models import MAX_EXAMPLE_CHARS, Issue, IssueCode, Severity, TrainingExample
from bot.trainingdata.nlufile import parse_annotations


def fold(plain: str) -> str:
    """Case- and white-space-folded text: two examples equal under it teach the same thing."""
    return " ".join(plain.casefold().split())


@dataclass(frozen=True)
class Domain:
    """What the Rasa domain declares, and the editor's limits."""

    intents: tuple[str, ...]
    entities: tuple[str, ...]
    min_examples: int = 5
    max_chars: int = MAX_EXAMPLE_CHARS


def clean_text(text: str) -> str:
    """Surrounding white space removed; inner runs of spaces kept (Rasa keeps them)."""
    return text.strip()


def check_text(text: str, intent: str, domain: Domain) -> list[Issue]:
    """Rules on one example on its own (empty, length, one line, intent, annotations)."""
    issues: list[Issue] = []
    if intent not in domain.intents:
        issues.append(
            Issue(code=IssueCode.UNKNOWN_INTENT, intent=intent, message=f"intent {intent!r} is not in the domain")
        )
    if not text:
        issues.append(Issue(code=IssueCode.EMPTY, intent=intent, message="the example is empty"))
        return issues
    if "\n" in text or "\r" in text:
        issues.append(Issue(code=IssueCode.MULTILINE, intent=intent, message="an example is a single line"))
    if len(text) > domain.max_chars:
        issues.append(
            Issue(code=IssueCode.TOO_LONG, intent=intent, message=f"longer than {domain.max_chars} characters")
        )
    try:
        plain, annotations = parse_annotations(text)
    except InvalidInputError as exc:
        return [*issues, Issue(code=IssueCode.ENTITY_SYNTAX, intent=intent, message=str(exc))]
    if not plain.strip():
        issues.append(Issue(code=IssueCode.EMPTY, intent=intent, message="the example has no text"))
    for ann in annotations:
        if ann.entity not in domain.entities:
            issues.append(
                Issue(
                    code=IssueCode.UNKNOWN_ENTITY,
                    intent=intent,
                    message=f"entity {ann.entity!r} (on {ann.text!r}) is not in the domain",
                )
            )
    return issues


def plain_text(text: str) -> str:
    """The text Rasa trains on (annotations replaced by their text); the text itself when unparsable."""
    try:
        return parse_annotations(text)[0]
    except InvalidInputError:
        return text


def check_against(text: str, intent: str, example_id: str | None, others: Iterable[TrainingExample]) -> list[Issue]:
    """Conflicts of one example with the rest of the data (``others`` may include its old self)."""
    key = fold(plain_text(text))
    issues: list[Issue] = []
    for other in others:
        if other.id == example_id or fold(plain_text(other.text)) != key:
            continue
        if other.intent == intent:
            issues.append(
                Issue(
                    code=IssueCode.DUPLICATE,
                    intent=intent,
                    example_id=other.id,
                    message=f"the intent already has this example: {other.text!r}",
                )
            )
        else:
            issues.append(
                Issue(
                    code=IssueCode.CONFLICT,
                    intent=intent,
                    example_id=other.id,
                    other_intent=other.intent,
                    message=f"{other.text!r} is an example of {other.intent!r}: one text, one intent",
                )
            )
    return issues


def check_set(examples: Iterable[TrainingExample], domain: Domain) -> list[Issue]:
    """Every rule over the whole set: what a training would be refused for (errors) or warned about."""
    items = list(examples)
    issues: list[Issue] = []
    by_key: dict[str, list[TrainingExample]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for ex in items:
        for issue in check_text(ex.text, ex.intent, domain):
            issues.append(issue.model_copy(update={"example_id": ex.id}))
        by_key[fold(plain_text(ex.text))].append(ex)
        counts[ex.intent] += 1
    for group in by_key.values():
        intents = sorted({ex.intent for ex in group})
        if len(intents) > 1:
            issues.append(
                Issue(
                    code=IssueCode.CONFLICT,
                    intent=intents[0],
                    other_intent=intents[1],
                    example_id=group[0].id,
                    message=f"{group[0].text!r} is labelled with {', '.join(intents)}",
                )
            )
    for intent in domain.intents:
        if counts.get(intent, 0) == 0:
            issues.append(
                Issue(
                    code=IssueCode.NO_EXAMPLES,
                    severity=Severity.WARNING,
                    intent=intent,
                    message=f"intent {intent!r} is in the domain but has no examples",
                )
            )
        elif counts[intent] < domain.min_examples:
            issues.append(
                Issue(
                    code=IssueCode.TOO_FEW,
                    intent=intent,
                    message=f"{intent!r} has {counts[intent]} examples; at least {domain.min_examples} are needed",
                )
            )
    return issues
