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
    assert summary["n"] == 510  # 320 in per-language blocks, 81 later informal ru / en DMs, 109 third-round DMs
    for lang in ("en", "id", "fr", "ru"):
        assert by[lang]["faq"] >= 0.9, (lang, by[lang])
        assert by[lang]["handoff"] >= 0.9, (lang, by[lang])
        # 17-22 no-FAQ messages per language since the third round: 0.18 is 3 of 17 (French: 3 measured,
        # main's code answered 2 of the same 17); overall at most 1 in 12
        assert summary["none_answered_with_faq_rate"][lang] <= 0.18, (lang, summary["none_answered_with_faq_rate"])
    nones = [r for r in report["results"] if r["expect"] == "none"]
    answered = [r for r in nones if r["got"] not in ("none", "handoff") and not r["got"].startswith("clarify:")]
    assert len(answered) <= len(nones) / 12, [r["text"] for r in answered]
    assert summary["accuracy_by_kind"]["handoff"] >= 0.95
    assert not [r for r in report["results"] if r["got"].startswith("error:")]
