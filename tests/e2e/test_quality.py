"""Quality floor: the dev query set through the real stack must not regress.

Floors sit a few points under the figures measured when thresholds were
calibrated (README, "Evaluation"); a drop below them is a real regression.
"""

from __future__ import annotations

import pytest

from bot.evaluation import evaluate, load_queries
from bot.stack import ROOT, StackConfig

pytestmark = pytest.mark.stack


def test_dev_set_quality_does_not_regress(stack: StackConfig) -> None:
    report = evaluate(load_queries(ROOT / "eval" / "dev.yml"), stack.bot_url, stack.api_token)
    summary = report["summary"]
    by = summary["accuracy_by_language_and_kind"]
    # 320 in per-language blocks, 81 later informal ru / en DMs, 109 third-round DMs, 199 fourth-round DMs
    # (5 older ones dropped: holdout3 repeats them word for word), 227 fifth-round DMs, 246 sixth-round DMs,
    # 239 seventh-round DMs, 134 eighth-round French DMs, 184 ninth-round DMs, 186 tenth-round DMs (requests for a
    # person against questions for contact details)
    assert summary["n"] == 1920
    for lang in ("en", "id", "fr", "ru"):
        # measured (2026-12-07, 1734 queries): en .94, id .97, fr .96, ru .95 (296 Russian questions, 74 of them
        # the fourth round's formal and misspelt ones and 107 the fifth's long and colloquial ones; 379 English
        # ones; 292 Indonesian, 103 of them the seventh round's; 193 French, 104 of them the eighth round's);
        # handoffs 1 / .99 / .99 / 1
        assert by[lang]["faq"] >= 0.87, (lang, by[lang])
        assert by[lang]["handoff"] >= 0.9, (lang, by[lang])
        # 24-111 no-FAQ messages per language, many of them shop questions next to an entry: measured en 1 of
        # 84, fr 4 of 51, id 2 of 111, ru 0 of 24; overall at most 1 in 10 (measured 7 of 270)
        assert summary["none_answered_with_faq_rate"][lang] <= 0.18, (lang, summary["none_answered_with_faq_rate"])
    nones = [r for r in report["results"] if r["expect"] == "none"]
    answered = [r for r in nones if r["got"] not in ("none", "handoff") and not r["got"].startswith("clarify:")]
    assert len(answered) <= len(nones) / 10, [r["text"] for r in answered]
    assert summary["accuracy_by_kind"]["handoff"] >= 0.95
    # every FAQ answer is one the verifier was sure of; the not-covered list stops some no-FAQ messages
    assert {r["reason"] for r in report["results"] if r["got"] == r["expect"] != "none"} - {None} <= {"confident"}
    assert summary["reasons_by_kind"]["none"].get("not_covered", 0) >= 1, summary["reasons_by_kind"]
    assert not [r for r in report["results"] if r["got"].startswith("error:")]
