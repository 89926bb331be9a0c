"""Cross-validation of the verifier's training settings on a labelled dev file.

``make train`` fits the verifier on simulation plus every dev query, so
dev figures measured afterwards are in-sample. This replays the first-turn
FAQ decision (:func:`bot.faq.kb.decide`) on each of ``k`` folds of the dev
queries with a verifier fitted on simulation plus the other folds, for a
grid of calibration weights and regularisation strengths, and reports per
language the share of FAQ questions answered with the right entry and of
no-FAQ messages answered with one. NLU routing is not replayed: every
non-handoff query is searched as an FAQ question (``bot.calibration``
replays routing, with a running Rasa).

    python -m bot.faq.crossval eval/dev.yml [--weights 3 6 10] [--c 0.3 1 3] [--cache .cache/crossval.pkl]

The searches (simulation and dev queries) take most of the time; ``--cache``
keeps their ranked candidates in a local pickle keyed by the FAQ file, the
query file and the retrieval code, so trying verifier features or settings
again takes seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pickle
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bot.faq.index import Candidate
from bot.faq.kb import DecisionKind, Thresholds, decide
from bot.faq.verifier import Verifier, features, fit

#: sources whose change invalidates cached searches
_RETRIEVAL_CODE = ("index.py", "lexical.py", "normalize.py", "terms.py", "verifier.py", "models.py")


def outcome(candidates: Sequence[Candidate], verifier: Verifier, t: Thresholds, strict: bool = False) -> str:
    """What the bot replies to an FAQ-routed first message: an entry id, ``clarify:…`` or ``none``."""
    d = decide(candidates, verifier.probability(candidates), t, strict=strict)
    if d.kind is DecisionKind.ANSWER and d.best is not None:
        return d.best.entry_id
    if d.kind is DecisionKind.CLARIFY:
        return "clarify:" + ",".join(c.entry_id for c in d.candidates)
    return "none"


def rates(queries: Sequence[dict[str, str]], got: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per language: FAQ answered right (``faq``) and no-FAQ message answered with an entry (``none_answered``)."""
    per: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for q, g in zip(queries, got, strict=True):
        if q["expect"] == "none":
            per[q["lang"]]["none_answered"].append(g != "none" and not g.startswith("clarify:"))
        elif q["expect"] != "handoff":
            per[q["lang"]]["faq"].append(g == q["expect"])
    return {
        lang: {k: round(sum(v) / len(v), 3) for k, v in sorted(kinds.items())} for lang, kinds in sorted(per.items())
    }


def cache_key(*files: Path) -> str:
    """Digest of the given files and the retrieval code (a cached search is valid while it is unchanged)."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in (*files, *(here / name for name in _RETRIEVAL_CODE)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cross_validate(
    simulated: tuple[list[list[float]], list[int]],
    queries: Sequence[dict[str, str]],
    ranked: Sequence[Sequence[Candidate]],
    t: Thresholds,
    calibration_weight: float,
    c: float,
    folds: int = 4,
) -> dict[str, dict[str, float]]:
    """Out-of-fold first-turn outcomes for one setting, as :func:`rates`."""
    rows = [features(r) for r in ranked]
    labels = [int(r[0].entry_id == q["expect"]) for q, r in zip(queries, ranked, strict=True)]
    got = [""] * len(queries)
    for f in range(folds):
        train = [i for i in range(len(queries)) if i % folds != f]
        verifier = fit(simulated, ([rows[i] for i in train], [labels[i] for i in train]), calibration_weight, c)
        for i in range(f, len(queries), folds):
            got[i] = outcome(ranked[i], verifier, t)
    return rates(queries, got)


def main(argv: list[str]) -> int:
    """CLI: print one JSON line per setting (worst-language FAQ rate first)."""
    from bot.evaluation import load_queries
    from bot.faq import store
    from bot.faq.index import FaqIndex
    from bot.faq.verifier import _MemoryCache, simulate_candidates
    from bot.runtime import index_config, thresholds
    from bot.settings import CoreSettings

    parser = argparse.ArgumentParser(prog="python -m bot.faq.crossval")
    parser.add_argument("queries", type=Path)
    parser.add_argument("--faq", type=Path, default=Path("data/faq.yml"))
    parser.add_argument("--weights", type=float, nargs="+", default=[1.0, 3.0, 6.0, 10.0])
    parser.add_argument("--c", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--cache", type=Path, help="pickle of the searches, reused while inputs and code are unchanged")
    args = parser.parse_args(argv)
    settings = CoreSettings()
    queries = load_queries(args.queries)  # handoff rows train as negatives, are not scored
    key = cache_key(args.faq, args.queries) + ":" + json.dumps(settings.encoders) + str(settings.lexical_weight)
    searches = None
    if args.cache and args.cache.exists():
        with args.cache.open("rb") as fh:
            stored = pickle.load(fh)  # a local file this command wrote
        searches = stored["searches"] if stored.get("key") == key else None
    if searches is None:
        encoders, weights = index_config(settings)
        book = store.load(args.faq)
        cache = _MemoryCache()
        found, sim_labels = simulate_candidates(book, encoders, weights, cache)
        index = FaqIndex(encoders, weights, cache)
        index.build(book.entries)
        searches = (found, sim_labels, [index.search(q["text"], 5) for q in queries])
        if args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            with args.cache.open("wb") as fh:
                pickle.dump({"key": key, "searches": searches}, fh)
    found, sim_labels, ranked = searches
    simulated = ([features(f) for f in found], sim_labels)
    for w, c in itertools.product(args.weights, args.c):
        result = cross_validate(simulated, queries, ranked, thresholds(settings), w, c, args.folds)
        worst = min(v.get("faq", 0.0) for v in result.values())
        print(json.dumps({"calibration_weight": w, "c": c, "faq_min": worst, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
