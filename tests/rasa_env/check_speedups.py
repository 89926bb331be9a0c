"""Checks of connectors/rasa_speedups.py that need Rasa (Python 3.10): run by tests/unit/test_rasa_speedups.py.

    .venv-rasa/bin/python -m tests.rasa_env.check_speedups MODEL QUERIES...

1. The trained model parses every query (eval files) to the same intents,
   rankings (exact floats) and entities with the patches as without.
2. The patched ``_create_X`` builds the same matrix as Rasa's (data, indices,
   row pointers, shape, dtypes, format) for each of those messages, and the
   patched ``predict_proba`` gives the same probabilities as scikit-learn's.
3. The action-response validation accepts what jsonschema accepts and raises
   the same error for what it rejects.

Prints ``ok`` and exits 0, or raises AssertionError.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.nlu.handoff import clause_spans


def _parse_all(agent: Any, texts: list[str]) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        out = []
        for text in texts:
            parsed = await agent.parse_message(text)
            out.append({k: parsed.get(k) for k in ("intent", "intent_ranking", "entities")})
        return out

    return asyncio.run(go())


def check_parse(model: str, texts: list[str]) -> None:
    """Same parse results without and with the patches; same classifier matrix per message."""
    from rasa.core.agent import Agent
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    from connectors import rasa_speedups

    agent = Agent.load(model)
    before = _parse_all(agent, texts)
    seen: list[int] = []

    def compare_x(self: Any, messages: list[Any]) -> Any:
        ours, theirs = rasa_speedups.create_x(self, messages), rasa_speedups._ORIGINAL_CREATE_X(self, messages)
        for name in ("data", "indices", "indptr"):
            assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype and ours.format == theirs.format
        assert ours.indices.dtype == theirs.indices.dtype and ours.indptr.dtype == theirs.indptr.dtype
        assert ours.has_sorted_indices == theirs.has_sorted_indices
        seen.append(len(messages))
        return ours

    rasa_speedups.install()
    after = _parse_all(agent, texts)
    assert before == after, [t for t, b, a in zip(texts, before, after, strict=True) if b != a][:5]
    LogisticRegressionClassifier._create_X = compare_x
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    assert LogisticRegression.predict_proba is rasa_speedups.predict_proba
    probas: list[int] = []

    def compare_proba(self: Any, X: Any) -> Any:
        ours, theirs = rasa_speedups.predict_proba(self, X), rasa_speedups._ORIGINAL_PREDICT_PROBA(self, X)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
        # what takes the fast path: a multinomial model (lbfgs, 12 intents) and a CSR float input
        assert isinstance(X, csr_matrix) and X.dtype == np.float64 and self.classes_.size > 2
        assert self.multi_class == "auto" and self.solver == "lbfgs"
        probas.append(X.shape[0])
        return ours

    LogisticRegression.predict_proba = compare_proba
    _parse_all(agent, texts)
    # one matrix per message; one more prediction per message of several sentences (their own matrix)
    longer = sum(1 for text in texts if clause_spans(text))
    assert len(seen) == len(texts) and len(probas) == len(texts) + longer, (len(seen), len(probas), longer)


def check_validation() -> None:
    """The per-event validation agrees with jsonschema on valid and invalid responses."""
    from jsonschema import ValidationError, validate
    from rasa.core.actions.action import RemoteAction

    from connectors import rasa_speedups

    spec = RemoteAction.action_response_format_spec()
    good = {
        "events": [
            {"event": "slot", "timestamp": None, "name": "faq_tried", "value": [{"text": "x", "score": 1.5}]},
            {"event": "pause", "timestamp": None},
            {"event": "action", "name": "action_listen", "policy": None, "confidence": None},
            {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
        ],
        "responses": [{"text": "hello", "buttons": [], "custom": {"dmdesk": {"kind": "faq"}}}],
    }
    assert rasa_speedups._surely_valid(good)
    assert rasa_speedups.validate_action_result(None, good) is True
    bad_cases: list[Any] = [
        {"events": [{"event": "slot", "value": 1}]},  # SlotSet without a name
        {"events": [{"event": "no_such_event"}]},
        {"events": [{"timestamp": 1.0}]},
        {"events": [{"event": 3}]},
        {"events": ["slot"]},
        {"events": {"event": "slot"}},
        {"events": [{"event": "user", "text": 5}]},
        {"events": [{"event": "slot", "name": "a", "value": 1, "timestamp": "now"}]},
        {"responses": ["text"]},
        [],
    ]
    for bad in bad_cases:
        assert not rasa_speedups._surely_valid(bad), bad
        try:
            validate(copy.deepcopy(bad), spec)
        except ValidationError as exc:
            expected = exc.message
        else:
            raise AssertionError(f"jsonschema accepted {bad}")
        try:
            rasa_speedups.validate_action_result(None, copy.deepcopy(bad))
        except ValidationError as exc:
            assert exc.message.startswith(expected + ". Failed to validate"), (exc.message, expected)
        else:
            raise AssertionError(f"accepted {bad}")


def main(argv: list[str]) -> int:
    """Run the checks on ``MODEL`` with the texts of the query files."""
    model, files = argv[0], argv[1:]
    texts = [q["text"] for f in files for q in yaml.safe_load(Path(f).read_text(encoding="utf-8"))["queries"]]
    check_validation()
    check_parse(model, texts)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
