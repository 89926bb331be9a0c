"""Threshold calibration on a dev query file (never on data that is reported).

Collects, once per query, the NLU parse from a running Rasa server and the
ranked FAQ candidates from the knowledge base, then replays the first-turn
dialogue logic for every threshold combination on a grid and reports the
best by the goal-weighted objective.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from typing import Any

import httpx

from bot.evaluation import kind_of
from bot.faq.crossval import outcome, route
from bot.faq.index import Candidate
from bot.faq.kb import KnowledgeBase, Thresholds
from bot.faq.verifier import Verifier
from bot.handoff.rules import Escalator
from bot.nlu.handoff import CLAUSES, HandoffPreference, classifier_intent


def collect(
    queries: list[dict[str, str]], rasa_url: str, kb: KnowledgeBase, escalator: Escalator
) -> list[dict[str, Any]]:
    """NLU parse, escalation keyword match and top candidates per query."""
    rows = []
    with httpx.Client(base_url=rasa_url, timeout=60) as http:
        for q in queries:
            parse = http.post("/model/parse", json={"text": q["text"]}).json()
            cands = kb.search(q["text"], k=5)
            rows.append(
                {
                    **q,
                    "parse": {  # the classifier's intent: the replay applies the handoff reading
                        "intent": classifier_intent(parse["intent"]),
                        "confidence": parse["intent"]["confidence"],
                        "ranking": parse.get("intent_ranking"),
                        CLAUSES: parse.get(CLAUSES),
                    },
                    "keyword": escalator.keyword_match(q["text"], handoff_only=True) is not None,
                    "candidates": [(c.entry_id, c.score) for c in cands],
                    "components": [c.components for c in cands],
                    "evidence": [c.evidence for c in cands],
                }
            )
    return rows


def first_turn(row: dict[str, Any], t: Thresholds, verifier: Verifier, preference: HandoffPreference) -> str:
    """What the bot answers to ``row`` as a first message, under thresholds ``t``.

    The path is the cross-validation tool's (:func:`bot.faq.crossval.route`): a handoff intent, one read as a
    request for a person (``preference``) or an escalation keyword hands off, whatever the classifier's
    confidence; an out-of-scope or spam parse searches strictly or not at all.
    """
    path = route(row["parse"], row["keyword"], preference)
    if path not in ("faq", "strict"):
        return path
    cands = [
        Candidate(i, s, "", comp, ev)
        for (i, s), comp, ev in zip(row["candidates"], row["components"], row["evidence"], strict=True)
    ]
    return outcome(cands, verifier, t, strict=path == "strict")


def score(
    rows: list[dict[str, Any]], t: Thresholds, verifier: Verifier, preference: HandoffPreference
) -> dict[str, float]:
    """Goal metrics: worst-language FAQ accuracy, handoff rate, none-answered rate."""
    per: dict[str, dict[str, list[bool]]] = {}
    for row in rows:
        got = first_turn(row, t, verifier, preference)
        kind = kind_of(row["expect"])
        bucket = per.setdefault(row["lang"], {"faq": [], "handoff": [], "none_wrong": []})
        if kind == "faq":
            bucket["faq"].append(got == row["expect"])
        elif kind == "handoff":
            bucket["handoff"].append(got == "handoff")
        else:
            bucket["none_wrong"].append(got not in ("none", "handoff") and not got.startswith("clarify:"))

    def mean(v: list[bool]) -> float:
        return sum(v) / len(v) if v else 0.0

    faq = min(mean(b["faq"]) for b in per.values())
    handoff = min(mean(b["handoff"]) for b in per.values())
    none_wrong = max(mean(b["none_wrong"]) for b in per.values())
    objective = faq + 0.5 * handoff - 2.0 * max(0.0, none_wrong - 0.05)
    return {
        "faq_min": faq,
        "handoff_min": handoff,
        "none_wrong_max": none_wrong,
        "objective": objective,
        "faq_mean": sum(mean(b["faq"]) for b in per.values()) / len(per),
    }


def grid(
    rows: list[dict[str, Any]], base: Thresholds, verifier: Verifier, preference: HandoffPreference
) -> list[tuple[dict[str, float], Thresholds]]:
    """Every combination on the grid, best first."""
    out = []
    steps = [x / 40 for x in range(2, 38)]
    for answer, clarify, window, strict in itertools.product(
        steps, steps, [0.25, 0.5, 0.75], [0.5, 0.6, 0.7, 0.8, 0.9]
    ):
        if clarify > answer:
            continue
        t = replace(base, answer=answer, clarify=clarify, window=window, strict=strict)
        out.append((score(rows, t, verifier, preference), t))
    out.sort(key=lambda item: -item[0]["objective"])
    return out


def report(best: list[tuple[dict[str, float], Thresholds]], n: int = 5) -> str:
    """The top settings as JSON lines."""
    return "\n".join(json.dumps({**{k: round(v, 4) for k, v in s.items()}, **t.__dict__}) for s, t in best[:n])


def main(argv: list[str] | None = None) -> int:
    """CLI: calibrate thresholds on a dev query file against a running Rasa server.

    ``python -m bot.calibration eval/dev.yml [--rasa-url http://127.0.0.1:5005]``
    (with ``make run`` running). Prints the best settings, best first.
    """
    import argparse
    import uuid
    from pathlib import Path

    from redis import Redis

    from bot.evaluation import load_queries
    from bot.handoff.rules import load_escalator
    from bot.runtime import build_knowledge_base, thresholds
    from bot.settings import CoreSettings
    from bot.stack import delete_prefix

    parser = argparse.ArgumentParser(prog="python -m bot.calibration")
    parser.add_argument("file")
    parser.add_argument("--rasa-url", default="http://127.0.0.1:5005")
    parser.add_argument("--config", default="config.yml", help="the Rasa config whose handoff reading to replay")
    parser.add_argument("--escalation", default="config/escalation.yml")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    settings = CoreSettings(redis_prefix=f"dmdeskcalib{uuid.uuid4().hex[:8]}")
    redis = Redis.from_url(settings.redis_url)
    try:
        kb = build_knowledge_base(settings, redis)
        rows = collect(load_queries(Path(args.file)), args.rasa_url, kb, load_escalator(Path(args.escalation)))
    finally:
        delete_prefix(settings.redis_url, settings.redis_prefix)
    preference = HandoffPreference.from_pipeline(Path(args.config))
    print("current:", json.dumps(score(rows, thresholds(settings), kb.verifier, preference)))
    print(report(grid(rows, thresholds(settings), kb.verifier, preference), args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
