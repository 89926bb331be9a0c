"""Sentence-by-sentence classification of longer messages (bot/nlu/clauses.py, bot/nlu/handoff.py).

Run inside Rasa's environment by tests/unit/test_clause_reading.py:

    .venv-rasa/bin/python -m tests.rasa_env.check_clauses MODEL QUERIES

Prints ``ok`` if, with the trained model:

* every query of more than one sentence gets ``clause_intents``, one per sentence (the texts of
  ``clause_spans``), and a one-sentence query none;
* each sentence's intent and confidence are those of the classifier on that sentence sent alone (the
  count features come from the message's own tokens within the sentence, the dense ones from the
  sentence's own vector; up to float rounding, as a message's sentences are encoded in one batch);
* a message whose whole parse is an FAQ question but whose last sentence asks for a person is read
  as ``request_human``, keeping the classifier's intent (``read_over``) and the sentence (``read_from``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.handoff import CLAUSES, READ_FROM, READ_OVER, clause_spans

STORY = (
    "My order KPK-10623 was marked as delivered on Monday but the parcel never arrived. "
    "The courier says he left it at the gate, but my house has no gate."
)
REQUEST = "Could someone from your team look into it please?"


def _classifier_top(parse: dict[str, Any]) -> tuple[str, float]:
    ranked = [r for r in parse["intent_ranking"] if r["name"] != "nlu_fallback"]
    return ranked[0]["name"], ranked[0]["confidence"]


async def check(model: Path, queries: Path) -> None:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    texts = [q["text"] for q in yaml.safe_load(queries.read_text(encoding="utf-8"))["queries"]]
    longer = [t for t in texts if clause_spans(t)][:80]
    single = [t for t in texts if not clause_spans(t)][:5]
    assert len(longer) == 80 and single, (len(longer), len(single))
    for text in single:
        assert CLAUSES not in await agent.parse_message(text), text
    for text in longer:
        parse = await agent.parse_message(text)
        found = parse.get(CLAUSES)
        assert found and [c["text"] for c in found] == [text[a:b] for a, b in clause_spans(text)], (text, found)
        for clause in found:
            alone = _classifier_top(await agent.parse_message(clause["text"]))
            # equal up to float32 rounding: a message's sentences are encoded in one batch (bot/nlu/vectors.py)
            assert clause["name"] == alone[0] and abs(clause["confidence"] - alone[1]) < 1e-6, (text, clause, alone)
    parse = await agent.parse_message(STORY)
    assert parse["intent"]["name"] == "faq", parse["intent"]
    parse = await agent.parse_message(f"{STORY} {REQUEST}")
    intent = parse["intent"]
    assert intent["name"] == "request_human" and intent[READ_OVER] == "faq", intent
    assert intent[READ_FROM] == REQUEST and intent["confidence"] >= 0.75, intent


if __name__ == "__main__":
    asyncio.run(check(Path(sys.argv[1]), Path(sys.argv[2])))
    print("ok")
