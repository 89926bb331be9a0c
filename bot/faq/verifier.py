"""Is the top FAQ candidate really the answer? A small calibrated verifier.

Retrieval scores alone do not separate "a question this FAQ answers" from
"a shop question it does not cover" ("do you sell tea?"): both land close
to some entry. The verifier is a logistic regression over features of the
ranked candidates (retrieval scores and term coverage, :mod:`bot.faq.terms`),
trained on two sources:

* simulation on the brand's own FAQ: each sampled alternative queried
  against the FAQ without that alternative (label 1 if the right entry comes
  first), and each sampled phrasing of an entry queried against the FAQ
  without that whole entry (label 0);
* optionally, a labelled calibration file of real-style DMs in the
  evaluation format (``queries: [{text, lang, expect}]``; label 1 when the
  top entry is the expected one, 0 otherwise, so ``none`` and ``handoff``
  rows are negatives: no entry is the right reply to them), weighted
  :data:`CALIBRATION_WEIGHT` times a simulated row (``handoff`` rows
  :data:`HANDOFF_WEIGHT` times: most of them are handed off before any FAQ
  search, so the verifier never judges them). Simulated queries are
  cleaner than real DMs; a few hundred real ones teach the verifier what
  chatty, misspelt, context-laden messages score like. The weight and
  :data:`REGULARISATION_C` were chosen by 4-fold cross-validation on
  eval/dev.yml (README, "Evaluation").

    python -m bot.faq.verifier [FAQ_FILE] [OUT_JSON] [--calibration QUERIES]   (make does it)
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.faq.index import Candidate, FaqIndex, IndexWeights, VectorCache
from bot.faq.models import FaqBook

SAMPLES_PER_ENTRY = 8
CALIBRATION_WEIGHT = 6.0
#: the weight of a calibration row that expects a handoff. A request for a person that tells its story ("my
#: order KPK-… never came, can someone check?") has the right FAQ entry on top, labelled 0; at full weight the
#: 140 of the tenth dev round taught the verifier to doubt right answers (English FAQ out of fold .942 -> .918).
#: Chosen by cross-validation on eval/dev.yml (README, "Tenth round").
HANDOFF_WEIGHT = 2.0
REGULARISATION_C = 1.0
EVIDENCE = ("uncovered", "unknown", "unknown_terms")


def features(candidates: Sequence[Candidate]) -> list[float]:
    """Features of the top candidate.

    Combined z, its lead, the primary cosine, lexical, cosine lead, then the
    term evidence: share of query terms the entry does not use, share the
    whole FAQ does not use, how many such unknown terms, and the uncovered
    share times log(1 + the number of query terms). The last lets the weight
    of uncovered words depend on the message's length: in a long, chatty DM
    many words are greetings and context no entry uses, in a three-word
    question an uncovered word is most of it. Chosen by 4-fold
    cross-validation on eval/dev.yml (README, "Third round").
    """
    top = candidates[0]
    second = candidates[1] if len(candidates) > 1 else Candidate("", top.score - 1.0, "", {})
    dense = [k for k in top.components if k != "lexical"]  # dense encoders, primary first (index order)
    cos1 = top.components.get(dense[0], 0.0) if dense else 0.0
    cos2 = second.components.get(dense[0], cos1 - 0.1) if dense else 0.0
    scores = [top.score, top.score - second.score, cos1, top.components.get("lexical", 0.0), cos1 - cos2]
    evidence = [float(top.evidence.get(name, 0.0)) for name in EVIDENCE]
    by_length = evidence[0] * math.log1p(float(top.evidence.get("query_terms", 0.0)))
    return [*scores, *evidence, by_length]


@dataclass(frozen=True)
class Verifier:
    """Logistic-regression weights over :func:`features`."""

    coef: tuple[float, ...]
    intercept: float

    def probability(self, candidates: Sequence[Candidate]) -> float:
        """Probability that the top candidate answers the query."""
        if not candidates:
            return 0.0
        z = self.intercept + sum(w * x for w, x in zip(self.coef, features(candidates), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @classmethod
    def load(cls, path: Path) -> Verifier:
        """Read weights written by :meth:`save`."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(float(x) for x in data["coef"]), float(data["intercept"]))

    def save(self, path: Path, **info: object) -> None:
        """Write the weights (and how they were made) as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"coef": list(self.coef), "intercept": self.intercept, **info}, indent=2))


class _MemoryCache:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def get_many(self, encoder: str, digests: Sequence[str]) -> list[bytes | None]:
        return [self._data.get(f"{encoder}:{d}") for d in digests]

    def set_many(self, encoder: str, items: dict[str, bytes]) -> None:
        self._data.update({f"{encoder}:{d}": v for d, v in items.items()})


def simulate_candidates(
    book: FaqBook, encoders: Sequence, weights: IndexWeights, cache: VectorCache | None = None, seed: int = 0
) -> tuple[list[list[Candidate]], list[int]]:
    """Ranked candidates and labels of leave-one-out searches over ``book`` (see :func:`simulate`)."""
    rng = random.Random(seed)
    entries = [e for e in book.entries if e.enabled]
    # One index, edited in place for each left-out entry or alternative and restored after it: an
    # update scores exactly like a build over the same entries (bot.faq.index) and costs the edited
    # entry's rows, where a build per search re-analysed every text (most of `make train`'s time).
    index = FaqIndex(encoders, weights, cache or _MemoryCache())
    index.build(entries)
    found: list[list[Candidate]] = []
    labels: list[int] = []
    for entry in entries:
        index.update([], removals=[entry.id])
        for text in rng.sample(entry.texts(), min(SAMPLES_PER_ENTRY, len(entry.texts()))):
            found.append(index.search(text, 5))
            labels.append(0)
        index.update([entry])
    for entry in entries:
        for text in rng.sample(entry.alternatives, min(SAMPLES_PER_ENTRY, len(entry.alternatives))):
            index.update([entry.model_copy(update={"alternatives": [a for a in entry.alternatives if a != text]})])
            ranked = index.search(text, 5)
            found.append(ranked)
            labels.append(int(ranked[0].entry_id == entry.id))
        index.update([entry])
    return found, labels


def simulate(
    book: FaqBook, encoders: Sequence, weights: IndexWeights, cache: VectorCache | None = None, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """Labelled feature rows from leave-one-out searches over ``book``."""
    found, labels = simulate_candidates(book, encoders, weights, cache, seed)
    return [features(f) for f in found], labels


def calibration_rows(
    book: FaqBook, queries: Sequence[dict[str, str]], encoders: Sequence, weights: IndexWeights, cache: VectorCache
) -> tuple[list[list[float]], list[int], list[float]]:
    """Labelled feature rows from real-style queries searched against the whole ``book``, with their weights
    (:func:`row_weight`)."""
    index = FaqIndex(encoders, weights, cache)
    index.build(book.entries)
    rows: list[list[float]] = []
    labels: list[int] = []
    row_weights: list[float] = []
    for q in queries:
        found = index.search(q["text"], 5)
        if found:
            rows.append(features(found))
            labels.append(int(found[0].entry_id == q["expect"]))
            row_weights.append(row_weight(q))
    return rows, labels, row_weights


def row_weight(query: dict[str, str], calibration_weight: float = CALIBRATION_WEIGHT) -> float:
    """How many simulated rows a calibration query counts for: :data:`HANDOFF_WEIGHT` if it expects a handoff."""
    return HANDOFF_WEIGHT if query["expect"] == "handoff" else calibration_weight


def fit(
    simulated: tuple[list[list[float]], list[int]],
    calibration: tuple[list[list[float]], list[int]] = ([], []),
    calibration_weight: float | Sequence[float] = CALIBRATION_WEIGHT,
    c: float = REGULARISATION_C,
) -> Verifier:
    """Logistic regression over simulated rows plus weighted calibration rows (one weight for all, or one each)."""
    from sklearn.linear_model import LogisticRegression

    rows = simulated[0] + calibration[0]
    labels = simulated[1] + calibration[1]
    if isinstance(calibration_weight, float | int):
        each = [float(calibration_weight)] * len(calibration[0])
    else:
        each = [float(w) for w in calibration_weight]
    if len(each) != len(calibration[0]):
        raise ValueError("one weight per calibration row")
    weight = [1.0] * len(simulated[0]) + each
    model = LogisticRegression(C=c, max_iter=5000).fit(rows, labels, sample_weight=weight)
    return Verifier(tuple(float(x) for x in model.coef_[0]), float(model.intercept_[0]))


def train(
    book: FaqBook,
    encoders: Sequence,
    weights: IndexWeights,
    cache: VectorCache | None = None,
    calibration: Sequence[dict[str, str]] = (),
) -> Verifier:
    """Fit the verifier on simulated queries over ``book`` plus the ``calibration`` queries."""
    store = cache or _MemoryCache()
    simulated = simulate(book, encoders, weights, store)
    rows, labels, row_weights = calibration_rows(book, calibration, encoders, weights, store)
    return fit(simulated, (rows, labels), row_weights)


def main(argv: list[str]) -> int:
    """CLI: train on a FAQ file (and a calibration query file), write JSON."""
    import argparse

    from bot.evaluation import load_queries
    from bot.faq import store
    from bot.runtime import index_config
    from bot.settings import CoreSettings

    parser = argparse.ArgumentParser(prog="python -m bot.faq.verifier")
    parser.add_argument("faq", nargs="?", type=Path, default=Path("data/faq.yml"))
    parser.add_argument("out", nargs="?", type=Path, default=Path(".build/verifier.json"))
    parser.add_argument("--calibration", type=Path, help="labelled real-style queries (evaluation format)")
    args = parser.parse_args(argv)
    settings = CoreSettings()
    encoders, weights = index_config(settings)
    queries = load_queries(args.calibration) if args.calibration else []
    verifier = train(store.load(args.faq), encoders, weights, calibration=queries)
    verifier.save(
        args.out,
        encoders=settings.encoders,
        lexical_weight=settings.lexical_weight,
        faq=args.faq.name,
        calibration=args.calibration.name if args.calibration else None,
        calibration_queries=len(queries),
        calibration_weight=CALIBRATION_WEIGHT,
        handoff_weight=HANDOFF_WEIGHT,
        c=REGULARISATION_C,
    )
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
