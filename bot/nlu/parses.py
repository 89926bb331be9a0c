"""The trained NLU model's parse of every query of an evaluation file, in process (no server).

Run in Rasa's environment; the output feeds ``python -m bot.faq.crossval --nlu``, which replays the
whole first turn (handoff or FAQ search) out of fold without a running stack:

    .venv-rasa/bin/python -m bot.nlu.parses eval/dev.yml .cache/dev_parses.json [--model models/dmdesk.tar.gz]

Each row is ``{text, intent, confidence, ranking}``, and ``clause_intents`` for a message of more than
one sentence: the intent after the fallback classifier (``nlu_fallback`` under its thresholds) but
before the handoff reading (``bot/nlu/handoff.py``), which the replay applies with the settings it is
given, the classifier's ranking, best first, and each sentence's top intent. Escalation keywords are
not applied here (the dispatcher matches them, outside Rasa); the replay applies them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.handoff import CLAUSES, classifier_intent


async def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    """Parse ``texts`` with the model at ``model``."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    rows = []
    for text in texts:
        parsed = await agent.parse_message(text)
        ranked = parsed.get("intent_ranking", [])
        ranking = [{"name": r["name"], "confidence": round(float(r["confidence"]), 4)} for r in ranked]
        # the classifier's own intent (before the handoff reading, which bot.faq.crossval replays with its settings)
        intent = classifier_intent(parsed["intent"])
        scores = {r["name"]: r["confidence"] for r in ranking}
        confidence = scores.get(intent, round(float(parsed["intent"]["confidence"]), 4))
        row = {"text": text, "intent": intent, "confidence": confidence, "ranking": ranking}
        if parsed.get(CLAUSES):
            row[CLAUSES] = [{**c, "confidence": round(float(c["confidence"]), 4)} for c in parsed[CLAUSES]]
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    """CLI: write the parses of a query file as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.parses")
    parser.add_argument("queries", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, default=Path("models/dmdesk.tar.gz"))
    args = parser.parse_args(argv)
    queries = (yaml.safe_load(args.queries.read_text(encoding="utf-8")) or {}).get("queries", [])
    rows = asyncio.run(parse_all(args.model, [q["text"] for q in queries]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": str(args.model), "parses": rows}, ensure_ascii=False), encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
