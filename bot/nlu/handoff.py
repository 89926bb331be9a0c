"""Which parses are read as asking for a person, beyond the classifier's top intent.

A customer who wants a person must be handed off in the same turn, and a
person answering an FAQ question by mistake costs far less than a bot that
keeps answering someone who asked for a person. So a message is read as a
handoff intent when:

* the classifier doubts everything (NLU fallback) and a handoff intent still
  ranks first: "j'aimerais échanger directement avec le responsable de la
  boutique";
* a request for a person ranks second, close behind the top intent
  (:attr:`HandoffPreference.margin`): "pengen dilayani sama staf aja, bisa?"
  (``faq`` 0.56, ``request_human`` 0.40);
* the top intent is "are you a bot?" and a request for a person has a real
  share beside it (a wider margin, :attr:`HandoffPreference.margins`): "bot
  bukan sih ini? jawabannya template bgt. aku mau CS asli" (0.69 / 0.26). The
  bot's reply to a bare "are you a bot?" offers a person anyway;
* one sentence of a longer message, classified on its own, is a request for a
  person (:attr:`HandoffPreference.clause_confidence`): a DM that tells the
  whole story of a lost parcel and ends "Can someone from your team look into
  it?" reads as the FAQ question about lost parcels (``faq`` 0.91,
  ``request_human`` 0.06), its last sentence alone as a request for a person.
  The classifier gives each sentence's top intent (:func:`clause_spans`,
  ``bot.nlu.clauses``); only requests for a person are read this way:
  single sentences read as angry complaints were too often calm context ("I'm
  in Surabaya.").

Declining a person ("non merci, pas besoin d'un conseiller") ranked a
request for a person close behind ``deny`` until ``deny`` had examples that
name the person they decline (data/nlu/deny.yml, in the four languages); a
refusal is still read, with a narrower margin than other intents, since "gak
usah auto reply deh, panggilin admin nya aja" (no bot, get me the admin) is
``deny`` 0.55, ``request_human`` 0.41, while "nope, don't need a person, the
bot is fine" is ``deny`` 0.64, ``request_human`` 0.34. A negative margin turns
the reading off for an intent.

Plain logic (no Rasa import): the NLU component
(``bot.nlu.components.HandoffPreference``) applies it to each parse; the
cross-validation tool (``bot.faq.crossval``) replays it on stored parses.
The margins were chosen on eval/dev.yml (README, "Seventh round", "Eighth round").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

HANDOFF_INTENTS = frozenset({"request_human", "complaint_angry"})
REQUEST_HUMAN = "request_human"
FALLBACK_INTENT = "nlu_fallback"
#: the parse's intent key that keeps the classifier's intent when a message is read otherwise
READ_OVER = "read_over"
#: the intent key with the sentence a message was read from, when one sentence asked for a person
READ_FROM = "read_from"
#: margins per top intent: wider behind "are you a bot?", narrower behind a refusal
DEFAULT_MARGINS = {"bot_challenge": 0.5, "deny": 0.2}
#: the pipeline entry (config.yml) whose settings these are
COMPONENT = "bot.nlu.components.HandoffPreference"
#: the parse's key for the top intent of each sentence of a longer message: ``[{text, name, confidence}]``
CLAUSES = "clause_intents"
#: sentences of one message classified on their own, at most (the first and last halves of a longer message)
MAX_CLAUSES = 8
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+|\s*\n\s*")


def classifier_intent(intent: Mapping[str, Any]) -> str:
    """The intent the classifier gave a parse's ``intent`` dict, before a handoff reading (:data:`READ_OVER`)."""
    return str(intent.get(READ_OVER) or intent.get("name"))


def clause_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text`` (stripped), if it has more than one; else ``[]``.

    A sentence ends at ".", "!", "?" or "…" followed by white space, or at a line break. A message of more
    than :data:`MAX_CLAUSES` sentences gives its first and last ones (a request for a person opens or
    closes a long DM far more often than it sits in the middle).
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for end in [m.start() for m in _SENTENCE_END.finditer(text)] + [len(text)]:
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            lead = start + len(piece) - len(piece.lstrip())
            spans.append((lead, lead + len(stripped)))
        match = _SENTENCE_END.match(text, end)
        start = match.end() if match else end
    if len(spans) < 2:
        return []
    if len(spans) > MAX_CLAUSES:
        half = MAX_CLAUSES // 2
        spans = spans[:half] + spans[-half:]
    return spans


class Reading(NamedTuple):
    """A parse read as a handoff intent (:meth:`HandoffPreference.read`)."""

    intent: str
    #: the sentence (``{text, name, confidence}`` of :data:`CLAUSES`) that asked for a person, if one did
    sentence: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class HandoffPreference:
    """How close behind the top intent a request for a person must rank to be read as one.

    ``margin`` is in classifier confidence (top minus ``request_human``);
    ``margins`` sets it per top intent (e.g. ``bot_challenge``). A negative
    margin turns the rule off. ``clause_confidence`` is how sure the classifier must be that one
    sentence of a longer message asks for a person.
    """

    margin: float = 0.3
    margins: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MARGINS))
    #: a sentence classified on its own as a request for a person at least this sure hands off (negative: off)
    clause_confidence: float = 0.75

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HandoffPreference:
        """From a component's settings (``margin``, ``margins``, ``clause_confidence``); raises ValueError on a
        bad value."""
        margin = float(config.get("margin", cls.margin))
        given = config.get("margins")
        margins = {str(k): float(v) for k, v in dict(DEFAULT_MARGINS if given is None else given).items()}
        if any(m > 1.0 for m in (margin, *margins.values())):
            raise ValueError("a handoff margin is a difference of confidences: at most 1")
        clause = float(config.get("clause_confidence", cls.clause_confidence))
        if clause > 1.0:
            raise ValueError("clause_confidence is a confidence: at most 1")
        return cls(margin, margins, clause)

    @classmethod
    def from_pipeline(cls, path: Path) -> HandoffPreference:
        """The settings of the pipeline's :data:`COMPONENT` in a Rasa config file (defaults if it has none)."""
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for step in config.get("pipeline") or []:
            if isinstance(step, dict) and step.get("name") == COMPONENT:
                return cls.from_config(step)
        return cls()

    def read(
        self,
        intent: str | None,
        ranking: Sequence[Mapping[str, Any]] | None,
        clauses: Sequence[Mapping[str, Any]] | None = None,
    ) -> Reading | None:
        """The handoff intent a parse is read as, with the sentence it was read from; None: the classifier's
        intent stands.

        Args:
            intent: The parse's intent (after the fallback classifier).
            ranking: The parse's intent ranking, best first (may start with ``nlu_fallback``).
            clauses: The top intent of each sentence of a longer message (:data:`CLAUSES`).
        """
        whole = self._whole(intent, ranking)
        if whole is not None:
            return Reading(whole)
        if self.clause_confidence < 0:
            return None
        for found in clauses or []:
            if found.get("name") == REQUEST_HUMAN and float(found.get("confidence") or 0.0) >= self.clause_confidence:
                return Reading(REQUEST_HUMAN, found)
        return None

    def _whole(self, intent: str | None, ranking: Sequence[Mapping[str, Any]] | None) -> str | None:
        """The handoff intent the whole message's parse is read as, or None."""
        if intent in HANDOFF_INTENTS:
            return intent
        ranked = [r for r in ranking or [] if r.get("name") != FALLBACK_INTENT]
        if not ranked:
            return None
        top = ranked[0]
        if top.get("name") in HANDOFF_INTENTS:  # first, but below the fallback threshold
            return str(top["name"])
        if len(ranked) < 2 or ranked[1].get("name") != REQUEST_HUMAN:
            return None
        margin = self.margins.get(str(top.get("name")), self.margin)
        gap = float(top.get("confidence") or 0.0) - float(ranked[1].get("confidence") or 0.0)
        return REQUEST_HUMAN if margin >= 0 and gap <= margin else None
