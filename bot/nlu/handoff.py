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
  bot's reply to a bare "are you a bot?" offers a person anyway.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HANDOFF_INTENTS = frozenset({"request_human", "complaint_angry"})
REQUEST_HUMAN = "request_human"
FALLBACK_INTENT = "nlu_fallback"
#: the parse's intent key that keeps the classifier's intent when a message is read otherwise
READ_OVER = "read_over"
#: margins per top intent: wider behind "are you a bot?", narrower behind a refusal
DEFAULT_MARGINS = {"bot_challenge": 0.5, "deny": 0.2}
#: the pipeline entry (config.yml) whose settings these are
COMPONENT = "bot.nlu.components.HandoffPreference"


@dataclass(frozen=True)
class HandoffPreference:
    """How close behind the top intent a request for a person must rank to be read as one.

    ``margin`` is in classifier confidence (top minus ``request_human``);
    ``margins`` sets it per top intent (e.g. ``bot_challenge``). A negative
    margin turns the rule off.
    """

    margin: float = 0.3
    margins: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MARGINS))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HandoffPreference:
        """From a component's settings (``margin``, ``margins``); raises ValueError on a bad value."""
        margin = float(config.get("margin", cls.margin))
        given = config.get("margins")
        margins = {str(k): float(v) for k, v in dict(DEFAULT_MARGINS if given is None else given).items()}
        if any(m > 1.0 for m in (margin, *margins.values())):
            raise ValueError("a handoff margin is a difference of confidences: at most 1")
        return cls(margin, margins)

    @classmethod
    def from_pipeline(cls, path: Path) -> HandoffPreference:
        """The settings of the pipeline's :data:`COMPONENT` in a Rasa config file (defaults if it has none)."""
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for step in config.get("pipeline") or []:
            if isinstance(step, dict) and step.get("name") == COMPONENT:
                return cls.from_config(step)
        return cls()

    def reading(self, intent: str | None, ranking: Sequence[Mapping[str, Any]] | None) -> str | None:
        """The handoff intent a parse is read as, or None (the classifier's intent stands).

        Args:
            intent: The parse's intent (after the fallback classifier).
            ranking: The parse's intent ranking, best first (may start with ``nlu_fallback``).
        """
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
