"""Sentence by sentence: the run-time half of reading a longer message (Rasa side).

At run time (not in training), a customer message of more than one sentence
(:func:`bot.nlu.handoff.clause_spans`) is also classified sentence by sentence,
so that a request for a person at the end of a long story is not drowned by the
story (``bot.nlu.handoff``, "one sentence of a longer message"):

* the sentences are found once per message (:func:`clause_texts`, kept on the
  message under :data:`CLAUSE_SPANS` for the components after the first);
* the sentence-encoder featurizer adds one vector per sentence
  (:data:`CLAUSE_DENSE`, :func:`clause_vectors`: the consumers' vectors where
  offered, ``bot/nlu/vectors.py``);
* the count featurizer adds one row of counts per sentence
  (:data:`CLAUSE_SPARSE`, ``bot.nlu.counts``);
* the classifier gives each sentence's top intent (:func:`clause_intents`,
  the parse's ``clause_intents``), which ``HandoffPreference`` reads.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from rasa.shared.nlu.constants import INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix, hstack

from bot.nlu.handoff import clause_spans
from bot.nlu.vectors import Offered

#: message attributes (not in the parse): the sentences' ``(start, end)`` in the text; their vectors (one row
#: per sentence); the indices of the sentences with tokens, with a CSR matrix of their count rows
CLAUSE_SPANS = "dmdesk_clause_spans"
CLAUSE_DENSE = "dmdesk_clause_dense"
CLAUSE_SPARSE = "dmdesk_clause_sparse"
#: a sentence's text in the parse's ``clause_intents``, at most
CLAUSE_TEXT_SHOWN = 200


def message_spans(message: Message) -> list[tuple[int, int]]:
    """The sentences of a customer message of more than one, as ``(start, end)`` in its text (``[]`` otherwise,
    and for ``/intent`` payloads); found on the first call, kept on the message for the next components."""
    spans = message.get(CLAUSE_SPANS)
    if spans is None:
        text = message.get(TEXT)
        spans = [] if not isinstance(text, str) or text.startswith("/") else clause_spans(text)
        message.set(CLAUSE_SPANS, spans)
    return list(spans)


def clause_texts(message: Message) -> list[str]:
    """The texts of :func:`message_spans`."""
    text = message.get(TEXT)
    return [text[start:end] for start, end in message_spans(message)]


def clause_vectors(encoder: Any, clauses: list[str], offered: Offered, before_encoding: Any = None) -> np.ndarray:
    """The vectors of a message's sentences (one row each): offered ones as they are, the rest encoded by
    ``encoder`` in one batch (``before_encoding()`` first, if given: the featurizer's idle-release touch)."""
    found: list[Optional[np.ndarray]] = [offered.take(encoder.name, clause, encoder.dim) for clause in clauses]
    missing = [i for i, vector in enumerate(found) if vector is None]
    offered.taken += len(clauses) - len(missing)
    offered.encoded += len(missing)
    if missing:
        if before_encoding is not None:
            before_encoding()
        fresh = encoder.encode([clauses[i] for i in missing])
        for row, i in enumerate(missing):
            found[i] = fresh[row]
    return np.stack([np.asarray(v, dtype=np.float32) for v in found])


def clause_intents(clf: Any, message: Message) -> list[dict[str, Any]]:
    """``[{text, name, confidence}]``: the top intent of each sentence by the fitted scikit-learn classifier
    ``clf``, from sentence features of the kinds the whole message has (as Rasa's logistic regression stacks
    them: sparse first, then dense). ``[]`` for a message of one sentence or without the sentence features
    of a kind it has."""
    clauses = clause_texts(message)
    if not clauses or not hasattr(clf, "classes_"):
        return []
    kept = list(range(len(clauses)))
    parts = []
    if message.get_sparse_features(TEXT)[1] is not None:
        found = message.get(CLAUSE_SPARSE)
        if found is None:
            return []
        kept, matrix = found
        parts.append(matrix)
    if message.get_dense_features(TEXT)[1] is not None:
        vectors = message.get(CLAUSE_DENSE)
        if vectors is None or len(vectors) != len(clauses):
            return []
        parts.append(csr_matrix(np.asarray(vectors)[kept]))
    if not parts or not kept:
        return []
    probas = clf.predict_proba(hstack(parts, format="csr"))
    out = []
    for i, row in zip(kept, probas, strict=True):
        best = int(np.argmax(row))
        out.append(
            {
                "text": clauses[i][:CLAUSE_TEXT_SHOWN],
                INTENT_NAME_KEY: str(clf.classes_[best]),
                PREDICTED_CONFIDENCE_KEY: float(row[best]),
            }
        )
    return out
